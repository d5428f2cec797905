"""Storage: aiosqlite, versioned migrations, one repository module per aggregate.

SQL lives here and nowhere else.
"""
