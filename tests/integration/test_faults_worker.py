"""Faults of the background side, with real processes: a `switchboard worker` stopped (SIGTERM) or killed (SIGKILL)
in the middle of a contact import, PostgreSQL dropping every connection of the web app, the worker and mail-in,
the database refusing connections for a while, and /health naming what is down.

The import's size is FAULT_IMPORT_ROWS (default 10000, in batches of 100: IMPORT_BATCH_ROWS in FAST; set
FAULT_IMPORT_ROWS=20000 to run the brief's size). Set-based batches import about 1,500 rows/s here, so 2,000 rows
could finish between "a batch landed" and the kill; 10,000 leave seconds of work at every fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
import pytest

from app.contacts.tables import Contact, ContactImport
from app.email.tables import InboundMail
from app.lib.db import tenant_context
from app.lib.jobs import Worker
from app.settings import get_settings
from tests.conftest import ADMIN_DSN, TEST_DB, TEST_DSN, ShopFixture, browser_login, csrf_from, free_port
from tests.servers import REPO, ServerProcess, end_process

pytestmark = pytest.mark.xdist_group("faults")

ROWS = int(os.environ.get("FAULT_IMPORT_ROWS", "10000"))
WAIT = 120.0
"""Generous bound of every wait here; a wait that runs out fails the test with the processes' logs."""
FAST = {"JOB_HEARTBEAT_SECONDS": "4", "WORKER_STOP_SECONDS": "10", "IMPORT_BATCH_ROWS": "100"}
"""A killed worker's job is picked up again after 4 s instead of 30, so the test stays short; the import lands 100
rows per batch, so a stop or a kill meets it between batches long before its end."""


# -- processes ---------------------------------------------------------------------------------------------------

