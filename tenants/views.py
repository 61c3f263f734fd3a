"""Platform pages: the landing page and self-service signup."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.cookies import session_cookie
from app.lib import i18n
from app.lib.db import tenant_context
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.templates import render_page
from app.settings import get_settings
from tenants import services


@get("/", include_in_schema=False)
async def landing(request: Request[Any, Any, Any]) -> Template:
    return render_page(request, "pages/landing.html")


@get("/i18n/{script:str}", include_in_schema=False, opt={"csrf_exempt": True})
async def script_catalogue(script: FromPath[str]) -> Response[str]:
    """`window.sbI18n`: the strings of our pages' scripts in one language (base.html loads the viewer's as
    /i18n/<language>.js; Litestar matches whole path segments, so the `.js` is taken off here)."""
    if not script.endswith(".js"):
        raise NotFoundException("Scripts are served as /i18n/<language>.js.")
    language = script.removesuffix(".js")
    language = language if language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    return Response(f"window.sbI18n = {i18n.js_runtime(language)};\n",
                    media_type="application/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"})


@get("/signup", include_in_schema=False)
async def signup_form(request: Request[Any, Any, Any]) -> Template:
    return render_page(request, "pages/signup.html", {"form": {}, "error": None})


@post("/signup", include_in_schema=False)
async def signup_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await fields(request, "shop_name", "slug", "email", "password", "owner_name")
    try:
        result = await services.signup(form["shop_name"], form["slug"], form["email"], form["password"],
                                       form["owner_name"])
    except DomainError as exc:
        return render_page(request, "pages/signup.html", {"form": form, "error": exc.detail, "field": exc.field},
                           status_code=exc.status_code)
    async with tenant_context(result.tenant):
        token, _ = await accounts.create_session(result.user_id)
    settings = get_settings()
    response = Redirect(f"/t/{result.tenant.slug}/onboarding", status_code=303)
    response.cookies.append(session_cookie(result.tenant.slug, token,
                                           max_age=settings.security.session_absolute_hours * 3600,
                                           secure=settings.security.cookie_secure))
    return response
