"""HTTP: gateway webhooks, the integration API and health, served by uvicorn."""
