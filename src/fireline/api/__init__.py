"""The REST API under /api/v1, documented by the OpenAPI schema at /openapi.json."""
