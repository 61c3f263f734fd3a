"""Inbound mail is filed in batches: one job files its own mail and others still waiting, each in a savepoint; a
batched mail that fails is left, untouched, to its own job, which files it (or fails and is retried) later."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from app.email import inbound, listener
from app.email.tables import EmailMessage as EmailRow
from app.email.tables import InboundMail
from app.lib.db import tenant_context
from app.settings import get_settings
from app.timeline import services as timeline
from tests.conftest import ShopFixture


def _raw(n: int, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <batch{n}@customers.example>"
    msg["To"] = "shop@example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<batch-{n}@customers.example>"
    msg.set_content(f"mail {n}")
    return bytes(msg)


async def _store(shop: ShopFixture, subjects: list[str]) -> list[int]:
    to = f"{shop.slug}@{get_settings().mail.mail_domain}"
    return [await listener.store(shop.tenant, _raw(n, s), mail_from=f"batch{n}@customers.example", rcpt_to=to,
                                 peer="127.0.0.1") for n, s in enumerate(subjects)]


async def _state(shop: ShopFixture) -> tuple[dict[int, Any], list[str]]:
    async with tenant_context(shop.tenant):
        rows = await InboundMail.select(InboundMail.id, InboundMail.processed_at).order_by(InboundMail.id)
        filed = await EmailRow.select(EmailRow.subject).where(EmailRow.direction == "in").order_by(EmailRow.id)
    return {r["id"]: r["processed_at"] for r in rows}, [r["subject"] for r in filed]


async def test_one_job_files_waiting_mails_and_leaves_a_failing_one_to_its_own_job(
        fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await _store(fx_shop, ["first", "poison", "third"])
    real = timeline.entry

    def entry(contact_id: int, channel: str, direction: str, summary: str, **kwargs: Any) -> dict[str, Any]:
        # The timeline item is written by the set-based batch and by the one-by-one path alike: the batch fails,
        # then the mails go one by one and only this one is rolled back.
        if summary == "poison":
            raise RuntimeError("cannot file this one yet")
        return real(contact_id, channel, direction, summary, **kwargs)

    monkeypatch.setattr(timeline, "entry", entry)
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[0]})
    processed, subjects = await _state(fx_shop)
    assert processed[ids[0]] is not None and processed[ids[2]] is not None
    assert processed[ids[1]] is None  # rolled back alone, still waiting for its own job
    assert sorted(subjects) == ["first", "third"]

    # Its own job fails while the cause lasts (the queue retries it), then files it; the others are not filed twice.
    with pytest.raises(RuntimeError):
        await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[1]})
    monkeypatch.setattr(timeline, "entry", real)
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[1]})
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[2]})  # its mail was filed by the first job
    processed, subjects = await _state(fx_shop)
    assert all(processed[i] is not None for i in ids)
    assert sorted(subjects) == ["first", "poison", "third"]


async def _xmax(shop: ShopFixture, inbound_id: int) -> str:
    """The row's xmax: a job that locked or wrote it leaves its transaction id there."""
    async with tenant_context(shop.tenant) as uow:
        return str(await uow.connection.fetchval("SELECT xmax FROM inbound_mail WHERE id = $1", inbound_id))


async def test_a_job_whose_mail_was_filed_files_the_next_waiting_ones_and_otherwise_writes_nothing(
        fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await _store(fx_shop, ["one", "two", "three", "four"])
    monkeypatch.setattr(inbound, "BATCH", 2)
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[0]})  # files one and two
    processed, subjects = await _state(fx_shop)
    assert [processed[i] is not None for i in ids] == [True, True, False, False] and subjects == ["one", "two"]

    # The job of "two" filed already ends without a query: this process remembers what its batches filed.
    def no_unit_of_work(*_: Any) -> None:
        raise AssertionError("the job of a mail this process filed opened a unit of work")

    monkeypatch.setattr(inbound, "tenant_context", no_unit_of_work)
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[1]})
    monkeypatch.undo()
    monkeypatch.setattr(inbound, "BATCH", 2)

    # Filed by another process: it ends before the filer lock, neither locking nor writing its row.
    monkeypatch.setattr(inbound, "_filed_here", {})
    before = await _xmax(fx_shop, ids[1])
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[1]})
    assert await _xmax(fx_shop, ids[1]) == before
    assert (await _state(fx_shop))[1] == ["one", "two"]

    # Had it passed that check before the batch committed, it waits for the lock, finds its mail filed, and files
    # the next waiting ones in its place (two of them: a whole batch), still leaving its own row untouched.
    monkeypatch.setattr(inbound, "_FILED_ALREADY", "SELECT $1::int < 0")
    await inbound.process({"tenant": fx_shop.slug, "inbound_id": ids[1]})
    processed, subjects = await _state(fx_shop)
    assert all(processed[i] is not None for i in ids) and subjects == ["one", "two", "three", "four"]
    assert await _xmax(fx_shop, ids[1]) == before

    # With nothing left waiting it does nothing; the jobs of three and four find their mails filed.
    for inbound_id in ids:
        await inbound.process({"tenant": fx_shop.slug, "inbound_id": inbound_id})
    assert (await _state(fx_shop))[1] == ["one", "two", "three", "four"]
