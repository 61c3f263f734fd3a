"""Security headers on every kind of answer: pages (signed in and not), the API, errors, static files; HSTS only
when BASE_URL is https; and no template carries what the Content-Security-Policy would block (inline scripts,
on*= or hx-on attributes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.lib.headers import CSP
from tests.conftest import ShopFixture, browser_login

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"


def assert_secured(resp: Any, *, csp: bool = True) -> None:
    h = resp.headers
    assert h["x-content-type-options"] == "nosniff", resp.request.url
    assert h["referrer-policy"] in ("strict-origin-when-cross-origin", "no-referrer", "same-origin")
    assert h["x-frame-options"] == "DENY"
    if csp:
        policy = {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in h["content-security-policy"]
                  .split("; ")}
        assert policy["script-src"] == "'self'", policy  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "strict-transport-security" not in h  # BASE_URL of the tests is http


async def test_pages_api_errors_and_static_files_carry_the_headers(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}"
    assert_secured(await fx_client.get(f"{base}/login"))
    assert_secured(await fx_client.get(f"{base}/api/v1/me", headers=fx_shop.auth))
    assert_secured(await fx_client.get("/no/such/page"))
    assert_secured(await fx_client.get("/static/js/behaviours.js"))
    assert_secured(await fx_client.get(f"{base}/api/v1/me"))  # 401
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    for page in ("/console/", "/contacts/", "/settings/plan", "/settings/api-keys"):
        resp = await fx_client.get(base + page)
        assert resp.status_code == 200, page
        assert_secured(resp)
    assert (await fx_client.get(f"{base}/widget.js")).headers["content-security-policy"] == CSP


async def test_hsts_only_when_base_url_is_https(fx_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import get_settings

    assert "strict-transport-security" not in (await fx_client.get("/health")).headers
    monkeypatch.setenv("BASE_URL", "https://crm.example.com")
    get_settings.cache_clear()
    try:
        resp = await fx_client.get("/health")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert resp.headers["strict-transport-security"].startswith("max-age=31536000")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER_ATTR = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.I)


def test_no_template_needs_inline_script() -> None:
    """What the CSP blocks in a browser: an inline <script> (JSON data blocks are data, not script), an on*=
    handler, an hx-on attribute (htmx evaluates it with Function(), which needs 'unsafe-eval')."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0).strip()}" for m in HANDLER_ATTR.finditer(text)]
    assert found == []
