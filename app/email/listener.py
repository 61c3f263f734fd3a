"""The inbound SMTP listener (aiosmtpd): routes RCPT TO to a tenant, stores the raw mail and its job in one transaction.

Unknown addresses get 550 at RCPT, mail over MAIL_IN_MAX_BYTES gets 552 (aiosmtpd's data size limit), mail
without a parseable From gets 550 at the end of DATA; a database failure is a 451 so the sender retries.
"""

from __future__ import annotations

import asyncio
import ctypes
import email.utils
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from email import policy
from email.parser import BytesParser

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from app.email import parse
from app.email.tables import InboundMail
from app.lib import health
from app.lib.db import TenantRef, database_url, resolve_active, start_database, stop_database, tenant_context
from app.lib.jobs import enqueue
from app.settings import get_settings

log = structlog.get_logger(__name__)


def split_address(address: str) -> tuple[str, str, str] | None:
    """`slug+token@domain` -> (slug, token, domain); None when it is not an address of ours."""
    local, _, domain = (address or "").strip().strip("<>").rpartition("@")
    if not local or domain.lower() != get_settings().mail.mail_domain:
        return None
    slug, _, token = local.lower().partition("+")
    return slug, token, domain.lower()


class InboundHandler:
    """aiosmtpd handler: one instance serves every tenant; routing is by recipient address."""

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        parts = split_address(address)
        try:
            tenant = await resolve_active(parts[0]) if parts else None
        except Exception:  # the database is away: the sender keeps the mail and tries again later
            log.exception("inbound_rcpt_lookup_failed")
            return "451 4.3.0 Temporary failure, try again later"
        if tenant is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        _routes(envelope)[address] = tenant
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        routes = _routes(envelope)
        raw = envelope.original_content or (envelope.content if isinstance(envelope.content, bytes) else b"")
        if not routes:
            return "554 5.5.1 No valid recipients"
        reason = malformed(raw)
        if reason:
            return f"550 5.6.0 Malformed message: {reason}"
        peer = str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer or "")
        by_tenant: dict[str, tuple[TenantRef, str]] = {}
        for address, tenant in routes.items():
            by_tenant.setdefault(tenant.slug, (tenant, address))  # one copy per shop, however many of its addresses
        try:
            for tenant, address in by_tenant.values():
                await store(tenant, raw, mail_from=envelope.mail_from or "", rcpt_to=address, peer=peer)
        except Exception:  # the sender keeps the mail and tries again later
            log.exception("inbound_store_failed")
            return "451 4.3.0 Temporary failure, try again later"
        return "250 2.0.0 Message accepted"



def _routes(envelope: Envelope) -> dict[str, TenantRef]:
    """The tenant of each accepted recipient, kept on the envelope (aiosmtpd makes a new one per transaction)."""
    routes: dict[str, TenantRef] = envelope.__dict__.setdefault("sb_routes", {})
    return routes


def malformed(raw: bytes) -> str | None:
    if not raw.strip():
        return "empty"
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    if not headers.keys():
        return "no headers"
    _, sender = email.utils.parseaddr(str(headers.get("From", "")))
    if "@" not in sender:
        return "no sender address in From"
    return None


async def store(tenant: TenantRef, raw: bytes, *, mail_from: str, rcpt_to: str, peer: str) -> int:
    """Keep the message as received and queue its processing, in one transaction; return the stored row's id.

    A Message-ID the shop already has (the same mail delivered again, even by another SMTP session at this very
    moment) is not stored twice: the unique key makes the later insert wait for the earlier one's commit and
    then do nothing; it returns the stored row, and the sender gets its 250 all the same.
    """
    message_id = parse.message_id(raw) or None
    async with tenant_context(tenant):
        rows = await InboundMail.insert(InboundMail(
            mail_from=mail_from[:254], rcpt_to=rcpt_to[:254], peer=peer[:100], size=len(raw), content=raw,
            message_id=message_id)).on_conflict(target=InboundMail.message_id, action="DO NOTHING").returning(
            InboundMail.id)
        if not rows:
            stored = await InboundMail.select(InboundMail.id).where(InboundMail.message_id == message_id).first()
            if stored is None:  # the copy it collided with is gone again: a 451, and the sender tries later
                raise RuntimeError(f"inbound mail {message_id!r} collided with a copy that is gone")
            log.info("inbound_duplicate", tenant=tenant.slug, message_id=message_id, inbound_id=stored["id"])
            return int(stored["id"])
        inbound_id = int(rows[0]["id"])
        await enqueue("messaging.process_inbound", {"inbound_id": inbound_id})
    return inbound_id


