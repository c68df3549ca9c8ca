from ninja import NinjaAPI

api = NinjaAPI(
    title="klantreis API",
    version="1",
    description="Repair requests as JSON. Authenticate with `Authorization: Bearer <token>`.",
    urls_namespace="api",
)
