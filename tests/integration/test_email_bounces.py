"""Bounces: an outbound email goes out with its VERP envelope sender, the remote server's DSN (RFC 3464) comes back
through real SMTP to our listener, the email is marked bounced without opening a conversation, and a campaign
recipient of that email moves to 'bounced'."""

from __future__ import annotations

from typing import Any

import aiosmtplib

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, run_jobs_until
from tests.integration.email_kit import Mailbox, configure, smtp_server
from tests.integration.test_campaign_tracking import make_campaign
from tests.integration.test_email_inbound import api, fx_mail_in, waiting  # noqa: F401
from tests.integration.test_orders import make_contact


def dsn(to: str, original_id: str, recipient: str, *, action: str = "failed") -> bytes:
    """A DSN as Postfix writes one (RFC 3464: multipart/report with message/delivery-status)."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{action}-{original_id.strip('<>')}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n\r\n'
        "--BOUND\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.customer.example.\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "--BOUND\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected\r\n\r\n"
        "--BOUND\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: shop@example.org\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\nSubject: Sale\r\n\r\n"
        "--BOUND--\r\n").encode()


async def bounce_back(port: int, raw: bytes, rcpt: str) -> None:
    """Deliver as a remote MTA sends a DSN: null envelope sender (MAIL FROM:<>)."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await client.connect()
    try:
        await client.mail("")
        await client.rcpt(rcpt)
        await client.data(raw)
    finally:
        await client.quit()


async def test_a_dsn_marks_the_email_and_the_campaign_recipient_bounced(
        fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:  # noqa: F811 (the imported fixture)
    box = Mailbox()
    smtp = smtp_server(box)
    smtp.start()
    try:
        await configure(fx_client, fx_shop, smtp.port)
        c = await make_contact(fx_client, fx_shop, name="Gone Away", emails=["gone@customer.example"])
        sent = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/emails"), headers=fx_shop.auth,
                                    json={"subject": "Spring sale", "body": "20% off this week."})
        assert sent.status_code == 201, sent.text
        email_id = sent.json()["id"]
        campaign_id = await make_campaign(fx_shop, channel="email", name="Spring mail")
        async with tenant_context(fx_shop.tenant):
            rid = await current_uow().connection.fetchval(
                "INSERT INTO campaign_recipient (campaign, contact, variant, address, token, status, sent_at, "
                "email_message_id) VALUES ($1, $2, 'A', 'gone@customer.example', 'tok-bounce-1', 'sent', now(), $3) "
                "RETURNING id", campaign_id, c["id"], email_id)

        async def out() -> bool:
            return bool(box.messages)

        await run_jobs_until(out)
        mail, envelope = box.messages[0], box.envelopes[0]
        assert envelope.mail_from == mail["Reply-To"]  # VERP: the DSN comes back to our listener
        before = len(await waiting(fx_client, fx_shop))

        # A delay notice changes nothing; the permanent failure marks it.
        await bounce_back(fx_mail_in, dsn(envelope.mail_from, mail["Message-ID"], "gone@customer.example",
                                          action="delayed"), envelope.mail_from)
        await bounce_back(fx_mail_in, dsn(envelope.mail_from, mail["Message-ID"], "gone@customer.example"),
                          envelope.mail_from)

        async def bounced() -> bool:
            async with tenant_context(fx_shop.tenant):
                return await current_uow().connection.fetchval(
                    "SELECT status FROM campaign_recipient WHERE id = $1", rid) == "bounced"

        await run_jobs_until(bounced)
        [row] = [e for e in (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/emails"),
                                                 headers=fx_shop.auth)).json() if e["id"] == email_id]
        assert row["status"] == "bounced"
        assert len(await waiting(fx_client, fx_shop)) == before  # a DSN is no conversation
        results = (await fx_client.get(api(fx_shop, f"/campaigns/{campaign_id}/results"),
                                       headers=fx_shop.auth)).json()
        assert (results["total"]["bounced"], results["total"]["delivered"]) == (1, 0)
    finally:
        smtp.stop()
