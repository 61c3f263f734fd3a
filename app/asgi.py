"""create_app(): the Litestar application and nothing else."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from app import domains
from app.accounts.guards import LoginRequired
from app.lib import csrf, edge, headers, logs, reqctx
from app.lib.error_handlers import EXCEPTION_HANDLERS, http_error_handler
from app.lib.openapi import document_error_responses
from app.lib.templates import STATIC_DIR, environment
from app.lifecycle import lifespan
from app.settings import get_settings
from realtime.sockets import lean_compression
from tenants.routing import TenantMiddleware, tenant_slug_from_path


def _login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    slug = tenant_slug_from_path(request.url.path)
    if slug and "/api/" not in request.url.path and "text/html" in request.headers.get("accept", ""):
        return Redirect(f"/t/{slug}/login?next={request.url.path}", status_code=303)
    return http_error_handler(request, exc)


async def _before_request(request: Request[Any, Any, Any]) -> None:
    """CSRF first (a forged request learns nothing about its input), then the input rules every route shares."""
    await csrf.check(request)
    await edge.check_input(request)


def _throttled(method: str, path: str) -> bool:
    """Throttle only what guesses passwords or creates workspaces; per-account lock-out sits on top of it."""
    return method == "POST" and (path.endswith("/login") or path.endswith("/signup"))


async def _rate_limited(request: Request[Any, Any, Any]) -> bool:
    return _throttled(request.method, request.url.path)


class _AuthThrottle:
    """Litestar's rate limiter, entered only by the requests it may throttle: it builds a Request for every request
    it sees, which the other requests (every API call) need not pay for."""

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        self.app = app
        self.limiter = RateLimitMiddleware(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _throttled(scope["method"], scope["path"]):
            await self.limiter(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _stores(settings: Any) -> dict[str, Any]:
    """Rate-limit counters live in Redis when there is one, so every process shares them."""
    if not settings.redis.url:
        return {}
    return {"rate_limit": RedisStore.with_client(url=settings.redis.url, namespace=f"{settings.redis.prefix}:rl")}


def create_app() -> Litestar:
    """The app: the domains' routes (workspace routes on one router under /t/{slug}), the edge, the tenant."""
    settings = get_settings()
    logs.configure()
    lean_compression()
    app = Litestar(
        route_handlers=[
            Router(path="/t/{slug:str}", route_handlers=domains.tenant_routes()),
            *domains.public_routes(),
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
        ],
        middleware=[
            DefineMiddleware(reqctx.RequestIdMiddleware),
            DefineMiddleware(_AuthThrottle, config=RateLimitConfig(
                rate_limit=("minute", settings.security.auth_rate_per_minute), check_throttle_handler=_rate_limited,
                exclude=["/static"])),
            DefineMiddleware(TenantMiddleware),
        ],
        before_request=_before_request,
        before_send=[reqctx.stamp_request_id, headers.add_security_headers],
        exception_handlers={**EXCEPTION_HANDLERS, LoginRequired: _login_required},
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment())),
        openapi_config=OpenAPIConfig(title="Switchboard API", version="1.0.0", path="/schema",
                                     render_plugins=[SwaggerRenderPlugin()]),
        response_cache_config=ResponseCacheConfig(),
        stores=_stores(settings),
        lifespan=[lifespan],
        debug=False,
    )
    document_error_responses(app)
    return app