async def start(host: str | None = None, port: int | None = None) -> asyncio.AbstractServer:
    """Serve SMTP on this event loop (the database pool lives here), e.g. `switchboard mail-in` or a test."""
    settings = get_settings().mail
    handler = InboundHandler()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=settings.mail_in_max_bytes, enable_SMTPUTF8=True,
                     hostname=settings.mail_domain, ident="Switchboard mail-in"),
        host=host or settings.mail_in_host, port=port or settings.mail_in_port)


class ListenError(RuntimeError):
    """The listener could not bind its address (another process holds the port)."""


async def serve_forever(stop: asyncio.Event | None = None, host: str | None = None, port: int | None = None,
                        health_port: int | None = None, on_ready: Callable[[], None] | None = None) -> None:
    """`switchboard mail-in`: the database pool, then the listener until stopped (and /health on `health_port`);
    `on_ready` once it listens."""
    settings = get_settings()
    owns = await start_database(database_url(), 1, max(4, settings.db.pool_min))
    bind_host, bind_port = host or settings.mail.mail_in_host, port or settings.mail.mail_in_port
    health_server = None
    try:
        try:
            server = await start(bind_host, bind_port)
        except OSError as exc:
            raise ListenError(f"mail-in cannot listen on {bind_host}:{bind_port} (MAIL_IN_PORT {bind_port}): "
                              f"{exc.strerror or exc}") from exc
        health.register("mail_in", lambda: "ok" if server.is_serving() else "error: not listening")
        try:
            health_server = await health.serve(health_port) if health_port else None
        except OSError as exc:
            raise ListenError(f"mail-in cannot answer /health on 127.0.0.1:{health_port} (WORKER_HEALTH_PORT "
                              f"{health_port}): {exc.strerror or exc}") from exc
        log.info("mail_in_listening", host=bind_host, port=bind_port, domain=settings.mail.mail_domain)
        if on_ready is not None:
            on_ready()
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            server.close()
            await server.wait_closed()
    finally:
        health.unregister("mail_in")
        if health_server is not None:
            health_server.close()
        if owns:
            await stop_database()


def main(host: str | None = None, port: int | None = None, health_port: int | None = None,
         ready_fd: int | None = None) -> None:
    """Run the listener until SIGINT/SIGTERM (the `switchboard mail-in` command); `ready_fd` gets one byte once
    it listens and is closed (how `switchboard run` learns that its child bound the port)."""
    def ready() -> None:
        if ready_fd is not None:
            os.write(ready_fd, b"1")
            os.close(ready_fd)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(stop, host, port, health_port, ready)

    asyncio.run(serve())


def die_with_parent(parent: int) -> None:
    """Ask Linux to send SIGTERM when the parent goes (even by SIGKILL), so a child of `switchboard run` never
    outlives it holding the port; then check the parent was not already gone."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent:
        sys.exit(1)


class Child:
    """The `mail-in` process `switchboard run` starts, with a pipe on which it says it listens."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self._ready = os.fdopen(read_fd, "rb", buffering=0)
        cmd = [sys.executable, "-c", "from app.cli import main; main()", "mail-in", "--ready-fd", str(write_fd),
               "--parent", str(os.getpid())]
        self.proc = subprocess.Popen(cmd, pass_fds=(write_fd,))  # noqa: S603 (our interpreter, our arguments)
        os.close(write_fd)

    def wait_ready(self, timeout: float = 120) -> bool:
        """True once the child listens; False when it exited (or went silent) without listening."""
        try:
            readable, _, _ = select.select([self._ready], [], [], timeout)
            return bool(readable) and self._ready.read(1) == b"1"
        finally:
            self._ready.close()

    def returncode(self) -> int | None:
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, wait for it to close its port and pool, SIGKILL if it will not."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def spawn() -> Child:
    """`switchboard run` starts the listener as a child process (the database pool belongs to one event loop)."""
    return Child()
