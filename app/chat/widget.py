"""The visitor's side of web chat: `/t/{slug}/widget.js` and the public API it calls from the shop's own site.

No cookies: the widget keeps its token in the shop site's localStorage and sends it as `X-Chat-Token`. Cross-origin
rules are the tenant's own: a request whose Origin is not in the shop's chat settings is refused (403, and a
preflight gets no CORS headers, so the browser blocks the call); a request without Origin (not from a browser
page) is served on its token alone. Every call is rate-limited per client address, sessions per address, messages
per chat.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.params import FromPath, JSONBody
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.chat import services
from app.chat.schemas import (
    IdentifiedOut,
    MarkIn,
    MessageIn,
    MessageOut,
    SessionIn,
    SessionOut,
    StringsOut,
    TranscriptOut,
    VisitorIn,
    WidgetConfigOut,
)
from app.contacts import services as contacts
from app.contacts.services import to_struct
from app.lib import i18n, reqctx
from app.lib.errors import NotFound
from app.lib.i18n import N_
from app.lib.ratelimit import Limiter
from app.lib.templates import STATIC_DIR
from app.security import rejections
from app.settings import get_settings

TOKEN_HEADER = "x-chat-token"  # noqa: S105 (a header name, not a secret)
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "content-type, x-chat-token"
PREFLIGHT_MAX_AGE = "600"
REFUSED = N_("This site is not allowed to use this shop's chat. The shop adds its site's origin in its chat settings.")


@functools.cache
def limits() -> dict[str, Limiter]:
    sec = get_settings().security
    return {"requests": Limiter(sec.chat_requests_per_minute, 60.0, N_("Too many chat requests; wait a minute."),
                                name="chat-requests"),
            "sessions": Limiter(sec.chat_sessions_per_minute, 60.0, N_("Too many new chats from here; wait a minute."),
                                name="chat-sessions"),
            "messages": Limiter(sec.chat_messages_per_minute, 60.0,
                                N_("You are sending messages too fast; wait a moment."), name="chat-messages")}


def _slug(scope: Scope) -> str:
    tenant = scope.get("state", {}).get("tenant")
    return tenant.slug if tenant else ""


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
            (b"access-control-allow-methods", CORS_METHODS.encode()),
            (b"access-control-allow-headers", CORS_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]


class WidgetCors:
    """The visitor API's own CORS: the tenant's allowed origins, checked inside the request's unit of work."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A visitor reads the shop's chat in their browser's language first (staff pages put the workspace first);
        # once the chat is linked to a contact who has a language, in the contact's.
        i18n.switch(i18n.negotiate(reqctx.scope_header(scope, b"accept-language")))
        token = reqctx.scope_header(scope, TOKEN_HEADER.encode())
        if token:
            try:
                session = await services.resolve(token)
            except NotFound:
                pass  # the handler answers the 404 in the visitor's language
            else:
                scope.setdefault("state", {})[SESSION_STATE] = (token, session)  # the handler's `visitor()`
                i18n.switch(await contacts.own_language_of(session["contact_id"]))
        origin = reqctx.scope_header(scope, b"origin")
        if origin and not await services.origin_allowed(origin):
            await rejections.record(rejections.FOREIGN_ORIGIN, source=reqctx.client_ip.get(),
                                    path=str(scope.get("path", "")), detail=f"Origin {origin[:200]}")
            body = {"detail": i18n.gettext(REFUSED), "status_code": 403}
            await _respond(send, 403, msgspec.json.encode(body), [(b"content-type", b"application/json")])
            return
        await limits()["requests"].check(_slug(scope), reqctx.client_ip.get())
        if scope.get("method") == "OPTIONS":
            await _respond(send, 204, b"", cors_headers(origin) if origin else [])
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin:
                message["headers"] = [*message.get("headers", []), *cors_headers(origin)]
            await send(message)

        await self.app(scope, receive, with_cors)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    start: Any = {"type": "http.response.start", "status": status,
                  "headers": [*headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


SESSION_STATE = "chat_session"
"""Where WidgetCors leaves the session it resolved from the token (one lookup per request, not two)."""


async def visitor(request: Request[Any, Any, Any]) -> dict[str, Any]:
    token = request.headers.get(TOKEN_HEADER)
    resolved = request.scope.get("state", {}).get(SESSION_STATE)
    if resolved is not None and resolved[0] == token:
        return dict(resolved[1])
    return await services.resolve(token)


def _messages(rows: list[dict[str, Any]]) -> list[MessageOut]:
    return [to_struct(MessageOut, r) for r in rows]


class WidgetApi(Controller):
    """Public: authorised by the chat token alone. Used by widget.js on the shop's site."""

    path = "/chat"
    tags = ["web chat (visitor)"]
    middleware = [WidgetCors]
    opt = {"csrf_exempt": True}  # no cookies are involved: the token travels in a header the page has to set

    @route(["/config", "/sessions", "/messages", "/typing", "/read", "/contact", "/strings"],
           http_method=[HttpMethod.OPTIONS],
           include_in_schema=False)
    async def preflight(self) -> None:  # answered by WidgetCors; here so the route exists
        return None

    @get("/config", summary="What the widget shows before a chat starts (no token needed)")
    async def config(self) -> WidgetConfigOut:
        return WidgetConfigOut(greeting=(await services.cached_settings())["greeting"])

    @get("/strings", summary="The widget's strings in the language it should speak: the linked contact's, if they have "
                              "one, else the browser's, else the shop's")
    async def strings(self) -> StringsOut:
        language = i18n.current().language
        return StringsOut(language=language, messages=i18n.js_messages(language))

    @post("/sessions", summary="Start a web chat; returns the visitor's token (keep it, send it as X-Chat-Token)")
    async def start(self, request: Request[Any, Any, Any], slug: FromPath[str],
                    data: JSONBody[SessionIn]) -> SessionOut:
        await limits()["sessions"].check(slug, reqctx.client_ip.get())
        row = await services.start_session(origin=request.headers.get("origin", ""), page_url=data.page_url,
                                           name=data.name, email=data.email, phone=data.phone)
        return SessionOut(**row)

    @get("/messages", summary="The chat's messages, oldest first (operator messages count as delivered)")
    async def transcript(self, request: Request[Any, Any, Any]) -> TranscriptOut:
        session = await visitor(request)
        rows = await services.messages(session["id"])
        newest_out = max((m["id"] for m in rows if m["direction"] == "out" and m["status"] == "sent"), default=0)
        if newest_out:
            await services.mark(session["id"], direction="out", upto=newest_out, status="delivered")
            rows = await services.messages(session["id"])
        return TranscriptOut(session_id=session["id"], greeting=(await services.get_settings())["greeting"],
                             messages=_messages(rows))

    @post("/messages", summary="Send a message to the shop: it opens a chat in the queue, or joins the open one")
    async def send(self, request: Request[Any, Any, Any], slug: FromPath[str],
                   data: JSONBody[MessageIn]) -> MessageOut:
        session = await visitor(request)
        await limits()["messages"].check(slug, str(session["id"]))
        return to_struct(MessageOut, await services.visitor_message(session["id"], data.body))

    @post("/typing", status_code=204, summary="The visitor is typing (shown to the operator for a few seconds)")
    async def typing(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> None:
        session = await visitor(request)
        await services.typing(session["id"], "visitor", tenant_slug=slug)

    @post("/read", status_code=204, summary="The visitor has seen the shop's messages up to `upto`")
    async def read(self, request: Request[Any, Any, Any], data: JSONBody[MarkIn]) -> None:
        session = await visitor(request)
        await services.mark(session["id"], direction="out", upto=data.upto, status="read")

    @post("/contact", status_code=200, summary="Leave an email or phone: the chat is linked to that contact")
    async def contact(self, request: Request[Any, Any, Any], slug: FromPath[str],
                      data: JSONBody[VisitorIn]) -> IdentifiedOut:
        session = await visitor(request)
        await limits()["messages"].check(slug, str(session["id"]))
        row = await services.identify(session["id"], name=data.name, email=data.email, phone=data.phone)
        language = await contacts.own_language_of(row["contact_id"])
        i18n.switch(language)
        return IdentifiedOut(session_id=row["session_id"], linked=True, language=language)


@functools.cache
def _widget_source(language: str) -> bytes:
    """The widget's script with its strings in `language` in place of the `/*SB_I18N*/null` marker."""
    source = (STATIC_DIR / "js" / "chat-widget.js").read_text(encoding="utf-8")
    return source.replace("/*SB_I18N*/null", i18n.js_runtime(language), 1).encode()


@get("/widget.js", include_in_schema=False, opt={"csrf_exempt": True})
async def widget_js(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The snippet's script: loaded by any page (a script tag needs no CORS); what it may then call is decided
    by the shop's allowed origins. It speaks the visitor's browser language when we have it, else the shop's."""
    language = i18n.pick(i18n.negotiate(request.headers.get("accept-language", "")), i18n.current().language)
    return Response(_widget_source(language), media_type="application/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin",
                             "X-Content-Type-Options": "nosniff", "Vary": "Accept-Language",
                             "Content-Language": language})
