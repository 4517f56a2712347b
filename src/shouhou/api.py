"""The REST API root (django-ninja): /api/v1/, OpenAPI at /api/v1/openapi.json."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="shouhou 售后 API",
    version="1.0.0",
    urls_namespace="api-v1",
    docs_url="/docs",
)
