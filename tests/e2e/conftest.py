"""Browser tests: the real app as a subprocess (uvicorn), a real SMTP server, headless Debian Chromium.

Reusable fixtures for every e2e test:

- `fx_smtp_server` (session): an aiosmtpd server on 127.0.0.1 that keeps every message it receives.
- `fx_smtp` (per test): a view of that server's inbox holding only mail that arrived during the test;
  `await fx_smtp.wait_for(to="a@b.example")` polls until a message for that address is there.
- `fx_live_db` (session): a database of the live server's own (platform migrations and job queue installed by
  `switchboard migrate`), separate from the in-process tests' `fx_db`; see the fixture for why.
- `fx_live_server` (session): `uvicorn app.asgi:create_app --factory` on a free loopback port, on `fx_live_db`,
  with the embedded job worker on and platform mail going to `fx_smtp_server`. `.url` is its base URL.
  When a test fails, what the server logged during that test is added to the report.
- `fx_browser` (session): headless Chromium driven by Playwright (async API).
- `fx_new_context` (per test): `await fx_new_context()` opens a browser context (own cookies) whose relative URLs go
  to the live server; closed after the test. Requests to anything but loopback are aborted and fail the test.
  On failure, a screenshot and the HTML of each open page are saved (the report names the folder).
- `fx_page` (per test): one page in a fresh context, for tests that need a single user.
- helpers: `live_signup(server)` creates a shop through the JSON API; `sign_in(page, slug, email, password)`.

Every test under tests/e2e/ gets the `e2e` marker and the `xdist_group("e2e")` group, so with `--dist loadgroup`
all browser tests share one worker (one server, one browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import ADMIN_DSN, TEST_DB

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
SERVER_START_SECONDS = 30.0
BROWSER_TIMEOUT_MS = 15_000
"""Default wait for Playwright actions and `expect(...)` assertions: generous, because signup hashes a password
with argon2 and migrates a new schema, which is slow on a busy CI machine."""

REPORT_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
LOG_OFFSET_KEY = pytest.StashKey[int]()
ARTIFACTS_KEY = pytest.StashKey[Path]()


# -- markers and reports -------------------------------------------------------------------------------------------

def _is_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(str(item.path)).resolve().parents


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups to build node ids for --dist loadgroup
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_e2e(item):
            if item.get_closest_marker("e2e") is None:
                item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if not _is_e2e(item):
        return report
    item.stash.setdefault(REPORT_KEY, {})[report.when] = report
    if report.failed and report.when in {"setup", "call"}:
        server = getattr(item, "funcargs", {}).get("fx_live_server")
        if isinstance(server, LiveServer):
            report.sections.append(("live server log (this test)", server.log_since(item.stash.get(LOG_OFFSET_KEY, 0))))
        artifacts = item.stash.get(ARTIFACTS_KEY, None)
        if artifacts is not None:
            report.sections.append(("browser artifacts", f"screenshots and page HTML are saved to {artifacts}"))
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(REPORT_KEY, {})
    return any(r.failed for r in reports.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- mail ----------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    def links(self) -> list[str]:
        """Every http(s) URL in the plain-text and HTML bodies, in order, without duplicates."""
        found = re.findall(r"https?://[^\s\"'<>]+", self.text + "\n" + self.html)
        return list(dict.fromkeys(found))

    def link(self, contains: str = "") -> str:
        matches = [u for u in self.links() if contains in u]
        assert matches, f"no link containing {contains!r} in mail {self.subject!r}:\n{self.text}"
        return matches[0]


class SmtpServer:
    """aiosmtpd handler + controller: keeps every message; thread-safe (the server runs on its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Mail] = []
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = Controller(self, hostname=self.host, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(envelope.mail_from or "", tuple(r.lower() for r in envelope.rcpt_tos), message)
        with self._lock:
            self._messages.append(mail)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def snapshot(self) -> list[Mail]:
        with self._lock:
            return list(self._messages)


class Mailbox:
    """What the SMTP server received since this view was opened (one per test)."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._start = len(server.snapshot())

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def messages(self) -> list[Mail]:
        return self.server.snapshot()[self._start:]

    def to(self, address: str) -> list[Mail]:
        address = address.lower()
        return [m for m in self.messages if address in m.rcpt_tos]

    async def wait_for(self, *, to: str, count: int = 1, timeout: float = 20.0) -> Mail:
        """The `count`-th message to `to` (1 = the first), waiting up to `timeout` seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.to(to)
            if len(got) >= count:
                return got[count - 1]
            if time.monotonic() > deadline:
                seen = [(m.rcpt_tos, m.subject) for m in self.messages]
                raise AssertionError(f"no mail #{count} to {to} within {timeout}s; received during this test: {seen}")
            await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def fx_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fx_smtp(fx_smtp_server: SmtpServer) -> Mailbox:
    return Mailbox(fx_smtp_server)


# -- the app as a real server --------------------------------------------------------------------------------------

LIVE_DB = f"{TEST_DB}_live"
LIVE_DSN = ADMIN_DSN.rsplit("/", 1)[0] + f"/{LIVE_DB}"


@dataclasses.dataclass
class LiveServer:
    url: str
    """Base URL, e.g. http://127.0.0.1:41234 (no trailing slash)."""
    dsn: str
    """The server's own database (see `fx_live_db`)."""
    process: asyncio.subprocess.Process
    log_path: Path

    def __str__(self) -> str:
        return self.url

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int = 0) -> str:
        if not self.log_path.exists():
            return "(no log)"
        with self.log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")[-20_000:] or "(nothing logged)"

    def check_alive(self) -> None:
        code = self.process.returncode
        if code is not None:
            pytest.fail(f"the live server exited with code {code}; its log:\n{self.log_since()}", pytrace=False)


