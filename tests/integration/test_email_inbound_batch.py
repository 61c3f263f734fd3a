"""A batch of inbound mails filed set-based lands what filing them one by one lands (threading by headers, also onto a
mail of the same batch, attachments, new and known senders, the same events); a broken mail is
kept for its own job to retry while the good ones are filed; another shop's contacts and messages stay out of it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import pytest

from app.contacts.tables import Contact
from app.email import inbound, inbound_batch, listener
from app.email.tables import EmailMessage as EmailRow
from app.email.tables import InboundMail
from app.lib.db import tenant_context
from app.settings import get_settings
from app.timeline.tables import Interaction
from realtime.tables import EventLog
from tests.conftest import ShopFixture

KNOWN = "known@customers.example"


def _mail(n: int, sender: str, subject: str, *, reply_to: int | None = None, attachment: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((f"Sender {sender.split('@')[0]}", sender))
    msg["To"] = "shop@example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<batch-test-{n}@customers.example>"
    if reply_to is not None:
        msg["In-Reply-To"] = f"<batch-test-{reply_to}@customers.example>"
        msg["References"] = f"<batch-test-{reply_to}@customers.example>"
    msg.set_content(f"body of mail {n}")
    if attachment:
        msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    return bytes(msg)


MAILS = [  # (sender, subject, replies to, attachment)
    (KNOWN, "Order question", None, True),
    ("new@customers.example", "Hello", None, False),
    (KNOWN, "Re: Order question", 0, False),  # threads onto mail 0, filed in the same batch
    ("new@customers.example", "Second from new", None, False),
    (KNOWN, "Re: elsewhere", 99, False),  # answers a Message-ID only the other shop has
]
BROKEN = ("broken@customers.example", "=?utf-8?b?YnJva2VuAA==?=")  # "broken\0": the database refuses a NUL


async def _store(shop: ShopFixture, mails: list[tuple[str, str, int | None, bool]], *, broken_at: int | None = None
                 ) -> list[int]:
    to = f"{shop.slug}@{get_settings().mail.mail_domain}"
    ids = []
    for n, (sender, subject, reply_to, attachment) in enumerate(mails):
        if n == broken_at:
            ids.append(await listener.store(shop.tenant, _mail(50, *BROKEN), mail_from=BROKEN[0], rcpt_to=to,
                                            peer="127.0.0.1"))
        ids.append(await listener.store(shop.tenant, _mail(n, sender, subject, reply_to=reply_to,
                                                           attachment=attachment),
                                        mail_from=sender, rcpt_to=to, peer="127.0.0.1"))
    return ids


async def _known_contact(client: Any, shop: ShopFixture) -> int:
    made = await client.post(f"/t/{shop.slug}/api/v1/contacts", json={"name": "Known Customer", "emails": [KNOWN]},
                             headers=shop.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _snapshot(shop: ShopFixture) -> dict[str, Any]:
    """What filing left, without ids: each email (subject, contact, its conversation as the first subject filed in
    it, attachments), the timeline items, and the event names in order."""
    async with tenant_context(shop.tenant):
        names = {c["id"]: c["name"] for c in await Contact.select(Contact.id, Contact.name)}
        emails = await EmailRow.select(EmailRow.subject, EmailRow.contact, EmailRow.conversation,
                                       EmailRow.attachments, EmailRow.interaction_id, EmailRow.text).where(
            EmailRow.direction == "in").order_by(EmailRow.id).output(load_json=True)
        items = await Interaction.select(Interaction.contact, Interaction.summary, Interaction.payload,
                                         Interaction.links).where(Interaction.channel == "email").order_by(
            Interaction.id).output(load_json=True)
        events = [e["name"] for e in await EventLog.select(EventLog.name).order_by(EventLog.id)]
    first_subject: dict[int, str] = {}
    for e in emails:
        first_subject.setdefault(e["conversation"], e["subject"])
    return {
        "emails": [(e["subject"], names[e["contact"]], first_subject[e["conversation"]],
                    [a["filename"] for a in e["attachments"]], e["interaction_id"] is not None, e["text"].strip())
                   for e in emails],
        "items": [(names[i["contact"]], i["summary"], i["payload"].get("event"), i["payload"].get("attachments"),
                   "conversation_id" in i["links"]) for i in items],
        "events": [n for n in events if n.split(".")[0] in ("contact", "interaction", "queue", "message")],
    }


async def _processed(shop: ShopFixture) -> dict[int, Any]:
    async with tenant_context(shop.tenant):
        return {r["id"]: r["processed_at"] for r in await InboundMail.select(InboundMail.id, InboundMail.processed_at)}


async def test_a_batch_filed_set_based_lands_what_one_by_one_lands(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    for shop in (fx_shop, fx_other_shop):
        await _known_contact(fx_client, shop)
    batched = await _store(fx_shop, MAILS)
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": batched[0]})  # one job files the whole batch

    async def refuse(self: Any) -> dict[int, str]:
        raise RuntimeError("one by one, please")

    monkeypatch.setattr(inbound_batch.Batch, "file", refuse)
    one_by_one = await _store(fx_other_shop, MAILS)
    await inbound.process({"tenant": fx_other_shop.slug, "inbound_id": one_by_one[0]})

    assert all((await _processed(fx_shop)).values()) and all((await _processed(fx_other_shop)).values())
    ours, theirs = await _snapshot(fx_shop), await _snapshot(fx_other_shop)
    assert (ours["emails"], ours["items"]) == (theirs["emails"], theirs["items"])
    # The same events; the batch makes the new senders' contacts first, then announces the mails in order.
    assert sorted(ours["events"]) == sorted(theirs["events"])
    mail_events = ("queue.item_added", "message.received")
    assert [e for e in ours["events"] if e in mail_events] == [e for e in theirs["events"] if e in mail_events]
    assert ours["emails"] == [
        ("Order question", "Known Customer", "Order question", ["invoice.pdf"], True, "body of mail 0"),
        ("Hello", "Sender new", "Hello", [], True, "body of mail 1"),
        ("Re: Order question", "Known Customer", "Order question", [], True, "body of mail 2"),
        ("Second from new", "Sender new", "Second from new", [], True, "body of mail 3"),  # no headers: a new thread
        ("Re: elsewhere", "Known Customer", "Re: elsewhere", [], True, "body of mail 4"),
    ]
    assert ours["events"].count("message.received") == 5 and ours["events"].count("queue.item_added") == 4


async def test_a_broken_mail_is_kept_for_retry_and_the_good_ones_are_filed(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    await _known_contact(fx_client, fx_shop)
    theirs = await _known_contact(fx_client, fx_other_shop)  # the same address in another shop
    ids = await _store(fx_shop, MAILS, broken_at=2)
    broken = ids[2]
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[0]})
    processed = await _processed(fx_shop)
    assert processed[broken] is None, "the broken mail is rolled back alone and waits for its own job"
    assert all(processed[i] is not None for i in ids if i != broken)
    snapshot = await _snapshot(fx_shop)
    assert [e[0] for e in snapshot["emails"]] == [m[1] for m in MAILS]
    assert snapshot["emails"][2][2] == "Order question"  # the reply still threads onto mail 0

    # Its own job fails while the mail stays what it is (the queue retries it, keeping the error): never dropped.
    with pytest.raises(Exception, match=r"0x00|NUL|null"):
        await inbound.process({"tenant": fx_shop.slug, "inbound_id": broken})
    assert (await _processed(fx_shop))[broken] is None

    # The other shop's contact with the same address got nothing; its Message-IDs did not thread anything here.
    async with tenant_context(fx_other_shop.tenant):
        assert await Interaction.count().where(Interaction.contact == theirs) == 1  # its own "created" entry
        assert await EmailRow.count() == 0