class Cli:
    """`switchboard <args>` in its own process, configured through the environment like production."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, health_port: int | None = None) -> None:
        self.health_port = health_port or free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="sb-fault-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args, "--health-port", str(self.health_port)], cwd=REPO,
            env={**os.environ, **FAST, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{self.health_port}/health", timeout=5)
            return resp.status_code, resp.json()

    async def exited(self, wait: float = 60) -> int:
        deadline = time.monotonic() + wait
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"process did not exit within {wait}s:\n{self.output()[-4000:]}")
            await asyncio.sleep(0.1)
        return self.proc.returncode

    def close(self) -> None:
        end_process(self.proc, self.log, wait=20, then=10)


async def until(what: str, check: Callable[[], Awaitable[bool]], *procs: Any, wait: float = WAIT) -> None:
    """Wait until `check()` is true; fail loudly (with the processes' logs) when the bound runs out."""
    deadline = time.monotonic() + wait
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (httpx.HTTPError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            last = exc
        await asyncio.sleep(0.2)
    logs = "\n".join(f"--- {p!r}\n{p.output()[-3000:]}" for p in procs)
    raise AssertionError(f"{what}: not within {wait}s (last error {last!r})\n{logs}")


async def healthy(proc: Cli) -> bool:
    status, _ = await proc.health()
    return status == 200


@contextlib.asynccontextmanager
async def processes(*procs: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for p in procs:
            if isinstance(p, ServerProcess):
                p.stop()
            else:
                p.close()


# -- the database's side -----------------------------------------------------------------------------------------

async def terminate_connections() -> int:
    """What an administrator or a failover does: end every session on the test database."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        return len(await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            TEST_DB))
    finally:
        await conn.close()


async def allow_connections(allow: bool) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'ALTER DATABASE "{TEST_DB}" WITH ALLOW_CONNECTIONS {"true" if allow else "false"}')
    finally:
        await conn.close()


async def query_test_db(sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{TEST_DB}")
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def import_jobs(shop: ShopFixture, import_id: int) -> list[dict[str, Any]]:
    """The queue's rows for one import (its jobs carry a dedupe key naming it)."""
    return await query_test_db("SELECT id, status, attempts FROM public.pgqueuer WHERE dedupe_key = $1 ORDER BY id",
                         f"contacts.run_import:{shop.slug}:{import_id}")


# -- the shop's side ---------------------------------------------------------------------------------------------

def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


def contacts_csv(rows: int, tag: str) -> bytes:
    return ("Name,Email\n" + "".join(f"Client {tag} {i},client.{tag}.{i}@example.com\n" for i in range(rows))).encode()


async def start_import(client: httpx.AsyncClient, shop: ShopFixture, rows: int, tag: str) -> int:
    up = await client.post(api(shop, "/imports"), files={"file": ("c.csv", contacts_csv(rows, tag), "text/csv")},
                           headers=shop.auth)
    assert up.status_code == 201, up.text
    started = await client.post(api(shop, f"/imports/{up.json()['id']}/start"), headers=shop.auth)
    assert started.status_code == 202, started.text
    return int(up.json()["id"])


async def read_import(client: httpx.AsyncClient, shop: ShopFixture, import_id: int) -> dict[str, Any]:
    resp = await client.get(api(shop, f"/imports/{import_id}"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def contact_count(shop: ShopFixture, tag: str) -> int:
    async with tenant_context(shop.tenant):
        return await Contact.count().where(Contact.name.like(f"Client {tag} %"))


# -- 1. a worker stopped or killed halfway through an import ----------------------------------------------------

async def test_import_survives_sigterm_and_sigkill_of_its_worker(fx_client: Any, fx_shop: ShopFixture) -> None:
    import_id = await start_import(fx_client, fx_shop, ROWS, "stop")

    async def processed() -> int:
        return int((await read_import(fx_client, fx_shop, import_id))["processed"])

    first = Cli("worker")
    async with processes(first):
        await until("the first worker imports a batch", lambda: _above(processed, 0), first)
        first.proc.send_signal(signal.SIGTERM)
        assert await first.exited() == 0, first.output()
        assert "job_put_back" in first.output(), first.output()[-3000:]
    stopped_at = await processed()
    assert stopped_at < ROWS, "the import finished before the stop: FAULT_IMPORT_ROWS is too small to test it"
    state = await read_import(fx_client, fx_shop, import_id)
    assert state["status"] == "running"
    jobs = await import_jobs(fx_shop, import_id)
    assert [j["status"] for j in jobs] == ["queued"], f"the stop put the job back in the queue: {jobs}"
    assert jobs[0]["attempts"] == 0, "a stop is not counted as a failed attempt"

    second = Cli("worker")
    async with processes(second):
        await until("a second worker resumes the import", lambda: _above(processed, stopped_at), second)
        second.proc.send_signal(signal.SIGKILL)
        assert await second.exited() == -signal.SIGKILL
    killed_at = await processed()
    assert killed_at < ROWS, "the import finished before the kill: FAULT_IMPORT_ROWS is too small to test it"
    assert [j["status"] for j in await import_jobs(fx_shop, import_id)] == ["picked"]  # by a worker now dead

    third = Cli("worker")
    async with processes(third):
        async def done() -> bool:
            return (await read_import(fx_client, fx_shop, import_id))["status"] == "done"

        # The rest of the import runs here: on a loaded machine (the whole suite beside it) that is minutes, so
        # the bound is wider than the others'; the message says how far it got.
        try:
            await until("a third worker takes the killed worker's job over and finishes", done, third, wait=420)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nprocessed {await processed()} of {ROWS} (killed at {killed_at}); "
                                 f"queue: {await import_jobs(fx_shop, import_id)}") from None
    final = await read_import(fx_client, fx_shop, import_id)
    assert (final["processed"], final["created"], final["updated"], final["failed"]) == (ROWS, ROWS, 0, 0), final
    assert await contact_count(fx_shop, "stop") == ROWS, "every row landed exactly once"
    assert await import_jobs(fx_shop, import_id) == []


async def _above(read: Callable[[], Awaitable[int]], floor: int) -> bool:
    return await read() > floor


async def test_an_import_left_without_a_job_is_resumed_by_its_owner(fx_client: Any, fx_shop: ShopFixture) -> None:
    """An import whose job is gone (held after its last attempt, say) is not stuck: start queues it again; while a
    job carries it, start still answers 409. The page offers Resume only in the first case."""
    import_id = await start_import(fx_client, fx_shop, 30, "held")
    again = await fx_client.post(api(fx_shop, f"/imports/{import_id}/start"), headers=fx_shop.auth)
    assert again.status_code == 409 and "worker" in again.json()["detail"]
    page_url = f"/t/{fx_shop.slug}/contacts/import/{import_id}/progress"
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    assert 'data-testid="import-resume"' not in (await fx_client.get(page_url)).text

    # What PgQueuer does after the job's last failed attempt: the job is held, the import stays "running".
    await query_test_db("UPDATE public.pgqueuer SET status = 'failed' WHERE dedupe_key = $1",
                  f"contacts.run_import:{fx_shop.slug}:{import_id}")
    async with tenant_context(fx_shop.tenant):
        await ContactImport.update({ContactImport.status: "running"}).where(ContactImport.id == import_id)
    assert 'data-testid="import-resume"' in (await fx_client.get(page_url)).text

    resumed = await fx_client.post(api(fx_shop, f"/imports/{import_id}/start"), headers=fx_shop.auth)
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued", resumed.text
    twice = await fx_client.post(api(fx_shop, f"/imports/{import_id}/start"), headers=fx_shop.auth)
    assert twice.status_code == 409

    # Stranded again: this time its owner presses Resume on the page.
    await query_test_db("UPDATE public.pgqueuer SET status = 'failed' WHERE dedupe_key = $1 AND status = 'queued'",
                        f"contacts.run_import:{fx_shop.slug}:{import_id}")
    token = await csrf_from(fx_client, page_url)
    pressed = await fx_client.post(f"/t/{fx_shop.slug}/contacts/import/{import_id}/start", data={"_csrf": token},
                                   headers={"accept": "text/html"})
    assert pressed.status_code == 303, pressed.text
    assert [j["status"] for j in await query_test_db(
        "SELECT status FROM public.pgqueuer WHERE dedupe_key = $1 ORDER BY id",
        f"contacts.run_import:{fx_shop.slug}:{import_id}")] == ["failed", "failed", "queued"]

    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    try:
        async def finished() -> bool:
            return (await read_import(fx_client, fx_shop, import_id))["status"] == "done"

        await until("the resumed import finishes", finished)
    finally:
        await worker.stop()
    assert await contact_count(fx_shop, "held") == 30
    audit = (await fx_client.get(api(fx_shop, "/audit"), headers=fx_shop.auth)).json()["items"]
    assert any(e["action"] == "contact_import.resumed" for e in audit)


# -- 2. PostgreSQL drops every connection ------------------------------------------------------------------------

async def test_web_worker_and_mail_in_recover_when_postgres_drops_their_connections(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    smtp_port = free_port()
    worker = Cli("worker")
    mail_in = Cli("mail-in", "--port", str(smtp_port))
    web = ServerProcess({"EMBEDDED_WORKER": "false"}).start()
    async with processes(web, worker, mail_in):
        await web.wait_ready(60)
        await until("worker and mail-in are healthy", lambda: _all(healthy(worker), healthy(mail_in)),
                    worker, mail_in)
        async with httpx.AsyncClient(base_url=web.url, timeout=10) as client:
            load = _Load(client, fx_shop)
            load.start()
            await until("light load runs", lambda: load.answered(5), worker)
            assert await terminate_connections() >= 3  # at least the web pool, the worker's queue, mail-in's pool

            await until("the worker reports it reconnected", lambda: _all(healthy(worker)), worker)
            await until("mail-in is healthy", lambda: _all(healthy(mail_in)), mail_in)
            seen = load.count
            await until("the API answers again", lambda: load.answered(seen + 10), worker)
            await load.stop()
            after = load.statuses[seen:]
            assert after and all(s == 200 for s in after), after

            import_id = await start_import(client, fx_shop, 20, "drop")

            async def imported() -> bool:
                return (await read_import(client, fx_shop, import_id))["status"] == "done"

            await until("an import queued after the drop runs on the same worker", imported, worker)
        assert "connection_recovered" in worker.output() and "job_queue" in worker.output()

        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "kate@customer.example", _address(fx_shop), "After the drop"
        msg.set_content("Still there?")
        await terminate_connections()
        refused, _ = await aiosmtplib.send(msg, hostname="127.0.0.1", port=smtp_port)
        assert refused == {}

        async def mail_processed() -> bool:
            async with tenant_context(fx_shop.tenant):
                rows = await InboundMail.select(InboundMail.processed_at).where(
                    InboundMail.rcpt_to == _address(fx_shop))
            return bool(rows) and all(r["processed_at"] is not None for r in rows)

        await until("mail received after a drop is stored and processed", mail_processed, worker, mail_in)


def _address(shop: ShopFixture) -> str:
    return f"{shop.slug}@{get_settings().mail.mail_domain}"


async def _all(*checks: Awaitable[bool]) -> bool:
    return all(await asyncio.gather(*checks))


class _Load:
    """A steady trickle of API reads, as consoles make; records each answer's status."""

    def __init__(self, client: httpx.AsyncClient, shop: ShopFixture) -> None:
        self.client, self.shop = client, shop
        self.statuses: list[int] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        return len(self.statuses)

    async def answered(self, n: int) -> bool:
        return self.count >= n

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                resp = await self.client.get(api(self.shop, "/contacts"), headers=self.shop.auth)
                self.statuses.append(resp.status_code)
            except httpx.HTTPError:
                self.statuses.append(0)
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# -- 3. /health ---------------------------------------------------------------------------------------------------

async def test_health_names_the_part_that_is_down_and_recovers(fx_client: Any, fx_shop: ShopFixture) -> None:
    web = ServerProcess({"EMBEDDED_WORKER": "true", **FAST}).start()
    worker = Cli("worker")
    async with processes(web, worker):
        await web.wait_ready(60)
        await until("the worker is healthy", lambda: healthy(worker), worker)
        async with httpx.AsyncClient(base_url=web.url, timeout=10) as client:
            body = (await client.get("/health")).json()
            assert body["status"] == "ok" and body["failing"] == [] and body["worker"] == "ok", body
            assert body["listeners"] == "ok", body  # the event spine's durable listeners run here too
            assert set(body["jobs"]) == {"ready", "running", "held", "oldest_ready_seconds"}
            status, wbody = await worker.health()
            assert status == 200 and wbody["worker"] == "ok" and wbody["db"] == "ok", wbody
            assert wbody["listeners"] == "ok", wbody

            await allow_connections(False)
            try:
                await terminate_connections()

                async def web_down() -> bool:
                    resp = await client.get("/health")
                    failing = resp.json()["failing"]
                    return resp.status_code == 503 and "db" in failing and "worker" in failing

                async def worker_down() -> bool:
                    status, body = await worker.health()
                    return status == 503 and "db" in body["failing"] and "worker" in body["failing"]

                await until("the web app's /health names the database and its worker", web_down, worker)
                await until("the worker's /health names the database and itself", worker_down, worker)
                down = (await client.get("/health")).json()
                assert down["worker"].startswith("error:") and down["status"] == "degraded", down
            finally:
                await allow_connections(True)

            async def web_up() -> bool:
                return (await client.get("/health")).status_code == 200

            await until("the web app and its embedded worker recover", web_up, worker)
            await until("the standalone worker recovers", lambda: healthy(worker), worker)
            import_id = await start_import(client, fx_shop, 20, "outage")

            async def imported() -> bool:
                return (await read_import(client, fx_shop, import_id))["status"] == "done"

            await until("a job queued after the outage runs", imported, worker)


async def test_health_port_answers_only_health(fx_db: str) -> None:
    worker = Cli("worker")
    async with processes(worker):
        await until("the worker is healthy", lambda: healthy(worker), worker)
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{worker.health_port}/other", timeout=5)
        assert resp.status_code == 404 and "health" in resp.json()["detail"]
        worker.proc.send_signal(signal.SIGINT)
        assert await worker.exited() == 0
        assert "worker_stopped" in worker.output()


# -- 4. a job that does not checkpoint and outlives the stop's grace ----------------------------------------------

async def test_a_job_still_running_after_the_grace_goes_back_to_the_queue(
        fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short jobs do not call `checkpoint()`; one still running when WORKER_STOP_SECONDS is over is cancelled and
    put back (not logged `canceled` and deleted, as PgQueuer would), and the next worker runs it to the end."""
    from app.lib import jobs

    started, finished = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(payload: dict[str, Any]) -> None:
        runs.append("start")
        started.set()
        if len(runs) == 1:
            await asyncio.Event().wait()  # the first run never ends by itself
        finished.set()

    monkeypatch.setitem(jobs._REGISTRY, "tests.slow", jobs.JobSpec(slow))  # the registry app/jobs.py handed to lib
    async with tenant_context(fx_shop.tenant):
        await jobs.enqueue("tests.slow", {"n": 1}, dedupe_key=f"tests.slow:{fx_shop.slug}")

    def rows() -> Awaitable[list[dict[str, Any]]]:
        return query_test_db("SELECT status, attempts FROM public.pgqueuer WHERE dedupe_key = $1",
                             f"tests.slow:{fx_shop.slug}")

    first = Worker(TEST_DSN, poll_seconds=0.2, stop_seconds=0.5)
    await first.start()
    try:
        await asyncio.wait_for(started.wait(), 30)
    finally:
        await first.stop()
    assert await rows() == [{"status": "queued", "attempts": 0}]

    second = Worker(TEST_DSN, poll_seconds=0.2)
    await second.start()
    try:
        await asyncio.wait_for(finished.wait(), 30)

        async def gone() -> bool:
            return await rows() == []

        await until("the finished job leaves the queue", gone)
    finally:
        await second.stop()
    assert runs == ["start", "start"]
