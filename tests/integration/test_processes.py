"""The production layout on one machine: two web processes and two `switchboard worker` processes, all reaching
PostgreSQL through a PgBouncer in transaction pooling mode (LISTEN and the queue's lock go straight to PostgreSQL
through DATABASE_DIRECT_URL), sharing one Redis. A shop's day crosses processes at every step."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import websockets

from app.lib.db import tenant_context
from telephony.simulator import Simulator, create_app
from tests.conftest import TEST_DSN, ShopFixture, browser_login
from tests.pgbouncer import PgBouncer, missing_reason
from tests.servers import (
    REDIS_TEST_URL,
    REPO,
    ConsoleSocket,
    InProcessServer,
    ServerProcess,
    end_process,
    free_port,
    start_processes,
    unique_redis_prefix,
)

pytestmark = pytest.mark.xdist_group("realtime")

ORIGIN = "http://testserver.local"
CUSTOMER = "+14155550142"


@pytest.fixture
def fx_bouncer(fx_db: str) -> Iterator[PgBouncer]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    bouncer = PgBouncer(fx_db).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


class WorkerProcess:
    """`switchboard worker --concurrency N` in its own process, ready once its /health answers 200."""

    def __init__(self, env: dict[str, str], concurrency: int) -> None:
        self.health_port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="sb-worker-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--concurrency", str(concurrency),
             "--health-port", str(self.health_port)],
            cwd=REPO, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-5000:]

    async def wait_ready(self, wait: float = 30) -> None:
        deadline = time.monotonic() + wait
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.health_port}/health", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"worker not ready:\n{self.output()}")

    def stop(self) -> None:
        end_process(self.proc, self.log, wait=20)


class _ToProcess(httpx.AsyncBaseTransport):
    """The simulator signs webhooks for BASE_URL (what the app checks signatures against) and this sends them to one
    web process's real port."""

    def __init__(self) -> None:
        self.port = 0
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextlib.asynccontextmanager
async def _layout(fx_db: str, bouncer: PgBouncer, sim_url: str) -> AsyncIterator[list[ServerProcess]]:
    env = {"DATABASE_URL": bouncer.url(fx_db), "DATABASE_DIRECT_URL": fx_db, "DATABASE_POOLER": "pgbouncer",
           "DB_POOL_MIN": "1", "DB_POOL_MAX": "5", "REDIS_URL": REDIS_TEST_URL, "REDIS_PREFIX": unique_redis_prefix(),
           "BASE_URL": ORIGIN, "EMBEDDED_WORKER": "false", "MAIL_CATCHER": "false", "TWILIO_API_BASE": sim_url,
           "STORAGE_BACKEND": "memory"}
    servers = await start_processes(2, env)
    workers: list[WorkerProcess] = []
    try:
        # Started after the web processes are up, not beside them: four processes importing the app at once on two
        # busy cores is what the start-up bound of each would have to absorb.
        workers = [WorkerProcess(env, concurrency=2) for _ in range(2)]
        try:
            await asyncio.gather(*(w.wait_ready() for w in workers))
            # Each worker LISTENs on connections straight to PostgreSQL and runs its jobs' units of work through
            # PgBouncer.
            upstream = int(fx_db.rsplit(":", 1)[1].split("/", 1)[0])
            for w in workers:
                ports = {c.raddr.port for c in psutil.Process(w.proc.pid).net_connections()
                         if c.raddr and c.status == psutil.CONN_ESTABLISHED}
                assert {upstream, bouncer.port} <= ports, (ports, upstream, bouncer.port)
            yield servers
        finally:
            for w in workers:
                w.stop()
    finally:
        for s in servers:
            s.stop()


async def _until(fetch: Any, wait: float = 20) -> Any:
    """Poll `fetch()` until it returns something truthy (work done by a worker process); fail when it never does."""
    deadline = time.monotonic() + wait
    while True:
        found = await fetch()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still {found!r} after {wait} s")
        await asyncio.sleep(0.05)


