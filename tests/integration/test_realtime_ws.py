"""The console websocket through a real uvicorn server, the same tests on the memory and the Redis backend:
handshake checks, channels per tenant and role, replay after reconnect, refresh, revoked sessions, presence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.accounts.services import create_session, now
from app.accounts.tables import Session, User
from app.lib.db import tenant_context
from realtime import channels, log
from realtime.events import Position
from realtime.publish import publish
from realtime.sockets import WIRE
from tests.conftest import ShopFixture, make_shop, until_final
from tests.servers import ConsoleSocket, Frame, InProcessServer, realtime_runtime

pytestmark = pytest.mark.xdist_group("realtime")

ORIGIN = "http://testserver.local"  # BASE_URL of the test settings


@pytest.fixture(params=["memory", "redis"])
async def fx_server(request: pytest.FixtureRequest, fx_db: str) -> AsyncIterator[InProcessServer]:
    from app.asgi import create_app

    async with realtime_runtime(request.param):
        server = await InProcessServer(create_app()).start()
        try:
            yield server
        finally:
            await server.stop()


async def add_user(shop: ShopFixture, role: str) -> int:
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}-{time.monotonic_ns()}@{shop.slug}.example", name=role.title(),
                                      role=role)).returning(User.id)
    return int(rows[0]["id"])


async def login(shop: ShopFixture, user_id: int | None = None) -> tuple[str, int]:
    async with tenant_context(shop.tenant):
        return await create_session(user_id or shop.user_id)


async def emit(shop: ShopFixture, name: str, data: dict[str, Any], *topics: str) -> Position:
    async with tenant_context(shop.tenant):
        event = await publish(name, data, channels=topics or [channels.queue()])
    return event.position


async def connect(server: InProcessServer, shop: ShopFixture, token: str, **kw: Any) -> tuple[ConsoleSocket, Frame]:
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, token, ORIGIN, **kw)
    replayed, ready = await sock.ready()
    assert [f for f in replayed if f.event not in LIVENESS] == []
    return sock, ready


LIVENESS = ("presence.changed", "agent.state_changed")
"""What connecting and leaving consoles announce (who is online; their agent state follows)."""


def named(frames: list[Frame], name: str = "contact.updated") -> list[Frame]:
    return [f for f in frames if f.event == name]


async def test_handshake_refuses_missing_session_foreign_origin_and_other_tenants(
        fx_server: InProcessServer, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    token, _ = await login(fx_shop)
    cases = [
        (fx_shop.slug, None, ORIGIN),  # no session
        (fx_shop.slug, "not-a-session", ORIGIN),
        (fx_shop.slug, token, "http://evil.example"),  # cross-site websocket hijacking
        (fx_shop.slug, token, None),
        (fx_other_shop.slug, token, ORIGIN),  # A's session at B's door
    ]
    for slug, tok, origin in cases:
        with pytest.raises(InvalidStatus) as exc:
            await ConsoleSocket.open(fx_server.ws_url, slug, tok, origin)
        assert exc.value.response.status_code == 403, (slug, tok, origin)
    sock, ready = await connect(fx_server, fx_shop, token)
    assert ready.ready
    await sock.close()


async def test_events_reach_only_sockets_allowed_to_see_them(fx_server: InProcessServer, fx_shop: ShopFixture,
                                                            fx_other_shop: ShopFixture) -> None:
    owner, _ = await connect(fx_server, fx_shop, (await login(fx_shop))[0])
    operator_id = await add_user(fx_shop, "operator")
    operator, _ = await connect(fx_server, fx_shop, (await login(fx_shop, operator_id))[0])
    other, _ = await connect(fx_server, fx_other_shop, (await login(fx_other_shop))[0])

    await emit(fx_shop, "user.updated", {"user_id": operator_id}, channels.role("admin"))
    await emit(fx_shop, "contact.updated", {"contact_id": 1}, channels.user(fx_shop.user_id))
    last = await emit(fx_shop, "contact.updated", {"contact_id": 2})
    await emit(fx_other_shop, "contact.updated", {"contact_id": 99})

    got_owner = await owner.until(lambda f: f.event_id == last)
    assert [f.event for f in got_owner if f.event not in LIVENESS] == [
        "user.updated", "contact.updated", "contact.updated"]
    assert [f.payload for f in named(got_owner)] == [{"contact_id": 1}, {"contact_id": 2}]
    # Events arrive in id order, so anything meant for the operator would have come before `last`.
    got_operator = await operator.until(lambda f: f.event_id == last)
    assert [f.payload for f in got_operator if f.event not in LIVENESS] == [{"contact_id": 2}]
    got_other = await other.until(lambda f: f.event == "contact.updated")
    assert got_other[-1].payload == {"contact_id": 99}
    assert not [f for f in got_other if f.payload.get("contact_id") in (1, 2)]
    for s in (owner, operator, other):
        await s.close()


async def test_reconnect_replays_missed_events_once_in_order(fx_server: InProcessServer,
                                                            fx_shop: ShopFixture) -> None:
    token, _ = await login(fx_shop)
    sock, ready = await connect(fx_server, fx_shop, token)
    await sock.close()
    missed = [await emit(fx_shop, "contact.updated", {"contact_id": i}) for i in (1, 2, 3)]
    await emit(fx_shop, "contact.updated", {"contact_id": 4}, channels.contact(4))  # not this socket's channel
    await until_final(fx_shop.tenant, missed[-1])  # replay serves final events (a later one comes live)

    sock = await ConsoleSocket.open(fx_server.ws_url, fx_shop.slug, token, ORIGIN, last_id=ready.event_id)
    replayed, ready2 = await sock.ready()
    assert [f.event_id for f in named(replayed)] == missed
    assert [f.payload["contact_id"] for f in named(replayed)] == [1, 2, 3]
    assert ready2.event_id >= missed[-1]
    live = await emit(fx_shop, "contact.updated", {"contact_id": 5})
    frames = await sock.until(lambda f: f.event_id == live)
    assert [f.event_id for f in named(frames)] == [live]  # nothing replayed twice
    await sock.close()

    # The first message can carry the cursor too (what realtime.js sends on htmx:wsOpen).
    sock = await ConsoleSocket.open(fx_server.ws_url, fx_shop.slug, token, ORIGIN, hello=True)
    await sock.send({"last_id": str(missed[1])})
    replayed, _ = await sock.ready()
    assert [f.event_id for f in named(replayed)] == [missed[2], live]
    await sock.close()


async def test_an_event_committed_behind_an_open_older_transaction_reaches_consoles_after_it(
        fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    """Positions are (tx, id): B commits while older A is still open, so A's event sorts first. The socket gets
    both, A then B, once A commits; B alone first would have made A unreachable (behind the socket's cursor)."""
    token, _ = await login(fx_shop)
    sock, _ = await connect(fx_server, fx_shop, token)
    a_written, a_release = asyncio.Event(), asyncio.Event()

    async def writer_a() -> Position:
        async with tenant_context(fx_shop.tenant):
            event = await publish("contact.updated", {"contact_id": 1}, channels=[channels.queue()])
            a_written.set()
            await a_release.wait()
        return event.position

    task = asyncio.create_task(writer_a())
    try:
        await asyncio.wait_for(a_written.wait(), 30)
        b = await asyncio.wait_for(emit(fx_shop, "contact.updated", {"contact_id": 2}), 30)  # does not wait for A
    finally:
        a_release.set()
        a = await asyncio.wait_for(task, 30)
    assert a < b
    frames = await sock.until(lambda f: f.event_id == b, wait=30)
    assert [(f.event_id, f.payload) for f in named(frames)] == [(a, {"contact_id": 1}), (b, {"contact_id": 2})]
    await sock.close()


async def test_stale_or_foreign_cursor_gets_a_refresh(fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    token, _ = await login(fx_shop)
    first = await emit(fx_shop, "contact.updated", {"contact_id": 1})
    for i in range(4):
        await emit(fx_shop, "contact.updated", {"contact_id": i + 2})
    async with tenant_context(fx_shop.tenant):
        await log.trim(keep=2)
        current = await log.current_id()
    # Trimmed past, from the future (another database), and not a position at all (an old page's integer id).
    cursors: list[dict[str, Any]] = [{"last_id": first}, {"last_id": Position(current.tx, current.id + 100)},
                                     {"last_id": Position(current.tx + 100, 0)}, {"hello": True, "query": "last_id=17"},
                                     {"hello": True, "query": "last_id=1.2.3"}]
    for cursor in cursors:
        sock = await ConsoleSocket.open(fx_server.ws_url, fx_shop.slug, token, ORIGIN, **cursor)
        frame = await sock.frame()
        assert frame.refresh and frame.event_id >= current, cursor
        replayed, ready = await sock.ready()
        assert named(replayed) == [] and ready.event_id == frame.event_id
        await sock.close()


async def test_revoked_session_or_disabled_user_is_disconnected_within_a_second(
        fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    token, session_id = await login(fx_shop)
    operator_id = await add_user(fx_shop, "operator")
    op_token, _ = await login(fx_shop, operator_id)
    sock, _ = await connect(fx_server, fx_shop, token)
    op_sock, _ = await connect(fx_server, fx_shop, op_token)

    async with tenant_context(fx_shop.tenant):
        await Session.update({Session.revoked_at: now()}).where(Session.id == session_id)
        await User.update({User.status: "disabled"}).where(User.id == operator_id)
    started = time.monotonic()
    for s in (sock, op_sock):
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                await s.frame(wait=3)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 4401
    assert time.monotonic() - started < 1.6
    with pytest.raises(InvalidStatus):
        await ConsoleSocket.open(fx_server.ws_url, fx_shop.slug, token, ORIGIN)


async def test_presence_is_announced_to_the_team(fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    """Sockets say who is online (presence.changed); what the agent does is their agent state, which follows:
    connecting brings them to their choice, the picker's frame sets away with a reason, leaving sets offline."""
    from realtime import presence

    owner, _ = await connect(fx_server, fx_shop, (await login(fx_shop))[0])
    operator_id = await add_user(fx_shop, "operator")
    operator, _ = await connect(fx_server, fx_shop, (await login(fx_shop, operator_id))[0])

    def presence_of(status: str) -> Any:
        return lambda f: f.event == "presence.changed" and f.payload == {"user_id": operator_id, "status": status}

    def state_of(state: str, reason: str = "") -> Any:
        return lambda f: (f.event == "agent.state_changed" and f.payload.get("user_id") == operator_id
                          and f.payload.get("state") == state and f.payload.get("reason") == reason)

    await owner.until(presence_of("online"))
    await owner.until(state_of("available"))
    await operator.send({"presence": "away:lunch", "HEADERS": {"HX-Request": "true"}})  # as an htmx ws-send form
    await owner.until(state_of("away", "lunch"))
    await operator.send({"presence": "busy"})  # busy is never chosen: ignored
    assert (await presence.team(fx_shop.tenant))[operator_id].status == "online"
    await operator.close()
    await owner.until(presence_of("offline"))
    await owner.until(state_of("offline"))
    assert (await presence.team(fx_shop.tenant))[operator_id].status == "offline"
    await owner.close()


async def test_socket_can_watch_a_contact_but_not_another_users_channel(
        fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    operator_id = await add_user(fx_shop, "operator")
    sock, _ = await connect(fx_server, fx_shop, (await login(fx_shop, operator_id))[0])
    await sock.send({"watch": "contact:42"})
    await sock.send({"watch": f"user:{fx_shop.user_id}"})
    await asyncio.sleep(0.2)
    await emit(fx_shop, "contact.updated", {"contact_id": 42}, channels.contact(42))
    await emit(fx_shop, "contact.updated", {"contact_id": 0}, channels.user(fx_shop.user_id))
    last = await emit(fx_shop, "contact.updated", {"contact_id": 43}, channels.contact(43))
    await emit(fx_shop, "contact.updated", {"contact_id": 1})
    frames = await sock.until(lambda f: f.payload == {"contact_id": 1})
    assert [f.payload["contact_id"] for f in named(frames)] == [42, 1]
    assert last not in [f.event_id for f in frames]
    await sock.close()


async def test_many_sockets_of_many_tenants_stay_apart(fx_server: InProcessServer) -> None:
    shops = [await make_shop("rt") for _ in range(3)]
    socks = [(shop, (await connect(fx_server, shop, (await login(shop))[0]))[0]) for shop in shops for _ in range(2)]
    await asyncio.gather(*(emit(shop, "contact.updated", {"contact_id": i + 1}) for i, shop in enumerate(shops)))
    for shop, sock in socks:
        frames = await sock.until(lambda f: f.event == "contact.updated")
        assert frames[-1].payload == {"contact_id": shops.index(shop) + 1}
        await sock.close()


async def test_console_frames_are_compressed_without_a_context_kept_per_socket(
        fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    """permessage-deflate is negotiated with no_context_takeover both ways (realtime.sockets.lean_compression): an
    idle socket holds no zlib state, and frames still arrive, compressed, in order."""
    token, _ = await login(fx_shop)
    sock, _ready = await connect(fx_server, fx_shop, token)
    try:
        offered = sock.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in offered
        assert "server_no_context_takeover" in offered and "client_no_context_takeover" in offered
        [deflate] = sock.ws.protocol.extensions
        assert deflate.local_no_context_takeover and deflate.remote_no_context_takeover
        ids = [await emit(fx_shop, "contact.updated", {"contact_id": n, "name": "x" * 200}) for n in range(3)]
        frames = await sock.until(lambda f: f.event_id == ids[-1])
        assert [f.event_id for f in named(frames)] == ids
    finally:
        await sock.close()


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_console_frames_are_written_straight_to_the_transport_and_decode(
        fx_server: InProcessServer, fx_shop: ShopFixture, compression: str | None) -> None:
    """The hub's frames skip the ASGI send chain (realtime.sockets.direct_send): built once per message string
    (`WIRE`) and written to the socket's transport. A real websockets client decodes them, with and without
    permessage-deflate, in order, and a ping answered meanwhile by uvicorn does not get in their way."""
    token, _ = await login(fx_shop)
    socks = [(await connect(fx_server, fx_shop, token, compression=compression))[0] for _ in range(3)]
    try:
        assert [len(s.ws.protocol.extensions) for s in socks] == [1 if compression else 0] * 3
        hits, misses = WIRE.hits, WIRE.misses
        ids = []
        for n in range(5):
            ids.append(await emit(fx_shop, "contact.updated", {"contact_id": n, "name": "é" * (50 + 100 * n)}))
            if n == 2:
                await asyncio.wait_for(await socks[0].ws.ping(), 5)
        for sock in socks:
            frames = named(await sock.until(lambda f: f.event_id == ids[-1]))
            assert [f.event_id for f in frames] == ids
            assert [f.payload["name"] for f in frames] == ["é" * (50 + 100 * n) for n in range(5)]
        assert WIRE.misses > misses and WIRE.hits > hits  # built once, written to the three sockets
    finally:
        for sock in socks:
            await sock.close()


async def closed_with(sock: ConsoleSocket, wait: float) -> int:
    """Read frames until the server closes the socket (within `wait` seconds); its close code."""
    deadline = time.monotonic() + wait
    with pytest.raises(ConnectionClosed) as exc:
        while True:
            await sock.frame(wait=max(0.1, deadline - time.monotonic()))
    assert exc.value.rcvd is not None, "closed by the client side, not the server"
    return exc.value.rcvd.code


async def still_open(sock: ConsoleSocket, shop: ShopFixture) -> None:
    """The socket still gets the shop's events."""
    last = await emit(shop, "contact.updated", {"contact_id": 7})
    assert [f.event_id for f in await sock.until(lambda f: f.event_id == last)][-1] == last


async def test_a_socket_closes_when_its_session_expires_and_the_others_stay(
        fx_server: InProcessServer, fx_shop: ShopFixture) -> None:
    """No one signs out: the session reaches its absolute expiry (set a second ahead here, as a short
    SESSION_ABSOLUTE_HOURS would) and its socket is closed with 4401; the same user's other session stays."""
    short, short_id = await login(fx_shop)
    other, _ = await login(fx_shop)
    expiring, _ = await connect(fx_server, fx_shop, short)
    staying, _ = await connect(fx_server, fx_shop, other)
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute(
            "UPDATE user_session SET expires_at = now() + interval '1 second' WHERE id = $1", short_id)
    assert await closed_with(expiring, wait=5) == 4401
    await still_open(staying, fx_shop)
    with pytest.raises(InvalidStatus):  # and the expired session cannot open a new one
        await ConsoleSocket.open(fx_server.ws_url, fx_shop.slug, short, ORIGIN)
    await staying.close()


async def test_an_admin_signs_a_user_out_everywhere_and_only_their_sockets_close(
        fx_server: InProcessServer, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    import httpx

    operator_id = await add_user(fx_shop, "operator")
    op_sockets = [(await connect(fx_server, fx_shop, (await login(fx_shop, operator_id))[0]))[0] for _ in range(2)]
    owner, _ = await connect(fx_server, fx_shop, (await login(fx_shop))[0])
    async with httpx.AsyncClient(base_url=fx_server.url) as client:
        foreign = await client.delete(f"/t/{fx_shop.slug}/api/v1/users/{operator_id}/sessions",
                                      headers=fx_other_shop.auth)
        assert foreign.status_code == 404  # another shop's key reaches nothing
        resp = await client.delete(f"/t/{fx_shop.slug}/api/v1/users/{operator_id}/sessions", headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.json() == {"revoked": 2}
    for sock in op_sockets:
        assert await closed_with(sock, wait=3) == 4401
    await still_open(owner, fx_shop)
    async with tenant_context(fx_shop.tenant) as uow:
        entry = await uow.connection.fetchrow(
            "SELECT actor, detail FROM audit_entry WHERE action = 'sessions.revoked' AND target_id = $1",
            str(operator_id))
    assert entry is not None and '"sessions": 2' in entry["detail"]
    await owner.close()
