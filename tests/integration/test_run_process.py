"""`switchboard run` as a real process: SIGTERM and SIGINT stop every child it started (mail-in, the Twilio
simulator, the mail catcher, the embedded PostgreSQL) and free every port, so an immediate restart gets every
listener; a port it needs that is taken stops it at once, naming the port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from tests.conftest import ADMIN_DSN, REDIS_URL, RUN_ID, WORKER
from tests.servers import REPO, free_port

pytestmark = pytest.mark.xdist_group("run-process")  # heavy: one worker runs these one after another

START_WITHIN = 180.0  # a fresh database is migrated and the demo shop created on first start; generous on 2 cores
STOP_WITHIN = 60.0
PORT_NAMES = ("PORT", "MAIL_IN_PORT", "SMTP_PORT", "TWILIO_API_BASE")
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "XDG_RUNTIME_DIR")


@dataclass
class Setup:
    env: dict[str, str]
    ports: dict[str, int]
    state_dir: Path


def _setup(state_dir: Path, **extra: str) -> Setup:
    ports = {name: free_port() for name in PORT_NAMES}
    env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
    env.update({
        "SWITCHBOARD_ENV": "dev", "STATE_DIR": str(state_dir), "HOST": "127.0.0.1", "PORT": str(ports["PORT"]),
        "MAIL_IN_PORT": str(ports["MAIL_IN_PORT"]), "SMTP_PORT": str(ports["SMTP_PORT"]), "MAIL_CATCHER": "true",
        "TWILIO_API_BASE": f"http://127.0.0.1:{ports['TWILIO_API_BASE']}", "COLUMNS": "200", "TERM": "dumb",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return Setup(env, ports, state_dir)


@pytest.fixture
def fx_state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sb-run-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 ( as root, the embedded PostgreSQL runs as its own user and must reach its data)
        yield Path(tmp)


@pytest.fixture(params=["embedded", "configured"])
async def fx_run_setup(request: pytest.FixtureRequest, fx_state_dir: Path) -> AsyncIterator[tuple[str, Setup]]:
    """Embedded defaults (no DATABASE_URL, no REDIS_URL), or configured: an empty database of its own (`run`
    migrates it and creates the demo shop there, apart from other tests) and the local Redis."""
    if request.param == "embedded":
        yield "embedded", _setup(fx_state_dir)
        return
    name = f"sb_test_run_{RUN_ID}_{WORKER}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        yield "configured", _setup(fx_state_dir, DATABASE_URL=dsn, REDIS_URL=REDIS_URL,
                                   REDIS_PREFIX=f"sb-run-{RUN_ID}-{WORKER}")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class Run:
    """One `switchboard run` process, its output in a file."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.log = tempfile.NamedTemporaryFile(prefix="sb-run-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run"], cwd=REPO, env=setup.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.seen: list[psutil.Process] = []

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self) -> None:
        """Every listener accepts and the web app answers /health."""
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"run exited with {self.proc.returncode}:\n{self.output()[-5000:]}")
            if all(_listening(p) for p in self.setup.ports.values()):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{self.setup.ports['PORT']}/health", timeout=5).status_code == 200:
                        return
            time.sleep(0.2)
        raise AssertionError(f"run not ready within {START_WITHIN} s:\n{self.output()[-5000:]}")

    def tree(self) -> list[psutil.Process]:
        """Its descendants, and the processes of its embedded PostgreSQL (pg_ctl daemonizes them)."""
        procs: list[psutil.Process] = []
        if self.proc.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                procs += psutil.Process(self.proc.pid).children(recursive=True)
        pg_data = str(self.setup.state_dir / "pg")
        for p in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(pg_data in arg for arg in p.info["cmdline"] or ()):
                    procs += [p, *p.children(recursive=True)]
        self.seen += procs
        return procs

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"run did not stop within {STOP_WITHIN} s of {sig!r}:\n{self.output()[-5000:]}") from exc

    def close(self) -> None:
        left = [*self.seen, *self.tree()]  # what a failed test left behind must not outlive it
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _listener_pids(ports: dict[str, int]) -> dict[str, int | None]:
    wanted = {port: name for name, port in ports.items()}
    found: dict[str, int | None] = {name: None for name in ports}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in wanted:
            found[wanted[conn.laddr.port]] = conn.pid
    return found


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_and_check_owns_every_listener(setup: Setup, embedded: bool) -> tuple[Run, list[psutil.Process]]:
    run = Run(setup)
    run.wait_ready()
    tree = run.tree()
    names = " ".join(" ".join(p.cmdline()) for p in tree)
    assert "mail-in" in names, names  # the inbound mail listener is its child ...
    assert ("postgres" in names) is embedded, names  # ... and so, in effect, is the embedded database
    # Each listener belongs to this run (itself or its mail-in child), not to a leftover of an earlier one.
    owners = _listener_pids(setup.ports)
    ours = {run.proc.pid} | {p.pid for p in tree}
    assert all(pid in ours for pid in owners.values()), (owners, ours)
    return run, tree