def _server_env(dsn: str, state_dir: Path, *, port: int = 0, smtp: SmtpServer | None = None) -> dict[str, str]:
    """The environment of the app's processes: settings are read from it once, at start-up."""
    env = dict(os.environ)  # tests/conftest.py has already set SECRET_KEY, LOGIN_LOCK_SECONDS, ...
    for name in ("REDIS_URL", "SMTP_USER", "SMTP_PASSWORD", "HOST", "PORT"):
        env.pop(name, None)
    env.update({
        "SWITCHBOARD_ENV": "dev",
        "DATABASE_URL": dsn,
        "BASE_URL": f"http://127.0.0.1:{port}",
        "EMBEDDED_WORKER": "true",
        "SMTP_HOST": smtp.host if smtp else "127.0.0.1",
        "SMTP_PORT": str(smtp.port if smtp else 1),  # no SMTP server: sending fails, it never leaves loopback
        "SMTP_TLS": "none",
        "MAIL_CATCHER": "false",
        "AUTH_RATE_PER_MINUTE": "100000",
        "STATE_DIR": str(state_dir),
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "10",
        "PYTHONUNBUFFERED": "1",
    })
    return env


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _run_cli(args: list[str], env: dict[str, str], log_path: Path) -> None:
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", *args, cwd=REPO_ROOT, env=env,
                                                       stdout=log, stderr=subprocess.STDOUT,
                                                       stdin=subprocess.DEVNULL)
    if await asyncio.wait_for(process.wait(), timeout=120) != 0:
        raise RuntimeError(f"`switchboard {' '.join(args)}` failed:\n{log_path.read_text()}")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def fx_live_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database of its own for the live server, brought to head by `switchboard migrate` (platform + job queue).

    Not the in-process tests' database (`fx_db`): the server's embedded job worker takes every job in its database,
    so sharing one would let it steal (and mail out) jobs that integration tests on this xdist worker expect their
    own worker to run. Seed e2e data through the live server (its pages or JSON API), as a user would.
    """
    await _admin(f'DROP DATABASE IF EXISTS "{LIVE_DB}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{LIVE_DB}"')
    workdir = tmp_path_factory.mktemp("live-db")
    try:
        await _run_cli(["migrate"], _server_env(LIVE_DSN, workdir), workdir / "migrate.log")
        yield LIVE_DSN
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{LIVE_DB}" WITH (FORCE)')


async def _start_server(smtp: SmtpServer, dsn: str, workdir: Path) -> LiveServer:
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    state_dir = workdir / "state"
    state_dir.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--no-server-header",
            cwd=REPO_ROOT, env=_server_env(dsn, state_dir, port=port, smtp=smtp),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LiveServer(f"http://127.0.0.1:{port}", dsn, process, log_path)
    deadline = time.monotonic() + SERVER_START_SECONDS
    async with httpx.AsyncClient(base_url=server.url, timeout=2.0, trust_env=False) as client:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"exit code {process.returncode}\n{server.log_since()}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return server
            if time.monotonic() > deadline:
                await _stop(process)
                raise RuntimeError(f"/health did not answer 200 within {SERVER_START_SECONDS}s\n{server.log_since()}")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
async def fx_live_server(fx_live_db: str, fx_smtp_server: SmtpServer,
                         tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """The real app on a free loopback port; one per xdist worker (start-up costs about a second)."""
    workdir = tmp_path_factory.mktemp("live-server")
    errors = []
    for _ in range(3):  # a free port can be taken by someone else between our probe and uvicorn's bind
        try:
            server = await _start_server(fx_smtp_server, fx_live_db, workdir)
            break
        except RuntimeError as exc:
            errors.append(str(exc))
    else:
        pytest.fail("the live server did not start:\n" + "\n----\n".join(errors), pytrace=False)
    yield server
    await _stop(server.process)
    if server.process.returncode not in (0, -signal.SIGTERM):
        sys.stderr.write(f"live server exited with {server.process.returncode}:\n{server.log_since()}\n")


@dataclasses.dataclass(frozen=True)
class LiveShop:
    slug: str
    email: str
    password: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def live_signup(server: LiveServer, prefix: str = "shop", *, shop_name: str | None = None) -> LiveShop:
    """A new shop on the live server through its JSON signup API (fast set-up for tests about something else)."""
    slug = f"{prefix}_{secrets.token_hex(4)}"
    shop = LiveShop(slug, f"owner@{slug.replace('_', '-')}.example", "owner passphrase " + secrets.token_hex(4), "")
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0, trust_env=False) as client:
        resp = await client.post("/api/v1/signup", json={"shop_name": shop_name or f"Shop {slug}", "slug": slug,
                                                         "email": shop.email, "password": shop.password})
    assert resp.status_code == 201, resp.text
    return dataclasses.replace(shop, api_key=resp.json()["api_key"])


async def sign_in(page: Any, slug: str, email: str, password: str) -> None:
    """Sign in through the login form and wait until the browser has left it."""
    await page.goto(f"/t/{slug}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(autouse=True)
def _e2e_server_watch(request: pytest.FixtureRequest) -> None:
    """For tests that use the live server: fail fast if it died, and remember where this test's log starts."""
    if "fx_live_server" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("fx_live_server")
        server.check_alive()
        request.node.stash[LOG_OFFSET_KEY] = server.log_size()


