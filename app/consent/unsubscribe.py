"""The public one-click unsubscribe link (RFC 8058) under /t/{slug}/unsubscribe/{token}: no login, no CSRF token
(mail providers POST it without cookies), the signed token is the credential.

GET shows a confirm page in the contact's language (a link scanner that follows GETs unsubscribes nobody); POST
with the body `List-Unsubscribe=One-Click` (from the mail provider or the page's button) opts out at once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.consent import services
from app.consent.schemas import UnsubscribeOut
from app.lib import i18n, reqctx
from app.lib.errors import Invalid
from app.lib.ratelimit import Limiter
from app.lib.templates import render_page

Req = Request[Any, Any, Any]
PAGE = "pages/unsubscribe.html"
LIMIT = Limiter(60, 60.0, name="unsubscribe")
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex",
           "X-Frame-Options": "DENY"}
ONE_CLICK = "One-Click"


def _evidence(request: Req, via: str) -> str:
    agent = request.headers.get("user-agent", "")[:200]
    return f"One-click unsubscribe ({via}) from {reqctx.client_ip.get()}, user agent: {agent}"


class UnsubscribeViews(Controller):
    path = "/unsubscribe/{token:str}"
    opt = {"csrf_exempt": True}  # RFC 8058: the POST carries no cookies; the signed token is checked instead
    tags = ["consent"]

    @get("/", include_in_schema=False)
    async def confirm(self, request: Req, slug: FromPath[str], token: FromPath[str]) -> Template:
        await LIMIT.check(slug, reqctx.client_ip.get())
        view = await services.link_view(token)
        i18n.switch(view["language"] or None)
        response = render_page(request, PAGE, {**view, "token": token})
        response.headers.update(HEADERS)
        return response

    @post("/", status_code=200, summary="RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click; no login)")
    async def one_click(self, request: Req, slug: FromPath[str], token: FromPath[str]) -> Template | UnsubscribeOut:
        await LIMIT.check(slug, reqctx.client_ip.get())
        form = await request.form()
        if str(form.get("List-Unsubscribe", "")) != ONE_CLICK:
            raise Invalid("Send the body List-Unsubscribe=One-Click to unsubscribe (RFC 8058).",
                          field="List-Unsubscribe")
        via = "page" if form.get("from_page") else "mail client"
        done = await services.one_click_unsubscribe(token, _evidence(request, via))
        if "application/json" in request.headers.get("accept", ""):
            return UnsubscribeOut(channel=done["channel"], purpose=done["purpose"], unsubscribed=True)
        view = await services.link_view(token)
        i18n.switch(view["language"] or None)
        response = render_page(request, PAGE, {**view, "token": token, "done": True})
        response.headers.update(HEADERS)
        return response
