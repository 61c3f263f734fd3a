"""`switchboard` command line: run, worker, migrate, tenants, demo."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import inspect
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlparse

import click
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from app import demo as d
from app import jobs as _jobs  # noqa: F401  (hands the job registry to app.lib.jobs: the worker and mail-in enqueue)
from app.contacts import imports as contact_imports
from app.demo import (
    DEMO_ADMIN,
    DEMO_SLUG,
    ensure_demo,
    ensure_demo_automation,
    ensure_demo_chat,
    ensure_demo_hours,
    ensure_demo_quotas,
    ensure_demo_routing,
    ensure_demo_security,
    ensure_demo_service_level,
    ensure_demo_sla,
    ensure_demo_telephony,
    ensure_demo_twofa,
    ensure_demo_wallboard,
    ensure_demo_webhooks,
)
from app.domains import encrypted_columns
from app.email import listener
from app.lib import embedded_pg, health, i18n, logs
from app.lib.db import database_url, direct_database_url, resolve_active, start_database, stop_database, tenant_context
from app.lib.errors import DomainError
from app.lib.i18n import N_, ngettext
from app.lib.i18n import gettext as _
from app.lib.imports import ImportActor
from app.lib.jobs import Worker, install_queue
from app.lib.mail import start_catcher
from app.lib.templates import word
from app.listeners import DURABLE
from app.reports import services as reports
from app.security.rotation import TenantRotation, rotate_all
from app.settings import SettingsError, get_settings
from realtime.durable import Spine
from telephony.simulator.serve import serve, start_in_thread
from tenants import baseline, baseline_make, services
from tenants import services as tenants_service
from tenants.provisioning import all_tenants, migrate_all
from tenants.services import migrate_platform

console = Console()
T = TypeVar("T")


def _settings() -> Any:
    try:
        return get_settings()
    except SettingsError as exc:
        console.print(f"[red]{_('Configuration error:')}[/red] {exc}")
        sys.exit(2)


def _with_db(fn: Callable[[], Awaitable[T]], pool_max: int = 4) -> T:
    """Run `fn` with the pool open (the embedded database must already be up when DATABASE_URL is unset), at most
    `pool_max` connections (or DB_POOL_MIN when larger)."""
    async def main() -> T:
        settings = _settings()
        await start_database(database_url(), 1, max(pool_max, settings.db.pool_min))
        try:
            return await fn()
        finally:
            await stop_database()

    return asyncio.run(main())


class _Group(click.Group):
    """Speaks the terminal's language from the start, `--help` included (help texts are catalogue entries: option
    help is marked N_, command docstrings are extracted by lib/i18n_extract)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        i18n.activate(i18n.Viewer(i18n.pick(accept_language=i18n.posix_languages(os.environ))))
        _translate_help(self)
        return super().main(*args, **kwargs)


def _translate_help(command: click.Command) -> None:
    if command.help:
        command.help = _(inspect.cleandoc(command.help))  # a docstring, as lib/i18n_extract reads it
    for param in command.params:
        if getattr(param, "help", None):
            param.help = _(param.help)  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        _translate_help(sub)


@click.group(cls=_Group)
def main() -> None:
    """Switchboard: a multi-tenant contact-center CRM."""
    logs.configure()  # every command logs plain tracebacks: structlog's rich ones print locals (secrets)
    # Messages follow the terminal's locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG: ru_RU.UTF-8 -> Russian).
    i18n.activate(i18n.Viewer(i18n.pick(accept_language=i18n.posix_languages(os.environ))))


def _ensure_database() -> Any:
    """Use DATABASE_URL, or start the embedded PostgreSQL and point DATABASE_URL at it."""
    settings = _settings()
    if settings.db.url:
        return None
    with console.status(_("Starting embedded PostgreSQL…")):
        server, uri = embedded_pg.start(settings.app.state_dir)
    os.environ["DATABASE_URL"] = uri
    get_settings.cache_clear()
    console.print(_("[green]Embedded PostgreSQL[/green] running, data in %(path)s", path=settings.app.state_dir / "pg"))
    return server


