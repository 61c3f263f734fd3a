"""Shared fixtures: a real PostgreSQL database per xdist worker, the app, tenants built through real signup."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
ADMIN_DSN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per worker of one pytest run (the run is named by the controller's pid), so parallel runs on one
# machine never drop each other's data.
RUN_ID = os.getppid() if "PYTEST_XDIST_WORKER" in os.environ else os.getpid()
TEST_DB = f"sb_test_{RUN_ID}_{WORKER}"
TEST_DSN = ADMIN_DSN.rsplit("/", 1)[0] + f"/{TEST_DB}"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Settings are read from the environment once; fix them before any app module reads them.
os.environ.update({
    "SWITCHBOARD_ENV": "dev",
    "DATABASE_URL": TEST_DSN,
    "SECRET_KEY": "test-secret-key-" + "x" * 32,
    "STATE_DIR": tempfile.mkdtemp(prefix=f"sb-state-{WORKER}-"),
    "BASE_URL": "http://testserver.local",
    "MAIL_CATCHER": "false",
    "EMBEDDED_WORKER": "false",
    "AUTH_RATE_PER_MINUTE": "100000",
    "API_RATE_PER_MINUTE": "100000",
    "TENANT_API_RATE_PER_MINUTE": "100000",
    "LOGIN_LOCK_SECONDS": "30",
    "WEBHOOK_ALLOW_LOOPBACK": "true",  # tests' webhook receivers listen on 127.0.0.1 (private ranges stay refused)
})
os.environ.pop("REDIS_URL", None)

from app import events_catalogue  # noqa: E402, F401  (every domain declares its events, as the app does)
from app import jobs as _jobs  # noqa: E402, F401  (the job registry is handed to app.lib.jobs, as the app does)
from app.lib.db import start_database, stop_database  # noqa: E402
from app.lib.jobs import install_queue  # noqa: E402
from tenants import services as tenant_services  # noqa: E402

CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


async def _recreate_database() -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            TEST_DB)
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}"')
        await conn.execute(f'CREATE DATABASE "{TEST_DB}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def fx_db() -> AsyncIterator[str]:
    """A fresh database for this worker with the platform schema and the job queue installed."""
    await _recreate_database()
    await start_database(TEST_DSN, 2, 20)
    await install_queue(TEST_DSN)
    await tenant_services.migrate_platform()
    yield TEST_DSN
    await stop_database()
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def fx_app(fx_db: str) -> Any:
    from app.asgi import create_app

    return create_app()


@pytest.fixture
async def fx_client(fx_app: Any) -> AsyncIterator[Any]:
    """HTTP client calling the app in this event loop (Litestar's AsyncTestClient runs the app on another loop,
    which the shared asyncpg pool cannot follow). The pool is the session's; the app's lifespan is not run, so the
    realtime runtime it would start (presence on the console and home pages) is ensured here: an earlier test of
    this process may have stopped the one it used."""
    import httpx

    from realtime import runtime as rt_mod

    await rt_mod.ensure_started()
    transport = httpx.ASGITransport(app=fx_app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


@dataclass
class ShopFixture:
    slug: str
    api_key: str
    email: str
    password: str
    user_id: int
    tenant: Any

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def unique_slug(prefix: str = "shop") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


async def make_shop(prefix: str = "shop") -> ShopFixture:
    slug = unique_slug(prefix)
    email = f"owner@{slug.replace('_', '-')}.example"
    password = "owner-password-" + secrets.token_hex(4)
    result = await tenant_services.signup(f"Shop {slug}", slug, email, password, owner_name="Owner")
    return ShopFixture(slug, result.api_key, email, password, result.user_id, result.tenant)


@pytest.fixture
async def fx_shop(fx_db: str) -> ShopFixture:
    return await make_shop("a")


@pytest.fixture
async def fx_other_shop(fx_db: str) -> ShopFixture:
    return await make_shop("b")


async def csrf_from(client: Any, path: str) -> str:
    page = await client.get(path, headers={"accept": "text/html"}, follow_redirects=True)
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code}"
    return match.group(1)


async def browser_login(client: Any, slug: str, email: str, password: str) -> Any:
    """Sign in through the HTML form, as a browser would (CSRF token from the page, session cookie kept)."""
    token = await csrf_from(client, f"/t/{slug}/login")
    return await client.post(f"/t/{slug}/login", data={"email": email, "password": password, "_csrf": token},
                             headers={"accept": "text/html"})


# -- mail and jobs ------------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler keeping every message it receives (a real SMTP server on loopback)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def fx_inbox(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real SMTP server on loopback; the app's platform mail settings point at it for the test."""
    from aiosmtpd.controller import Controller

    from app.settings import get_settings

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_PORT", str(port))
    get_settings.cache_clear()
    yield inbox
    controller.stop()
    monkeypatch.undo()
    get_settings.cache_clear()


async def run_jobs_until(done: Any, *, timeout: float = 30.0) -> None:
    """Run the real job worker on this test's database until `done()` (a function or a coroutine function) is
    true; fails the test when the timeout passes first."""
    import asyncio
    import inspect

    from app.lib.jobs import Worker
    from app.listeners import DURABLE
    from realtime.durable import Spine

    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    spine = Spine(TEST_DSN, DURABLE)  # durable listeners (the order notifier) run beside the jobs, as in the worker
    await spine.start()
    try:
        for _ in range(int(timeout / 0.05)):
            result = done()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"run_jobs_until: {getattr(done, '__name__', done)} still false after {timeout} s")
    finally:
        await spine.stop()
        await worker.stop()


async def work_left(tenant: Any) -> list[str]:
    """What this tenant still has to do: durable listeners behind the event log's end (they enqueue jobs, e.g.
    the order notifier) and jobs queued or running (finished ones leave the queue; failed ones are held as
    `failed`). Empty means everything its requests set in motion has run, whatever it did."""
    from app.lib.db import tenant_context
    from app.piccolo_conf import DB
    from realtime import durable

    async with tenant_context(tenant):
        left = [f"listener {name}" for name in await durable.pending()]
    async with DB.pool.acquire() as conn:  # the session's pool: polling opens no new connections
        jobs = int(await conn.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE status IN ('queued', 'picked') "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", tenant.slug))
    return left + [f"{jobs} jobs"] * bool(jobs)


@pytest.fixture
async def fx_live(fx_db: str) -> Any:
    """The app served in this event loop on a loopback port, with the Redis fan-out: for tests that open real
    console sockets (tests.servers.ConsoleSocket) against it."""
    from app.asgi import create_app
    from tests.servers import InProcessServer, realtime_runtime

    async with realtime_runtime("redis"):
        server = await InProcessServer(create_app()).start()
        try:
            yield server
        finally:
            await server.stop()


async def until_final(tenant: Any, position: Any, *, timeout: float = 60.0) -> None:
    """Wait until the event at `position` is below the safe horizon (realtime.log), so readers of the log see it.
    Any open transaction in the cluster (another test worker migrating a schema) holds the horizon back; the
    timeout only guards against a deadlock."""
    import asyncio
    import time

    from app.lib.db import tenant_context
    from realtime.log import HORIZON

    deadline = time.monotonic() + timeout
    while True:
        async with tenant_context(tenant) as uow:
            if await uow.connection.fetchval("SELECT HORIZON_ > $1::xid8".replace("HORIZON_", HORIZON), position.tx):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the horizon did not pass {position} in {timeout} s: a transaction left open?")
        await asyncio.sleep(0.02)