async def test_two_web_processes_and_two_workers_behind_pgbouncer_serve_a_shops_day(
        fx_db: str, fx_bouncer: PgBouncer) -> None:
    to_one = _ToProcess()
    sim = Simulator(webhooks=httpx.AsyncClient(transport=to_one, base_url=ORIGIN, timeout=15))
    rest = await InProcessServer(create_app(sim)).start()
    try:
        async with _layout(fx_db, fx_bouncer, rest.url) as (one, two), \
                httpx.AsyncClient(base_url=one.url, timeout=30) as web1, \
                httpx.AsyncClient(base_url=two.url, timeout=30) as web2:
            to_one.port = one.port
            # Sign up on process one; everything after it alternates between the processes.
            slug = "procs_" + secrets.token_hex(3)
            email = f"owner@{slug.replace('_', '-')}.example"
            signed = await web1.post("/api/v1/signup", json={
                "shop_name": "Procs Shop", "slug": slug, "email": email, "password": "correct-horse-battery-staple",
                "owner_name": "Olive Owner"})
            assert signed.status_code == 201, signed.text
            auth = {"Authorization": f"Bearer {signed.json()['api_key']}"}
            api = f"/t/{slug}/api/v1"

            contact = await web2.post(f"{api}/contacts", json={"name": "Ada Buyer", "phones": ["+14155550143"]},
                                      headers=auth)
            assert contact.status_code == 201, contact.text

            # The owner's console on process two, signed in through process two's login form.
            web2.headers["origin"] = ORIGIN
            login = await browser_login(web2, slug, email, "correct-horse-battery-staple")
            assert login.status_code in (200, 303), login.text
            token = web2.cookies.get("sb_session")
            assert token
            console = await ConsoleSocket.open(two.ws_url, slug, token, ORIGIN)
            await console.ready()

            # A Twilio line in the simulator; an SMS in reaches process one as a signed webhook, a worker handles it.
            account = sim.add_account(auth_token=secrets.token_hex(16))
            number = "+1415555" + f"{secrets.randbelow(9000) + 1000}"
            hooks = f"{ORIGIN}/t/{slug}/webhooks/twilio"
            sim.add_number(account.sid, number, voice_url=f"{hooks}/voice", status_callback=f"{hooks}/status",
                           sms_url=f"{hooks}/sms")
            saved = await web1.put(f"{api}/channels/twilio", headers=auth, json={
                "account_sid": account.sid, "auth_token": account.auth_token, "numbers": [number]})
            assert saved.status_code == 200, saved.text
            sim.send_sms(CUSTOMER, number, "Is my order on its way?")
            await sim.settle()
            assert [h["status"] for h in sim.webhook_log if h["url"].endswith("/sms")] == [200]
            added = await console.until(lambda f: f.event == "queue.item_added", wait=20)
            assert added

            async def waiting() -> list[dict[str, Any]]:
                rows = (await web2.get(f"{api}/conversations/waiting", headers=auth)).json()
                return [w for w in rows if w["channel"] == "sms"]

            [item] = await _until(waiting)
            taken = await web1.post(f"{api}/conversations/{item['id']}/take", headers=auth)
            assert taken.status_code == 200, taken.text
            await console.until(lambda f: f.event == "queue.item_taken", wait=20)
            assert await waiting() == []

            # An order whose customer portal is open on process one changes through process two: the page updates.
            order = await web1.post(f"{api}/orders", headers=auth, json={
                "contact_id": contact.json()["id"], "currency": "USD",
                "items": [{"name": "Espresso beans 1kg", "quantity": 1, "unit_price": 1999}]})
            assert order.status_code == 201, order.text
            link = (await web2.post(f"{api}/orders/{order.json()['id']}/portal", headers=auth)).json()["url"]
            portal_token = link.rsplit("/", 1)[1]
            async with websockets.connect(f"{one.ws_url}/t/{slug}/portal/{portal_token}/ws", origin=ORIGIN,
                                          open_timeout=10) as portal:  # type: ignore[arg-type]
                first = await asyncio.wait_for(portal.recv(), 10)
                assert 'data-status="paid"' not in first
                paid = await web2.post(f"{api}/orders/{order.json()['id']}/status", json={"status": "paid"},
                                       headers=auth)
                assert paid.status_code == 200, paid.text
                while 'data-status="paid"' not in (frame := await asyncio.wait_for(portal.recv(), 20)):
                    pass
                assert 'data-status="paid"' in frame
            await console.close()
        # It all went through PgBouncer (the web processes' pools and the workers' jobs).
        assert fx_bouncer.transactions(fx_db.rsplit("/", 1)[1]) > 50
    finally:
        await sim.close()
        await rest.stop()


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_worker_runs_up_to_its_concurrency_at_once(
        fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch, concurrency: int) -> None:
    """Jobs hold until the test lets them go: with N allowed, N start together and never one more (each job checks
    the count when it starts), and all of them run in the end."""
    from app.lib import jobs  # deferred import: conftest must set the environment before app modules load

    running: list[int] = []
    done: list[int] = []
    over: list[int] = []
    gates = {n: asyncio.Event() for n in range(concurrency + 3)}

    async def gated(payload: dict[str, Any]) -> None:
        running.append(payload["n"])
        if len(running) > concurrency:
            over.append(payload["n"])
        try:
            await gates[payload["n"]].wait()
        finally:
            running.remove(payload["n"])
        done.append(payload["n"])

    monkeypatch.setitem(jobs._REGISTRY, "tests.gated", jobs.JobSpec(gated))
    async with tenant_context(fx_shop.tenant):
        for n in gates:
            await jobs.enqueue("tests.gated", {"n": n})
    worker = jobs.Worker(TEST_DSN, poll_seconds=0.2, concurrency=concurrency)
    await worker.start()
    try:
        await _until(lambda: _now(len(running) == concurrency))
        assert len(running) == concurrency
        for _ in gates:  # let the running ones go; the next ones start
            if len(done) == len(gates):
                break
            for n in list(running):
                gates[n].set()
            await _until(lambda: _now(len(done) == len(gates) or any(not gates[n].is_set() for n in running)))
    finally:
        await worker.stop()
    assert sorted(done) == sorted(gates) and over == []
    assert worker.running_peak == concurrency


