"""create_app(): the Litestar application and nothing else."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.response_cache import ResponseCacheConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from app import events_catalogue  # noqa: F401  (every domain declares its events first)
from app.accounts.api import AccountsApi
from app.accounts.guards import LoginRequired
from app.accounts.views import AuthViews, WorkspaceViews
from app.chat import live as _chat_live  # noqa: F401  (live renderers register on import)
from app.chat.api import ChatApi
from app.chat.socket import chat_socket
from app.chat.views import ChatConsoleViews, ChatSettingsViews
from app.chat.widget import WidgetApi, widget_js
from app.contacts import live as _card_live  # noqa: F401
from app.contacts.api import ContactsApi
from app.contacts.files_api import ContactFilesApi
from app.contacts.files_views import ContactFileViews
from app.contacts.imports_api import ContactExportApi, ImportsApi
from app.contacts.imports_views import ImportViews
from app.contacts.merge_api import ContactMergeApi
from app.contacts.merge_views import ContactMergeViews
from app.contacts.views import ContactViews, CustomFieldViews
from app.conversations import live as _console_live  # noqa: F401
from app.conversations.api import ConversationsApi
from app.conversations.settings_views import QueueSettingsViews
from app.conversations.views import ConsoleViews
from app.deals.api import DealsApi
from app.deals.views import DealViews
from app.events_api import EventsApi, ListenerViews
from app.lib import csrf, edge, logs, reqctx
from app.lib.error_handlers import EXCEPTION_HANDLERS, http_error_handler
from app.lib.openapi import document_error_responses
from app.lib.templates import STATIC_DIR, environment
from app.lifecycle import lifespan
from app.messaging import live as _email_live  # noqa: F401
from app.messaging.api import MessagingApi
from app.messaging.views import ConsoleEmailViews, EmailComposeViews, EmailSettingsViews, EmailTemplateViews
from app.orders import live as _order_live  # noqa: F401
from app.orders.api import OrdersApi
from app.orders.imports_api import OrderImportsApi
from app.orders.imports_views import OrderImportViews
from app.orders.settings_views import OrderSettingsViews
from app.orders.socket import portal_socket
from app.orders.views import OrderViews, PortalViews
from app.settings import get_settings
from realtime.views import console_socket
from telephony.api import TelephonyApi
from telephony.console_views import CallConsoleViews, ContactPhoneViews
from telephony.views import TwilioSettingsViews
from telephony.webhook_api import TwilioWebhooks, hold_music
from tenants.api import health, signup
from tenants.routing import TenantMiddleware, tenant_slug_from_path
from tenants.views import landing, script_catalogue, signup_form, signup_submit


def _login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    slug = tenant_slug_from_path(request.url.path)
    if slug and "/api/" not in request.url.path and "text/html" in request.headers.get("accept", ""):
        return Redirect(f"/t/{slug}/login?next={request.url.path}", status_code=303)
    return http_error_handler(request, exc)


async def _before_request(request: Request[Any, Any, Any]) -> None:
    """CSRF first (a forged request learns nothing about its input), then the input rules every route shares."""
    await csrf.check(request)
    await edge.check_input(request)


def _rate_limited(request: Request[Any, Any, Any]) -> bool:
    """Throttle only what guesses passwords or creates workspaces; per-account lock-out sits on top of it."""
    path = request.url.path
    return request.method == "POST" and (path.endswith("/login") or path.endswith("/signup"))


def _stores(settings: Any) -> dict[str, Any]:
    """Rate-limit counters live in Redis when there is one, so every process shares them."""
    if not settings.redis.url:
        return {}
    return {"rate_limit": RedisStore.with_client(url=settings.redis.url, namespace=f"{settings.redis.prefix}:rl")}


def create_app() -> Litestar:
    settings = get_settings()
    logs.configure()
    app = Litestar(
        route_handlers=[
            landing, signup_form, signup_submit, signup, script_catalogue, health, console_socket,
            AuthViews, WorkspaceViews, AccountsApi, ContactsApi, ContactViews, CustomFieldViews,
            ContactFilesApi, ContactFileViews, ContactMergeApi, ContactMergeViews,
            ImportsApi, ImportViews, ContactExportApi,
            ConversationsApi, ConsoleViews, QueueSettingsViews, OrdersApi, OrderViews, PortalViews, portal_socket,
            ChatApi, ChatConsoleViews, ChatSettingsViews, WidgetApi, widget_js, chat_socket,
            OrderImportsApi, OrderImportViews, OrderSettingsViews,
            DealsApi, DealViews, TelephonyApi, TwilioSettingsViews, CallConsoleViews, TwilioWebhooks, hold_music,
            ContactPhoneViews, EventsApi, ListenerViews,
            MessagingApi, EmailSettingsViews, EmailComposeViews, EmailTemplateViews, ConsoleEmailViews,
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
        ],
        middleware=[
            DefineMiddleware(reqctx.RequestIdMiddleware),
            RateLimitConfig(rate_limit=("minute", settings.security.auth_rate_per_minute),
                            check_throttle_handler=_rate_limited, exclude=["/static"]).middleware,
            DefineMiddleware(TenantMiddleware),
        ],
        before_request=_before_request,
        before_send=[reqctx.stamp_request_id],
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
