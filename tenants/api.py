"""Platform JSON API: self-service signup and health."""

from __future__ import annotations

import msgspec
from litestar import Response, get, post
from litestar.params import JSONBody

from app.lib.health import report
from app.settings import get_settings
from tenants import services
from tenants.schemas import HealthOut, SignupIn, SignupOut


@post("/api/v1/signup", status_code=201, opt={"csrf_exempt": True}, tags=["platform"],
      summary="Create a shop: its workspace, owner account and first API key")
async def signup(data: JSONBody[SignupIn]) -> SignupOut:
    result = await services.signup(data.shop_name, data.slug, data.email, data.password, data.owner_name)
    return SignupOut(slug=result.tenant.slug, api_key=result.api_key,
                     workspace_url=f"{get_settings().app.base_url}/t/{result.tenant.slug}/")


@get("/health", tags=["platform"],
     summary="Each part this process runs (database, Redis, job worker) and the queue depth; 503 when one is down")
async def health() -> Response[HealthOut]:
    body = await report()
    return Response(msgspec.convert(body, HealthOut), status_code=503 if body["failing"] else 200)
