"""Two uvicorn processes sharing one Redis and one database: events cross processes, cursors too."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from app.accounts.services import create_session
from app.accounts.tables import User
from app.lib.db import tenant_context
from realtime import channels
from realtime.publish import publish
from tests.conftest import ShopFixture
from tests.servers import (
    REDIS_TEST_URL,
    ConsoleSocket,
    ServerProcess,
    realtime_runtime,
    start_processes,
    unique_redis_prefix,
)

pytestmark = pytest.mark.xdist_group("realtime")

ORIGIN = "http://testserver.local"


@pytest.fixture
async def fx_cluster(fx_db: str) -> AsyncIterator[tuple[list[ServerProcess], str]]:
    prefix = unique_redis_prefix()
    servers = await start_processes(2, {"DATABASE_URL": fx_db, "REDIS_URL": REDIS_TEST_URL, "REDIS_PREFIX": prefix,
                                        "BASE_URL": ORIGIN, "EMBEDDED_WORKER": "false", "MAIL_CATCHER": "false"})
    try:
        yield servers, prefix
    finally:
        for s in servers:
            s.stop()


async def _session(shop: ShopFixture, role: str | None = None) -> tuple[str, int]:
    async with tenant_context(shop.tenant):
        user_id = shop.user_id
        if role:
            rows = await User.insert(User(email=f"{role}@{shop.slug}.example", name=role, role=role)).returning(User.id)
            user_id = rows[0]["id"]
        token, _ = await create_session(user_id)
    return token, user_id


def _presence(user_id: int, status: str) -> Any:
    return lambda f: f.event == "presence.changed" and f.payload == {"user_id": user_id, "status": status}


async def test_event_committed_in_one_process_reaches_a_socket_on_another(
        fx_cluster: tuple[list[ServerProcess], str], fx_shop: ShopFixture) -> None:
    (one, two), prefix = fx_cluster
    owner_token, _ = await _session(fx_shop)
    op_token, operator_id = await _session(fx_shop, "operator")
    owner = await ConsoleSocket.open(two.ws_url, fx_shop.slug, owner_token, ORIGIN)
    await owner.ready()
    operator = await ConsoleSocket.open(one.ws_url, fx_shop.slug, op_token, ORIGIN)
    await operator.ready()
    await owner.until(_presence(operator_id, "available"))

    # Committed by process one (the operator's status change), delivered by process two.
    await operator.send({"presence": "busy"})
    busy = (await owner.until(_presence(operator_id, "busy")))[-1]

    # Committed by a third process (this test), delivered by both.
    async with realtime_runtime("redis", prefix):
        async with tenant_context(fx_shop.tenant):
            event = await publish("contact.updated", {"contact_id": 5}, channels=[channels.queue()])
    for sock in (owner, operator):
        frames = await sock.until(lambda f: f.event == "contact.updated")
        assert frames[-1].event_id == event.position and frames[-1].payload == {"contact_id": 5}
    assert event.position > busy.event_id

    # The cursor is the tenant's, not the process's: reconnect to the other process and catch up there.
    await owner.close()
    await operator.send({"presence": "away"})
    await operator.until(_presence(operator_id, "away"))
    owner = await ConsoleSocket.open(one.ws_url, fx_shop.slug, owner_token, ORIGIN, last_id=event.position)
    replayed, _ = await owner.ready()
    assert [f.event_id for f in replayed] == sorted({f.event_id for f in replayed})  # in order, once each
    assert [f.payload for f in replayed if f.payload.get("user_id") == operator_id] == [
        {"user_id": operator_id, "status": "away"}]

    # A restarting process closes its sockets with 1012, which the htmx ws extension reconnects after.
    assert one.proc is not None
    one.proc.send_signal(signal.SIGTERM)
    for sock in (owner, operator):
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                await sock.frame(wait=10)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1012
