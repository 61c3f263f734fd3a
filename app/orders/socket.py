"""The portal's live feed `/t/{slug}/portal/{token}/ws`: authorised by the portal token alone (no session), it
listens to exactly one channel, `tenant:{slug}:order:{id}` of the token's own order, and pushes fresh fragments.

Every message is a full re-render of the order's live parts (status, history, messages), so a missed or late
event can never leave the page stale: the socket sends one render on connect and one after each burst of events.

Rendering once per event, not once per socket: all open pages of an order hold the same token (an order has one
live link), so the sockets that wake for the same event share one render (`shared_render`): a render that *started*
after a socket received its event reflects everything committed before that event was published, so it is fresh
for that socket too. 100 pages of one order then cost one reload + one template render per event, not 100.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from app.accounts.services import workspace_zone
from app.lib import i18n, reqctx
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError
from app.lib.templates import render_text
from app.orders import portal
from app.settings import get_settings
from realtime import channels
from realtime.channels import channel_name
from realtime.runtime import ensure_started
from realtime.sockets import finish, next_burst

CLOSE_GONE = 4404
RECHECK_EVERY = 15.0
"""Seconds between re-checks of the token while nothing happens: a revoked link's open pages stop within this."""


async def render(tenant: TenantRef, token: str) -> str | None:
    """The live fragments for the token's order, or None when the token no longer opens it (revoked)."""
    async with tenant_context(tenant):
        try:
            order_id = await portal.resolve(token)
        except DomainError:
            return None
        ctx = await portal.view(order_id)
        zone = await workspace_zone()
    ctx.update(token=token, tenant=tenant, live=True)
    # One render serves every page of the link: the contact's language and zone (none: the browser shows times in
    # its own zone).
    with i18n.viewing(ctx["language"], ctx["time_zone"] or zone):
        return render_text("_partials/portal_live.html", ctx)


SHARED_RENDER = os.environ.get("SB_PORTAL_SHARED_RENDER", "1") != "0"
"""Off (`SB_PORTAL_SHARED_RENDER=0`) only to measure the per-socket rendering it replaced (tests/bench/bench_portal)."""
_renders: dict[tuple[str, str], tuple[int, asyncio.Future[str | None]]] = {}
ARRIVALS = itertools.count()
"""Bursts received by portal sockets of this process, numbered in arrival order (see shared_render)."""


async def shared_render(tenant: TenantRef, token: str, event_id: int) -> str | None:
    """`render(tenant, token)`, shared by the sockets of one link: a render started by a socket for a burst it
    received as arrival number M (`next(ARRIVALS)`, counted in this process) is fresh for every socket whose newest
    burst arrived as N <= M (that burst's events had committed before they were published, so before M arrived
    and before that render began). Event ids cannot serve here: they do not follow commit order. `event_id` -1:
    no event, a periodic token re-check, which may reuse any render of the last second."""
    if not SHARED_RENDER:
        return await render(tenant, token)
    key = (tenant.slug, token)
    entry = _renders.get(key)
    if entry is not None and entry[0] >= event_id and not (
            entry[1].done() and (entry[1].cancelled() or entry[1].exception() is not None)):
        return await asyncio.shield(entry[1])
    future: asyncio.Future[str | None] = asyncio.ensure_future(render(tenant, token))
    _renders[key] = (event_id, future)

    def forget(done: asyncio.Future[str | None]) -> None:
        # A finished render stays a moment for sockets still draining the same event, then goes: the map holds
        # only the links rendered in the last second.
        def drop() -> None:
            if _renders.get(key, (0, None))[1] is done:
                del _renders[key]

        asyncio.get_running_loop().call_later(1.0, drop)

    future.add_done_callback(forget)
    return await asyncio.shield(future)


@websocket("/portal/{token:str}/ws", opt={"csrf_exempt": True}, include_in_schema=False)
async def portal_socket(socket: WebSocket[Any, Any, Any], slug: FromPath[str], token: FromPath[str]) -> None:
    tenant: TenantRef | None = socket.scope.get("state", {}).get("tenant")
    # A browser always sends Origin on a websocket handshake: a missing one is not a page of ours.
    foreign = socket.headers.get("origin") not in get_settings().app.allowed_origins
    if tenant is None or tenant.slug != slug or foreign:
        await socket.close(code=CLOSE_GONE)
        return
    try:
        await portal.PAGE_LIMIT.check(slug, reqctx.client_ip.get())
        async with tenant_context(tenant):
            order_id = await portal.resolve(token)
    except DomainError:
        await socket.close(code=CLOSE_GONE)
        return
    backend = (await ensure_started()).backend
    name = channel_name(tenant, channels.order(order_id))
    topic = channels.order(order_id)
    sub = await backend.subscribe([name])  # before the first render: nothing committed after it can be missed
    await socket.accept()

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await socket.receive_text()  # the portal sends nothing; this only notices the page going away

    receiver = asyncio.create_task(receive())
    try:
        html = await render(tenant, token)
        if html is None:
            await socket.close(code=CLOSE_GONE)
            return
        await socket.send_text(html)
        while (burst := await next_burst(sub, receiver, tenant=tenant.slug, channel=name, topic=topic,
                                         idle=RECHECK_EVERY)) is not None:
            newest = next(ARRIVALS) if burst else -1
            html = await shared_render(tenant, token, newest)  # also re-checks the token: a revoked link goes dark
            if html is None:
                await socket.close(code=CLOSE_GONE)
                return
            if burst:
                await socket.send_text(html)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        await finish(socket, receiver, sub)
