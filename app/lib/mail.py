"""Outbound mail through aiosmtplib, and the dev mail catcher (aiosmtpd) that `switchboard run` starts."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import structlog
from aiosmtpd.controller import Controller

from app.settings import MailSettings

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    tls: str = "none"  # none | starttls | tls
    from_address: str = "no-reply@switchboard.localhost"

    @classmethod
    def platform(cls, mail: MailSettings) -> SmtpAccount:
        return cls(mail.smtp_host, mail.smtp_port, mail.smtp_user, mail.smtp_password, mail.smtp_tls,
                   mail.from_address)


def build_message(sender: str, to: str, subject: str, text: str, html: str | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or "switchboard")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


async def send(account: SmtpAccount, message: EmailMessage, *, timeout: float = 15.0,  # noqa: ASYNC109
               on_accepted: Callable[[], Awaitable[None]] | None = None, envelope_from: str | None = None) -> None:
    """Deliver one message; raises on failure so the calling job retries with back-off.

    Once the server has answered 250 to the end of DATA the message is its responsibility: `on_accepted` runs
    at that moment, before QUIT, so the caller can record it before anything else can fail; whatever goes wrong
    after it (the server closing before QUIT, a bad answer to QUIT) is logged, never raised, because raising
    would make the caller send the message a second time.
    """
    client = aiosmtplib.SMTP(hostname=account.host, port=account.port, username=account.user,
                             password=account.password, use_tls=account.tls == "tls",
                             start_tls=True if account.tls == "starttls" else False, timeout=timeout)
    try:
        await client.connect()
        await client.send_message(message, sender=envelope_from)  # None: the From header
    except BaseException:
        client.close()
        raise
    log.info("mail_sent", to=message["To"], subject=message["Subject"])
    try:
        if on_accepted is not None:
            await on_accepted()
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.info("mail_quit_failed_after_accept", to=message["To"], error=f"{type(exc).__name__}: {exc}")
        finally:
            client.close()


class CatcherHandler:
    """aiosmtpd handler that keeps every message as a .eml file and announces it on the console."""

    def __init__(self, folder: Path, announce: Any = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.announce = announce

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        path = self.folder / f"{time.time_ns()}.eml"
        path.write_bytes(envelope.content)
        if self.announce:
            self.announce(path, envelope)
        return "250 Message accepted for delivery"


def start_catcher(host: str, port: int, folder: Path, announce: Any = None) -> Any:
    controller = Controller(CatcherHandler(folder, announce), hostname=host, port=port)
    controller.start()
    return controller