@contextlib.contextmanager
def _database() -> Iterator[None]:
    """DATABASE_URL, or an embedded PostgreSQL that lives as long as the command."""
    server = _ensure_database()
    try:
        yield
    finally:
        if server is not None:
            server.cleanup()


async def _file_chunks(path: Path, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    """A local file's bytes, a MiB at a time, read off the event loop (an import's file is never held whole)."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, size):
            yield chunk
    finally:
        handle.close()


def _db_call(fn: Callable[[], Awaitable[T]], pool_max: int = 4) -> T:
    """A one-shot command: the database (embedded if needed) and the pool around one coroutine."""
    with _database():
        return _with_db(fn, pool_max)


async def _prepare(progress: bool = True) -> Any:
    await install_queue()
    return await migrate_all(on_progress=None)


class _Stopped(BaseException):
    """SIGTERM or SIGINT arrived outside uvicorn's own handling: unwind so every child is stopped first."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum: int, frame: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):  # the clean-up runs once, to the end
        signal.signal(sig, signal.SIG_IGN)
    raise _Stopped(signum)


def _listeners(settings: Any, demo: bool, mail_in: bool = True) -> list[tuple[str, str, int]]:
    """Every (setting, host, port) `run` listens on."""
    ports = [("PORT", settings.app.host, settings.app.port)]
    if mail_in:
        ports.append(("MAIL_IN_PORT", settings.mail.mail_in_host, settings.mail.mail_in_port))
    if mail_in and settings.jobs.health_port:
        ports.append(("WORKER_HEALTH_PORT (mail-in's /health)", "127.0.0.1", settings.jobs.health_port))
    if settings.mail.catcher:
        ports.append(("SMTP_PORT (mail catcher)", settings.mail.smtp_host, settings.mail.smtp_port))
    if demo and _simulated(settings):
        url = urlparse(settings.app.twilio_api_base)
        ports.append(("TWILIO_API_BASE (Twilio simulator)", str(url.hostname), int(url.port or 0)))
    return ports


def _port_taken(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (None when it can); the servers set SO_REUSEADDR, so do we."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _cannot_listen(what: str, host: str, port: int, reason: str) -> NoReturn:
    console.print(_("[red]Cannot start:[/red] %(what)s cannot listen on %(host)s:%(port)s (port %(port)s): "
                    "%(reason)s. Stop whatever holds it or choose another port.", what=what, host=host, port=port,
                    reason=reason))
    sys.exit(1)


@main.command()
@click.option("--host", default=None, help=N_("Bind address (default HOST or 127.0.0.1)."))
@click.option("--port", default=None, type=int, help=N_("Port (default PORT or 8000)."))
@click.option("--demo/--no-demo", default=True, help=N_("Create the demo tenant if missing."))
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help=N_("Web processes serving the one port (default WEB_WORKERS or 1); more than one needs REDIS_URL. "
                      "The embedded PostgreSQL, simulator, mail catcher and mail-in stay single."))
@click.option("--mail-in/--no-mail-in", default=True,
              help=N_("Start the inbound SMTP listener beside the web app (off when `switchboard mail-in` runs "
                      "elsewhere)."))
def run(host: str | None, port: int | None, demo: bool, workers: int | None, mail_in: bool) -> None:
    """Serve the web app (embedded PostgreSQL, in-memory fan-out and mail catcher when not configured).

    SIGTERM and SIGINT stop everything it started (mail-in, the simulator, the mail catcher, the embedded
    PostgreSQL) before it exits; a port it needs that is taken stops it at once with exit status 1."""
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.ExitStack() as stack:
            _run(stack, host, port, demo, workers, mail_in)
    except _Stopped as stop:
        # End the way the signal meant (what uvicorn does after its own graceful stop): killed by it.
        for stream in (sys.stdout, sys.stderr):  # dying by a signal skips Python's own flush at exit
            with contextlib.suppress(Exception):
                stream.flush()
        signal.signal(stop.signum, signal.SIG_DFL)
        signal.raise_signal(stop.signum)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(stack: contextlib.ExitStack, host: str | None, port: int | None, demo: bool, workers: int | None,
         with_mail_in: bool = True) -> None:
    """`run`'s body; each thing it starts is pushed on `stack`, which stops them in reverse order."""

    if host or port:
        os.environ.update({k: str(v) for k, v in (("HOST", host), ("PORT", port)) if v})
        get_settings.cache_clear()
    settings = _settings()
    workers = workers or settings.app.workers
    if workers > 1 and not settings.redis.url:
        console.print(_("[red]Cannot start:[/red] %(reason)s", reason=_(
            "%(num)s web processes need REDIS_URL: without it each process only sees its own events.", num=workers)))
        sys.exit(2)
    for what, bind_host, bind_port in _listeners(settings, demo, with_mail_in):
        reason = _port_taken(bind_host, bind_port)
        if reason:
            _cannot_listen(what, bind_host, bind_port, reason)
    server = _ensure_database()
    if server is not None:
        stack.callback(server.cleanup)
    settings = _settings()
    if settings.mail.catcher:
        def announce(path: Any, envelope: Any) -> None:
            msg = email.message_from_bytes(envelope.content)
            text = ""
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", "replace")
                    break
            console.print(Panel(_("[b]To:[/b] %(to)s\n[b]Subject:[/b] %(subject)s", to=msg["To"],
                                  subject=msg["Subject"]) + f"\n\n{text}",
                                title=_("mail caught → %(path)s", path=path), expand=False))

        try:
            catcher = start_catcher(settings.mail.smtp_host, settings.mail.smtp_port,
                                    settings.app.state_dir / "mail", announce)
        except OSError as exc:
            _cannot_listen(_("the mail catcher (SMTP_PORT)"), settings.mail.smtp_host, settings.mail.smtp_port,
                           exc.strerror or str(exc))
        stack.callback(catcher.stop)
        console.print(_("[green]Mail catcher[/green] on %(host)s:%(port)s; mail is shown here and kept in %(path)s",
                        host=settings.mail.smtp_host, port=settings.mail.smtp_port,
                        path=settings.app.state_dir / "mail"))

    async def prepare() -> bool:
        await _prepare()
        if demo:
            made = await ensure_demo()
            await ensure_demo_telephony()
            await ensure_demo_routing()
            await ensure_demo_hours()
            await ensure_demo_sla()
            await ensure_demo_service_level(DEMO_SLUG)
            await ensure_demo_automation()
            await ensure_demo_webhooks(DEMO_SLUG)
            await ensure_demo_twofa(DEMO_SLUG, DEMO_ADMIN[0])
            await ensure_demo_security(DEMO_SLUG)
            await ensure_demo_quotas(DEMO_SLUG)
            await ensure_demo_wallboard(DEMO_SLUG)
            if _simulated(settings):
                await ensure_demo_chat(settings.app.twilio_api_base.rstrip("/"))
            return made
        return False

    created = _with_db(prepare)
    phones = _start_simulator(settings, stack) if demo else None
    _banner(settings, demo, created)
    if phones:
        console.print(Panel(_("Twilio simulator: [b]%(url)s/[/b]  (call or text the demo shop, answer operator "
                              "phones)\nSign in to the demo console as the operator, then call from the customer "
                              "phone.\nWeb chat: the shop's website at [b]%(url)s/shop[/b] has the chat bubble.",
                              url=phones), title=_("Phones"), expand=False))
    if with_mail_in:
        mail_in = listener.spawn()
        stack.callback(mail_in.stop)
        if not mail_in.wait_ready():
            _cannot_listen(_("the inbound mail listener (mail-in, exit status %(status)s)",
                             status=mail_in.returncode()),
                           settings.mail.mail_in_host, settings.mail.mail_in_port, _("see its message above"))
    # With workers > 1 uvicorn's supervisor binds the port once and serves it from that many processes (each runs
    # the app factory and its lifespan); SIGTERM/SIGINT stop them all, then `stack` stops what this process started.
    # The supervisor kills a process that does not answer its ping in time: a fresh one still starting Python on a
    # busy machine took more than uvicorn's 5 s here, so it gets 30.
    uvicorn.run("app.asgi:create_app", factory=True, host=settings.app.host, port=settings.app.port,
                log_level="info", lifespan="on", workers=workers, timeout_worker_healthcheck=30)


def _simulated(settings: Any) -> bool:
    """TWILIO_API_BASE on loopback: `run` serves the simulator there (and its /shop page plays the demo's website)."""
    url = urlparse(settings.app.twilio_api_base)
    return url.hostname in ("127.0.0.1", "localhost") and bool(url.port)


def _start_simulator(settings: Any, stack: contextlib.ExitStack) -> str | None:
    """When TWILIO_API_BASE is a loopback address, the Twilio simulator serves it (REST API + phone page), with
    the demo shop's account and number; its webhooks go to this server."""

    if not _simulated(settings):
        return None
    url = urlparse(settings.app.twilio_api_base)
    assert url.hostname and url.port
    try:
        simulator = start_in_thread(url.hostname, url.port, account_sid=d.DEMO_TWILIO_SID,
                                    auth_token=d.DEMO_TWILIO_TOKEN, number=d.DEMO_NUMBER,
                                    webhook_base=f"{settings.app.base_url}/t/{d.DEMO_SLUG}/webhooks/twilio",
                                    devices=list(d.DEMO_DEVICES.values()),
                                    shop_widget=f"{settings.app.base_url}/t/{d.DEMO_SLUG}/widget.js")
    except RuntimeError as exc:
        _cannot_listen(_("the Twilio simulator (TWILIO_API_BASE)"), url.hostname, url.port, str(exc))
    stack.callback(simulator.stop)
    return str(settings.app.twilio_api_base)


def _banner(settings: Any, demo: bool, created: bool) -> None:
    lines = [_("Open [b]%(url)s/[/b]  (sign up a new shop at %(url)s/signup)", url=settings.app.base_url),
             _("API docs: %(url)s/schema", url=settings.app.base_url)]
    if demo:
        login = f"{settings.app.base_url}/t/{d.DEMO_SLUG}/login"
        lines += ["", _("Demo shop: [b]%(url)s[/b]", url=login) + (_(" (created now)") if created else "")]
        lines += [f"  {role:<10} {email} / {password}" for email, password, _key, role in d.DEMO_TEAM]
        wallboard = settings.app.base_url + d.demo_wallboard_path(d.DEMO_SLUG)
        lines += [_("Wallboard for a wall screen: %(url)s", url=wallboard)]
    console.print(Panel("\n".join(lines), title=_("Switchboard is starting"), expand=False))


@main.command("mail-in")
@click.option("--host", default=None, help=N_("Bind address (default MAIL_IN_HOST or 127.0.0.1)."))
@click.option("--port", default=None, type=int, help=N_("Port (default MAIL_IN_PORT or 2525)."))
@click.option("--health-port", default=None, type=int,
              help=N_("Answer GET /health on 127.0.0.1:PORT, 200 or 503 (default WORKER_HEALTH_PORT; unset: none)."))
@click.option("--ready-fd", default=None, type=int, hidden=True, help=N_("`run`: a pipe told when it listens."))
@click.option("--parent", default=None, type=int, hidden=True, help=N_("`run`: the process whose end ends this one."))
def mail_in(host: str | None, port: int | None, health_port: int | None, ready_fd: int | None,
            parent: int | None) -> None:
    """Receive every shop's inbound email over SMTP (addresses <slug>@MAIL_DOMAIN)."""
    if parent is not None:
        listener.die_with_parent(parent)
    with _database():
        try:
            listener.main(host, port, health_port=health_port or _settings().jobs.health_port,
                          ready_fd=ready_fd)
        except listener.ListenError as exc:
            console.print(_("[red]Cannot start:[/red] %(reason)s", reason=exc))
            sys.exit(1)


async def _start_spine() -> Any:
    """The durable listeners (app/listeners.py) run beside the job worker."""
    spine = Spine(direct_database_url(), DURABLE)
    await spine.start()
    return spine


@main.command()
@click.option("--health-port", default=None, type=int,
              help=N_("Answer GET /health on 127.0.0.1:PORT, 200 or 503 (default WORKER_HEALTH_PORT; unset: none)."))
@click.option("--concurrency", default=None, type=click.IntRange(min=1),
              help=N_("Most jobs run at once (default WORKER_CONCURRENCY; unset: batches of 10, no cap)."))
def worker(health_port: int | None, concurrency: int | None) -> None:
    """Process background jobs (set EMBEDDED_WORKER=false on web processes when you run this).

    SIGTERM or SIGINT stops it gracefully: no new jobs; running ones get WORKER_STOP_SECONDS to finish, long ones
    (imports) go back to the queue at their next batch, and any still running then are put back for the next worker.
    """
    port = health_port or _settings().jobs.health_port

    async def work() -> None:
        await install_queue()
        w = Worker(direct_database_url(), concurrency=concurrency)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await w.start()
        spine = await _start_spine()
        health.register("worker", w.status)
        health.register("listeners", spine.status)
        server = await health.serve(port) if port else None
        console.print(_("[green]Worker running[/green]; Ctrl-C to stop")
                      + (_("; health on %(url)s", url=f"http://127.0.0.1:{port}/health") if port else ""))
        try:
            await stop.wait()
        finally:
            await spine.stop()
            await w.stop()
            if server is not None:
                server.close()

    _db_call(work)


@main.command()
@click.option("--jobs", "-j", "--concurrency", "concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help=N_("Schemas migrated at once, each on its own connection."))
def migrate(concurrency: int) -> None:
    """Bring `public` and every tenant schema to head; failures are listed and do not stop the others."""
    async def go() -> Any:
        await install_queue()
        await migrate_platform()  # a fresh database has no tenant registry to count yet
        total = len(await all_tenants())
        with Progress(TextColumn("[b]migrate[/b]"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"),
                      console=console) as progress:
            task = progress.add_task("", total=total)

            def tick(slug: str, outcome: str) -> None:
                progress.update(task, advance=1, description=f"{slug}: {outcome}")

            return await migrate_all(concurrency=concurrency, on_progress=tick)

    report = _db_call(go, pool_max=concurrency + 1)
    console.print(ngettext("%(num)d tenant: %(migrated)d migrated, %(current)d already at head, %(failed)d failed",
                           "%(num)d tenants: %(migrated)d migrated, %(current)d already at head, %(failed)d failed",
                           report.total, migrated=len(report.migrated), current=len(report.up_to_date),
                           failed=len(report.failed)))
    if report.failed:
        table = Table(_("tenant"), _("error"), title=_("Failed (fix and re-run `switchboard migrate`)"))
        for slug, error in sorted(report.failed.items()):
            table.add_row(slug, error)
        console.print(table)
        sys.exit(1)


@main.command("baseline")
@click.option("--check", is_flag=True, help=N_("Only compare: exit 1 when tenants/baseline.sql is stale."))
def baseline_command(check: bool) -> None:
    """Write tenants/baseline.sql: a new tenant schema in its final state, in one script (needs pg_dump)."""

    async def go() -> str:
        await migrate_platform()
        return await baseline_make.generate()

    text = _db_call(go)
    if check:
        if baseline.stale(text):
            console.print(_("%(path)s is stale: run `make baseline` and commit it", path=str(baseline.BASELINE_PATH)))
            sys.exit(1)
        console.print(_("%(path)s is up to date", path=str(baseline.BASELINE_PATH)))
        return
    baseline.BASELINE_PATH.write_text(text, encoding="utf-8")
    console.print(_("Wrote %(path)s", path=str(baseline.BASELINE_PATH)))


@main.group("secrets")
def secrets_group() -> None:
    """Tenant secrets at rest: rotate the encryption key."""


@secrets_group.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every tenant secret under the newest key of SECRET_KEYS; reads go on meanwhile, re-running resumes."""
    async def go() -> Any:
        tenants = await all_tenants()
        with Progress(TextColumn("[b]rotate[/b]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=console) as progress:
            task = progress.add_task("", total=len(tenants))

            def tick(slug: str, done: TenantRotation | None) -> None:
                outcome = _("failed") if done is None else _("%(rotated)s re-encrypted, %(current)s current",
                                                             rotated=done.rotated, current=done.current)
                progress.update(task, advance=1, description=f"{slug}: {outcome}")

            return await rotate_all(tenants, encrypted_columns(), on_progress=tick)

    report = _db_call(go)
    console.print(_("Secrets: %(rotated)s re-encrypted, %(current)s already under the newest key, %(unreadable)s "
                    "unreadable, %(failed)s tenants failed", rotated=report.rotated, current=report.current,
                    unreadable=len(report.unreadable), failed=len(report.failed)))
    if report.unreadable or report.failed:
        table = Table(_("tenant"), _("error"), title=_("Not rotated (fix and re-run `switchboard secrets rotate`)"))
        for slug, error in sorted(report.failed.items()):
            table.add_row(slug, error)
        for where in report.unreadable:
            slug, _sep, column = where.partition(": ")
            table.add_row(slug, _("no key of SECRET_KEYS decrypts %(column)s", column=column))
        console.print(table)
        sys.exit(1)


@main.group()
def tenants() -> None:
    """List, create, suspend and reactivate tenants."""


@tenants.command("list")
def tenants_list() -> None:
    rows = _db_call(services.list_all)
    table = Table(_("address"), _("name"), _("status"), _("plan"), _("schema"), _("created"))
    for r in rows:
        table.add_row(r["slug"], r["name"], word(r["status"]), r["plan"], r["schema_name"],
                      f"{r['created_at']:%Y-%m-%d %H:%M}")
    console.print(table)


@tenants.command("create")
@click.argument("slug")
@click.option("--name", required=True, help=N_("Shop name."))
@click.option("--owner-email", required=True)
@click.option("--owner-password", prompt=True, hide_input=True, confirmation_prompt=True)
def tenants_create(slug: str, name: str, owner_email: str, owner_password: str) -> None:
    try:
        result = _db_call(lambda: services.signup(name, slug, owner_email, owner_password))
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        sys.exit(1)
    console.print(_("Created [b]%(slug)s[/b] in %(ms)s ms. Owner API key (shown once): %(key)s",
                    slug=result.tenant.slug, ms=f"{result.seconds * 1000:.0f}", key=result.api_key))


def _set_status(slug: str, status: str) -> None:
    try:
        _db_call(lambda: services.set_status(slug, status))
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        sys.exit(1)
    console.print(f"{slug}: {word(status)}")


@tenants.command("suspend")
@click.argument("slug")
def tenants_suspend(slug: str) -> None:
    """Suspend a shop: every URL of it answers 404 until reactivated. Its data is kept."""
    _set_status(slug, "suspended")


@tenants.command("activate")
@click.argument("slug")
def tenants_activate(slug: str) -> None:
    _set_status(slug, "active")


# -- contacts import (ingest) -------------------------------------------------------------------------------------

@main.group("contacts")
def contacts_group() -> None:
    """Contacts from the command line: import a CSV file."""


@contacts_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "slug", required=True, help=N_("The shop's address (slug)."))
@click.option("--errors-csv", "errors_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Write the refused rows, each with its reason, to this file."))
def contacts_import(path: Path, slug: str, errors_path: Path | None) -> None:
    """Import contacts from a CSV file into a shop, columns mapped from the header as the upload page guesses them,
    with a progress bar. It is the web page's import (listed there, resumable there); a worker may share its
    batches."""
    actor = ImportActor(label=_("Command line (%(user)s)", user=os.environ.get("USER") or "?"))

    async def go() -> dict[str, Any]:
        await install_queue()
        tenant = await resolve_active(slug)
        if tenant is None:
            raise click.ClickException(_("No shop %(slug)s.", slug=slug))
        async with tenant_context(tenant):
            row = await contact_imports.upload(actor, path.name, _file_chunks(path))
            await contact_imports.start(actor, row["id"])
        console.print(_("Import #%(id)s of %(rows)s rows; columns: %(mapping)s", id=row["id"], rows=row["total"],
                        mapping=", ".join(f"{h} → {f}" for h, f in zip(row["header"], row["fields"], strict=True))))
        job = asyncio.create_task(contact_imports.run(tenant, row["id"], actor_label=actor.label))
        with Progress(TextColumn("[b]import[/b]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=console) as progress:
            task = progress.add_task("", total=row["total"])
            while True:
                done = job.done()
                async with tenant_context(tenant):
                    state = await contact_imports.get(row["id"])
                progress.update(task, completed=state["processed"], description=_(
                    "%(created)s created, %(updated)s updated, %(failed)s refused", created=state["created"],
                    updated=state["updated"], failed=state["failed"]))
                if done:
                    break
                await asyncio.wait([job], timeout=0.5)
        job.result()
        if errors_path is not None and state["failed"]:
            handle = await asyncio.to_thread(errors_path.open, "wb")
            try:
                async with tenant_context(tenant):
                    async for chunk in (await contact_imports.errors_csv(row["id"]))[1]:
                        await asyncio.to_thread(handle.write, chunk)
            finally:
                handle.close()
        return state

    try:
        state = _db_call(go)
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        sys.exit(1)
    console.print(_("Import #%(id)s %(status)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
                    "%(failed)s refused", id=state["id"], status=word(state["status"]), created=state["created"],
                    updated=state["updated"], unchanged=state["unchanged"], failed=state["failed"]))
    if state["status"] != "done":
        sys.exit(1)


def _quota_option(value: str | None) -> Any:
    """A quota as typed: a whole number, `none`/`unlimited` (no limit), or absent (unchanged)."""
    if value is None:
        return services.UNSET
    if value.strip().lower() in {"none", "unlimited", "-"}:
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(_("a whole number, or `none` for unlimited")) from None
    if number < 0:
        raise click.BadParameter(_("a whole number, or `none` for unlimited"))
    return number


@tenants.command("quota")
@click.argument("slug")
@click.option("--contacts", default=None, help=N_("Most contacts (a number, or `none` for unlimited)."))
@click.option("--users", default=None, help=N_("Most users, invitations included (a number, or `none`)."))
@click.option("--storage-mb", default=None, help=N_("Most file storage in MB (a number, or `none`)."))
@click.option("--messages-per-day", default=None,
              help=N_("Most SMS and emails sent per day, UTC (a number, or `none`)."))
def tenants_quota(slug: str, contacts: str | None, users: str | None, storage_mb: str | None,
                  messages_per_day: str | None) -> None:
    """Show or set a shop's quotas; an option left out stays as it is, `none` makes it unlimited."""
    storage = _quota_option(storage_mb)
    if isinstance(storage, int):
        storage *= 1_000_000
    limits = {"contacts": _quota_option(contacts), "users": _quota_option(users), "storage": storage,
              "messages_per_day": _quota_option(messages_per_day)}
    try:
        row = _db_call(lambda: services.set_quotas(slug, **limits))
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        sys.exit(1)
    table = Table(_("quota"), _("limit"), title=_("Quotas of %(slug)s", slug=row["slug"]))

    def limit(value: int | None, unit: int = 1, suffix: str = "") -> str:
        return _("unlimited") if value is None else f"{value // unit}{suffix}"

    table.add_row(_("contacts"), limit(row["quota_contacts"]))
    table.add_row(_("users"), limit(row["quota_users"]))
    table.add_row(_("storage"), limit(row["quota_storage_bytes"], 1_000_000, " MB"))
    table.add_row(_("messages per day"), limit(row["quota_messages_per_day"]))
    console.print(table)
@main.group("reports")
def reports_group() -> None:
    """Reporting facts and rollups."""


@reports_group.command("rebuild")
@click.option("--tenant", "slug", default=None, help=N_("Only this shop (its address); default: every shop."))
def reports_rebuild(slug: str | None) -> None:
    """Project every conversation's facts and every 15-minute rollup again from history (the same code the live
    listener runs: the result equals the live facts)."""
    async def go() -> list[tuple[str, int, int]]:
        tenants = [t for t in await all_tenants() if slug is None or t.slug == slug]
        if slug is not None and not tenants:
            raise click.ClickException(_("No shop %(slug)s.", slug=slug))
        done: list[tuple[str, int, int]] = []
        with Progress(TextColumn("[b]{task.fields[slug]}[/b] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            for tenant in tenants:
                task = progress.add_task("", total=None, slug=tenant.slug)

                def tick(phase: str, count: int, total: int, task: Any = task) -> None:
                    progress.update(task, completed=count, total=total, description=_(phase))

                result = await reports.rebuild(tenant, tick)
                done.append((tenant.slug, result.conversations, result.buckets))
        return done

    for tenant_slug, conversations, buckets in _db_call(go):
        console.print(_("%(slug)s: %(conversations)s conversations, %(buckets)s fifteen-minute buckets rebuilt",
                        slug=tenant_slug, conversations=conversations, buckets=buckets))


@main.command()
@click.option("--seed", default=None, type=int,
              help=N_("Seed of the demo's history (default 13): same seed, same shop."))
@click.option("--locale", default=None, type=click.Choice(["en_US", "ru_RU", "bg_BG"]),
              help=N_("Language and country of the demo's customers (default en_US)."))
@click.option("--anchor", default=None, type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
              help=N_("UTC moment the 90 days of history end at (default: now). Pin it to get the very same "
                      "timestamps."))
def demo(seed: int | None, locale: str | None, anchor: dt.datetime | None) -> None:
    """Create the demo shop, its team and its 90 days of history if missing (a second run changes nothing)."""

    async def go() -> tuple[bool, dict[str, Any] | None]:
        await _prepare()
        made = await d.ensure_demo(seed=d.DEFAULT_SEED if seed is None else seed, locale=locale or d.DEFAULT_LOCALE,
                                   anchor=anchor.replace(tzinfo=dt.UTC) if anchor else None)
        tenant = await tenants_service.resolve_active(d.DEMO_SLUG)
        return made, (await d.seeded(tenant) if tenant else None)

    started = time.perf_counter()
    created, how = _db_call(go)
    took = time.perf_counter() - started
    if how:
        console.print(_("Demo history: seed %(seed)s, %(locale)s, ending %(anchor)s: %(contacts)s contacts, "
                        "%(orders)s orders, %(deals)s deals, %(conversations)s conversations, %(items)s timeline "
                        "items", seed=how["seed"], locale=how["locale"], anchor=how["anchor"],
                        contacts=how["contacts"], orders=how["orders"], deals=how["deals"],
                        conversations=how["conversations"], items=how["timeline_items"])
                      + (_(" (made in %(s)s s)", s=f"{took:.1f}") if created
                         else _(" (already there; nothing changed)")))
        if not created and ((seed is not None and seed != how["seed"]) or (locale and locale != how["locale"])):
            console.print(_("[yellow]The demo shop was seeded before with other options; it is kept as it is."
                            "[/yellow]"))
    _banner(_settings(), True, created)


@main.command("twilio-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8010, show_default=True, type=int)
@click.option("--account-sid", default=None, help=N_("AC… of the simulated account (default: a new one)."))
@click.option("--auth-token", default=None,
              help=N_("Its Auth Token (default: a new one); save both in the shop's settings."))
@click.option("--number", default="+14155550100", show_default=True, help=N_("The shop's simulated Twilio number."))
@click.option("--webhook-base", required=True,
              help=N_("The shop's webhook base, e.g. http://127.0.0.1:8000/t/demo/webhooks/twilio"))
def twilio_sim(host: str, port: int, account_sid: str | None, auth_token: str | None, number: str,
               webhook_base: str) -> None:
    """Run the Twilio simulator (REST API + signed webhooks); point TWILIO_API_BASE at it."""
    serve(host, port, account_sid=account_sid, auth_token=auth_token, number=number, webhook_base=webhook_base)


if __name__ == "__main__":
    main()
