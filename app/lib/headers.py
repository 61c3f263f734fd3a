"""Security headers on every HTTP response (a before_send hook, so error pages, 404s of unknown paths and static
files carry them too):

- Content-Security-Policy: scripts only from our own origin (no inline script, no `on*=`/`hx-on` attributes, no
  eval: the templates' small behaviours live in /static/js/behaviours.js); styles from our origin plus inline ones
  (the widget's shadow root and htmx's indicator style); sockets and fetches to our origin; no plugins; forms post
  only to us; `frame-ancestors 'none'`: no page of ours may be framed (the web chat widget is a script with a
  shadow root on the shop's page, not an iframe, so it needs no exception). The Swagger page at /schema loads
  its UI from a CDN and keeps no CSP of ours;
- X-Frame-Options DENY (browsers without frame-ancestors), X-Content-Type-Options nosniff, Referrer-Policy
  strict-origin-when-cross-origin (the order portal sets its stricter no-referrer itself);
- Strict-Transport-Security when BASE_URL is https.
A header a handler set itself is left as it is.
"""

from __future__ import annotations

from typing import Any

from app.settings import get_settings

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"
_EXEMPT_CSP = ("/schema",)
"""Paths whose pages are not ours to constrain (Litestar's OpenAPI renderers load their scripts from a CDN)."""


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers a response to `path` gets (before those it set itself)."""
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin"),
               (b"x-frame-options", b"DENY")]
    if not path.startswith(_EXEMPT_CSP):
        headers.append((b"content-security-policy", CSP.encode()))
    if get_settings().app.base_url.startswith("https://"):
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


async def add_security_headers(message: Any, scope: Any) -> None:
    """before_send hook: add the security headers the response does not carry already."""
    if message["type"] != "http.response.start" or scope.get("type") != "http":
        return
    headers = message.setdefault("headers", [])
    present = {bytes(key).lower() for key, _ in headers}
    headers.extend((key, value) for key, value in security_headers(scope.get("path", "")) if key not in present)
