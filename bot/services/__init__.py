"""Business logic, plain asyncio. Never imports ``telegram`` or ``starlette``."""
