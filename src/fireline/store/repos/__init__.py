"""Query functions by concept. They take an open session and never commit."""