async def _now(value: Any) -> Any:
    return value


async def test_run_serves_one_port_from_two_processes_through_pgbouncer(
        fx_db: str, fx_bouncer: PgBouncer, tmp_path: Path) -> None:
    """`switchboard run --workers 2`: two web processes answer on one port (each with its own pool through
    PgBouncer), the embedded pieces (mail-in here) stay single in the parent, and SIGTERM stops them all."""
    port, mail_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": fx_bouncer.url(fx_db), "DATABASE_DIRECT_URL": fx_db,
           "DATABASE_POOLER": "pgbouncer", "REDIS_URL": REDIS_TEST_URL, "REDIS_PREFIX": unique_redis_prefix(),
           "PORT": str(port), "MAIL_IN_PORT": str(mail_port), "MAIL_CATCHER": "false", "STATE_DIR": str(tmp_path),
           "EMBEDDED_WORKER": "false", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--no-demo", "--workers", "2"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def healthy() -> bool:
                assert proc.poll() is None, log.read_text()[-4000:]
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get("/health")).status_code == 200
                return False

            await _until(healthy, wait=120)
            children = psutil.Process(proc.pid).children()
            web = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
            mail_in = [p for p in children if "mail-in" in p.cmdline()]
            assert len(web) == 2 and len(mail_in) == 1, [p.cmdline() for p in children]

            async def both_started() -> bool:  # each ran the app's lifespan: its own pool, through PgBouncer
                return all(any(c.raddr and c.raddr.port == fx_bouncer.port and c.status == psutil.CONN_ESTABLISHED
                               for c in p.net_connections()) for p in web)

            await _until(both_started, wait=60)
            for _ in range(10):
                assert (await client.get("/health")).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) in (0, -signal.SIGTERM), log.read_text()[-4000:]
        assert not [p for p in [*web, *mail_in] if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_run_refuses_several_processes_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"STATE_DIR": str(tmp_path), "PORT": str(free_port()), "MAIL_IN_PORT": str(free_port())})
    done = subprocess.run([sys.executable, "-m", "app.cli", "run", "--workers", "2"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "REDIS_URL" in done.stdout, done.stdout + done.stderr
