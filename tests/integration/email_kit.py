"""Helpers of the email tests: real SMTP servers on loopback, the job worker, the shop's email settings."""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.conftest import TEST_DSN, ShopFixture, free_port
from tests.servers import REPO

SMTP_USER = "shop-mailer"
SMTP_PASSWORD = "s3cret-Päss"


class Mailbox:
    """An SMTP server's inbox; `refuse` makes it answer 550 to RCPT TO for those addresses."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.envelopes: list[Any] = []
        self.refuse: set[str] = set()
        self.logins: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox unavailable: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == SMTP_USER and \
            data.password.decode() == SMTP_PASSWORD
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


def smtp_server(box: Mailbox, port: int | None = None) -> Controller:
    """A real SMTP server (aiosmtpd) offering AUTH without TLS (loopback only); `box.logins` records logins."""
    return Controller(box, hostname="127.0.0.1", port=port or free_port(), authenticator=box.authenticate,
                      auth_require_tls=False)


async def configure(client: Any, shop: ShopFixture, port: int) -> dict[str, Any]:
    resp = await client.put(f"/t/{shop.slug}/api/v1/channels/email", headers=shop.auth, json={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none", "smtp_user": SMTP_USER,
        "smtp_password": SMTP_PASSWORD, "from_address": "hello@teashop.example", "from_name": "Tea Shop"})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def serve_smtp(box: Mailbox, smtp_class: type[SMTP] = SMTP) -> tuple[asyncio.AbstractServer, int]:
    """`box` served by a real aiosmtpd server on this event loop (so a handler can wait on the test's events),
    offering AUTH like `smtp_server`; `smtp_class` changes how the server behaves on the wire."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: smtp_class(box, authenticator=box.authenticate, auth_require_tls=False),
        host="127.0.0.1", port=0)
    return server, int(server.sockets[0].getsockname()[1])


class HangUpAfterData(SMTP):
    """An SMTP server that takes the message, answers 250 to the end of DATA and closes the connection at once,
    without waiting for QUIT."""

    async def smtp_DATA(self, arg: str) -> None:
        await super().smtp_DATA(arg)
        if self.transport is not None:
            self.transport.close()


class HoldingMailbox(Mailbox):
    """A mailbox that stops in the middle of the next DATA until `release` is set: `hold="before"` before it keeps
    the message (the sender never got it accepted), `hold="after"` after keeping it and before answering 250.
    aiosmtpd cancels a waiting handler when the client goes away, so a message held "before" is then never kept."""

    def __init__(self, hold: str) -> None:
        super().__init__()
        self.hold: str | None = hold
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def _pause(self, when: str) -> None:
        if self.hold == when:
            self.hold = None
            self.held.set()
            await self.release.wait()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self._pause("before")
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        await self._pause("after")
        return "250 OK"


class WorkerProcess:
    """`switchboard worker` as its own process on the test database, as production runs it."""

    def __init__(self) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="sb-worker-", suffix=".log", delete=False)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> WorkerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "worker", cwd=REPO, env={**os.environ, "DATABASE_URL": TEST_DSN},
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-5000:]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, wait: float = 60) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), wait)
        except TimeoutError:
            raise AssertionError(f"the worker did not stop:\n{self.output()}") from None

    async def stop(self) -> None:
        """SIGTERM (the worker settles what it finished), SIGKILL when it does not end in time."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