# -- the browser ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
async def fx_playwright() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
async def fx_browser(fx_playwright: Any) -> AsyncIterator[Any]:
    """Debian's Chromium, headless. Never `playwright install`: it downloads, and this machine is offline."""
    from playwright.async_api import expect

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run infra/ensure-chromium.sh", pytrace=False)
    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    browser = await fx_playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    await browser.close()


def _is_loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in {"data", "blob", "about"}:
        return True
    return (parsed.hostname or "") in LOOPBACK_HOSTS


NewContext = Callable[..., Awaitable[Any]]


@pytest.fixture
async def fx_new_context(fx_browser: Any, fx_live_server: LiveServer, request: pytest.FixtureRequest,
                         tmp_path: Path) -> AsyncIterator[NewContext]:
    """Factory of isolated browser contexts (separate cookies = separate users) aimed at the live server."""
    contexts: list[Any] = []
    blocked: list[str] = []
    artifacts = tmp_path / "browser"
    request.node.stash[ARTIFACTS_KEY] = artifacts

    async def block(route: Any) -> None:
        blocked.append(route.request.url)
        await route.abort("blockedbyclient")

    async def new_context(**kwargs: Any) -> Any:
        kwargs.setdefault("base_url", fx_live_server.url)
        kwargs.setdefault("locale", "en-US")
        kwargs.setdefault("timezone_id", "UTC")
        context = await fx_browser.new_context(**kwargs)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        await context.route(lambda url: not _is_loopback(url), block)
        contexts.append(context)
        return context

    yield new_context

    if _failed(request):
        artifacts.mkdir(parents=True, exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                with contextlib.suppress(Exception):
                    await page.screenshot(path=str(artifacts / f"context{i}-page{j}.png"), full_page=True)
                    (artifacts / f"context{i}-page{j}.html").write_text(
                        f"<!-- {page.url} -->\n" + await page.content())
    for context in contexts:
        await context.close()
    assert not blocked, f"the pages tried to reach non-loopback addresses (blocked): {blocked}"


@pytest.fixture
async def fx_page(fx_new_context: NewContext) -> Any:
    context = await fx_new_context()
    return await context.new_page()