def _assert_all_gone(setup: Setup, tree: list[psutil.Process], run: Run) -> None:
    left = [p for p in tree if _alive(p)]
    assert left == [], f"left running: {[(p.pid, p.cmdline()) for p in left]}\n{run.output()[-3000:]}"
    listening = [name for name, port in setup.ports.items() if _listening(port)]
    assert listening == [], f"still listening: {listening}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_stops_every_child_and_frees_every_port(sig: int, fx_run_setup: tuple[str, Setup]) -> None:
    mode, setup = fx_run_setup
    for attempt in ("first start", "immediate restart"):
        run, tree = _start_and_check_owns_every_listener(setup, embedded=mode == "embedded")
        try:
            code = run.stop(sig)
            assert code == -sig, f"{attempt}: exit {code}\n{run.output()[-3000:]}"
            _assert_all_gone(setup, tree, run)
        finally:
            run.close()


async def test_a_taken_port_stops_run_with_a_message_naming_it(fx_state_dir: Path) -> None:
    setup = _setup(fx_state_dir)
    port = setup.ports["MAIL_IN_PORT"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        run = Run(setup)
        try:
            code = run.proc.wait(STOP_WITHIN)
            out = " ".join(run.output().split())
            assert code != 0, out
            assert f"port {port}" in out and "MAIL_IN_PORT" in out, out
            assert run.tree() == []  # it stopped before starting anything (no embedded database left behind)
        finally:
            run.close()


async def test_mail_in_child_that_cannot_bind_says_so(fx_db: str) -> None:
    """Past the start-up check (another process takes the port in between), `run` still learns that its mail-in
    child did not bind: the child exits 1 naming the port and never reports ready."""
    from app.email import listener

    port = free_port()
    with socket.socket() as holder, _env(MAIL_IN_PORT=str(port)):
        holder.bind(("127.0.0.1", port))
        holder.listen()
        child = listener.spawn()
        try:
            assert child.wait_ready(START_WITHIN) is False
            assert child.returncode() == 1
        finally:
            child.stop()


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def test_mail_in_child_ends_when_its_parent_is_killed(fx_db: str) -> None:
    """SIGKILL leaves `run` no chance to clean up: its mail-in child still ends (Linux's parent-death signal)
    and frees the port, instead of taking the shops' mail as an orphan."""
    port = free_port()
    parent_code = ("import sys\nfrom app.email import listener\nchild = listener.spawn()\n"
                   "print('CHILD', child.proc.pid if child.wait_ready() else 'not ready', flush=True)\n"
                   "import time\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=REPO, stdout=subprocess.PIPE,
                              env={**os.environ, "MAIL_IN_PORT": str(port)})
    child: psutil.Process | None = None
    try:
        assert parent.stdout is not None
        lines = [parent.stdout.readline().decode()]  # the child shares the pipe: its log lines come too
        while lines[-1] and not lines[-1].startswith("CHILD "):
            lines.append(parent.stdout.readline().decode())
        said = lines[-1].split()
        assert said[1:2] and said[1].isdigit(), f"mail-in did not start: {lines}"
        child = psutil.Process(int(said[1]))
        assert _listening(port)
        parent.kill()
        parent.wait(10)
        _, alive = await asyncio.to_thread(psutil.wait_procs, [child], STOP_WITHIN)
        assert alive == [] and not _alive(child), "mail-in outlived its killed parent"
        assert not _listening(port)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if child is not None and _alive(child):
            child.kill()
