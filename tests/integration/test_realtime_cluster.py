"""Two uvicorn processes sharing one Redis and one database: events cross processes, cursors too."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
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
    free_port,
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


def _state(user_id: int, state: str, reason: str = "") -> Any:
    return lambda f: (f.event == "agent.state_changed" and f.payload.get("user_id") == user_id
                      and f.payload.get("state") == state and f.payload.get("reason") == reason)


async def test_event_committed_in_one_process_reaches_a_socket_on_another(
        fx_cluster: tuple[list[ServerProcess], str], fx_shop: ShopFixture) -> None:
    (one, two), prefix = fx_cluster
    owner_token, _ = await _session(fx_shop)
    op_token, operator_id = await _session(fx_shop, "operator")
    owner = await ConsoleSocket.open(two.ws_url, fx_shop.slug, owner_token, ORIGIN)
    await owner.ready()
    operator = await ConsoleSocket.open(one.ws_url, fx_shop.slug, op_token, ORIGIN)
    await operator.ready()
    await owner.until(_presence(operator_id, "online"))

    # Committed by process one (the operator's status change), delivered by process two.
    await operator.send({"presence": "away:break"})
    busy = (await owner.until(_state(operator_id, "away", "break")))[-1]

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
    await operator.send({"presence": "away:lunch"})
    await operator.until(_state(operator_id, "away", "lunch"))
    owner = await ConsoleSocket.open(one.ws_url, fx_shop.slug, owner_token, ORIGIN, last_id=event.position)
    replayed, _ = await owner.ready()
    assert [f.event_id for f in replayed] == sorted({f.event_id for f in replayed})  # in order, once each
    assert [f.payload for f in replayed if f.payload.get("user_id") == operator_id] == [
        {"user_id": operator_id, "state": "away", "reason": "lunch", "previous": "away"}]

    # A restarting process closes its sockets with 1012, which the htmx ws extension reconnects after.
    assert one.proc is not None
    one.proc.send_signal(signal.SIGTERM)
    for sock in (owner, operator):
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                await sock.frame(wait=10)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1012


class PrivateRedis:
    """A redis-server of this test's own, on its own loopback port (never the shared 6379), that can be restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sb-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def fx_private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis().start()
    try:
        yield redis
    finally:
        redis.stop()


async def test_redis_restart_while_another_process_publishes_loses_nothing_on_this_one(
        fx_db: str, fx_shop: ShopFixture, fx_private_redis: PrivateRedis) -> None:
    servers = await start_processes(2, {"DATABASE_URL": fx_db, "REDIS_URL": fx_private_redis.url,
                                        "REDIS_PREFIX": unique_redis_prefix(), "BASE_URL": ORIGIN,
                                        "EMBEDDED_WORKER": "false", "MAIL_CATCHER": "false"})
    one, two = servers
    try:
        owner_token, _ = await _session(fx_shop)
        console = await ConsoleSocket.open(one.ws_url, fx_shop.slug, owner_token, ORIGIN)
        await console.ready()
        created: list[int] = []
        async with httpx.AsyncClient(base_url=two.url, timeout=30) as web:
            async def publish_from_two(count: int) -> None:
                for _ in range(count):
                    resp = await web.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": f"C{len(created)}"},
                                          headers=fx_shop.auth)
                    assert resp.status_code == 201, resp.text
                    created.append(resp.json()["id"])

            await publish_from_two(3)  # before
            fx_private_redis.stop()
            await publish_from_two(3)  # while Redis is down: the commits stand, the fan-out waits
            fx_private_redis.start()  # the same port, empty: nothing survived in Redis
            await publish_from_two(3)  # after
        frames = await console.until(
            lambda f: f.event == "contact.created" and f.payload.get("contact_id") == created[-1], wait=60)
        assert not [f for f in frames if f.refresh]
        assert [f.payload["contact_id"] for f in frames if f.event == "contact.created"] == created
        ids = [f.event_id for f in frames]
        assert ids == sorted(set(ids))  # in order, once each
        with contextlib.suppress(TimeoutError):  # nothing delivered twice after the last one
            extra = await console.frame(wait=1)
            assert extra.event != "contact.created" or extra.payload.get("contact_id") not in created
        await console.close()
    finally:
        for s in servers:
            s.stop()
