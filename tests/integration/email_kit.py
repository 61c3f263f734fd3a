"""Helpers of the email tests: real SMTP servers on loopback, the job worker, the shop's email settings."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.lib.jobs import Worker
from tests.conftest import TEST_DSN, ShopFixture, free_port

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


async def run_jobs_until(done: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Run the real job worker until the async predicate holds (asserts it did)."""
    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    try:
        for _ in range(int(within / 0.1)):
            if await done():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("jobs did not finish in time")
    finally:
        await worker.stop()
