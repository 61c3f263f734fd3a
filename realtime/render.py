"""What a console receives for an event: HTML fragments for htmx out-of-band swaps, one renderer per concern.

A renderer is `async (event, tenant, user) -> str | None`; it runs inside a unit of work of the tenant, so it
reloads what it shows (never trusts the event payload for state) and may return None when the user should see
nothing. Every message ends with the `#sb-last-event` marker, so the browser always knows its replay cursor.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from app.lib import i18n
from app.lib.db import TenantRef, tenant_context
from realtime.events import Event, Position, check_name
from realtime.viewer import Viewer

log = structlog.get_logger(__name__)

Renderer = Callable[[Event, TenantRef, Viewer], Awaitable[str | None]]
_RENDERERS: dict[str, list[Renderer]] = {}


def register_renderer(name: str, fn: Renderer) -> Renderer:
    """Render `fn`'s fragment for every `name` event a console receives (several renderers may share a name)."""
    check_name(name)
    if fn not in _RENDERERS.setdefault(name, []):
        _RENDERERS[name].append(fn)
    return fn


def renders(*names: str) -> Callable[[Renderer], Renderer]:
    """Mark `fn` as the renderer of `names` events: `@renders("queue.item_added", "queue.item_taken")`. The mark
    registers nothing: the domain's manifest lists the renderer and start-up registers it (`register_marked`)."""

    def decorate(fn: Renderer) -> Renderer:
        fn.event_names = names  # type: ignore[attr-defined]
        return fn

    return decorate


def register_marked(fn: Renderer) -> Renderer:
    """Register a renderer marked with `renders` for each of its events (idempotent)."""
    names = getattr(fn, "event_names", None)
    if not names:
        raise ValueError(f"{getattr(fn, '__qualname__', fn)!r} is not marked with @renders(...)")
    for name in names:
        register_renderer(name, fn)
    return fn


def unregister_renderer(name: str, fn: Renderer) -> None:
    if fn in _RENDERERS.get(name, []):
        _RENDERERS[name].remove(fn)


def marker(position: Position, *, event: Event | None = None, refresh: bool = False, ready: bool = False) -> str:
    """The `#sb-last-event` element: the browser's cursor (a position, `"<tx>.<id>"`, which it echoes back
    as `last_id`), plus a refresh order when it missed too much."""
    attrs = [f'data-event-id="{position}"']
    if event is not None:
        attrs.append(f'data-event="{html.escape(event.name)}"')
        attrs.append(f'data-payload="{html.escape(msgspec.json.encode(event.data).decode())}"')
    if refresh:
        attrs.append('data-refresh="true"')
    if ready:
        attrs.append('data-ready="true"')
    return f'<div id="sb-last-event" hx-swap-oob="true" hidden {" ".join(attrs)}></div>'


async def render(event: Event, tenant: TenantRef, user: Viewer) -> str:
    parts: list[str] = []
    renderers = _RENDERERS.get(event.name)
    if renderers:
        # The principal of a socket carries the language and zone chosen when it connected (tenants/routing).
        with i18n.viewing(user.language, user.timezone or None):
            async with tenant_context(tenant):
                for fn in renderers:
                    try:
                        fragment = await fn(event, tenant, user)
                    except Exception:  # one broken panel must not cut the console off from every other event
                        log.exception("realtime_render_failed", renderer=getattr(fn, "__qualname__", str(fn)),
                                      event=event.name)
                        continue
                    if fragment:
                        parts.append(fragment)
    parts.append(marker(event.position, event=event))
    return "".join(parts)
