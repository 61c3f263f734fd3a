"""Finding or creating a contact by address under concurrency: one contact per address, in every channel and shop.

Two layers: many transactions on separate connections calling `identities.find_or_create` for one address at once,
and the real thing: signed Twilio webhooks and SMTP mails stored in shuffled order, then processed by two
`switchboard worker` processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from app.contacts import identities
from app.email import listener
from app.lib.db import current_uow, raw_connect, tenant_context
from app.settings import get_settings
from telephony import client as twilio_client
from telephony.simulator import Simulator
from tests.conftest import TEST_DSN, ShopFixture, free_port, make_shop
from tests.integration.telephony_kit import Line, connect, sim_fixture  # noqa: F401
from tests.servers import REPO

CONCURRENT = 20


async def _at_once(shop: ShopFixture, count: int, fn: Callable[[int], Awaitable[int]]) -> list[int]:
    """`fn(i)` in `count` transactions on separate pooled connections, all started before any looks anything up."""
    barrier = asyncio.Barrier(count)

    async def one(i: int) -> int:
        async with tenant_context(shop.tenant):
            await asyncio.wait_for(barrier.wait(), 30)  # every transaction is open: the lookups really race
            return await fn(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _live_contacts(shop: ShopFixture) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        rows = await current_uow().connection.fetch(
            "SELECT c.id, coalesce(array_agg(DISTINCT p.e164) FILTER (WHERE p.e164 IS NOT NULL), '{}') AS phones, "
            "coalesce(array_agg(DISTINCT e.email) FILTER (WHERE e.email IS NOT NULL), '{}') AS emails "
            "FROM contact c LEFT JOIN contact_phone p ON p.contact = c.id LEFT JOIN contact_email e ON e.contact = c.id "
            "WHERE c.deleted_at IS NULL GROUP BY c.id ORDER BY c.id")
    return [{"id": r["id"], "phones": list(r["phones"]), "emails": list(r["emails"])} for r in rows]


@pytest.mark.parametrize("who", ["phone", "email", "phone, or email and phone"])
async def test_twenty_concurrent_find_or_create_for_one_address_make_one_contact(fx_shop: ShopFixture,
                                                                                 who: str) -> None:
    phone, email = "+14155550142", "racer@customer.example"

    async def find(i: int) -> int:
        if who == "phone":
            return await identities.find_or_create(None, phone=phone, source="telephony")
        if who == "email":
            return await identities.find_or_create(None, email=email, name="Racer", source="email")
        # Odd ones know only the phone (a call), even ones both (an order): the locks overlap, nobody deadlocks.
        return await identities.find_or_create(None, phone=phone, email=None if i % 2 else email, source="order")

    ids = await _at_once(fx_shop, CONCURRENT, find)
    contacts = await _live_contacts(fx_shop)
    assert len(contacts) == 1, contacts
    assert set(ids) == {contacts[0]["id"]}, "a loser of the race did not get the winner's contact"


async def test_concurrent_find_or_create_for_ten_addresses_make_ten_contacts(fx_shop: ShopFixture) -> None:
    phones = [f"+1415555{3100 + i}" for i in range(10)]
    ids = await _at_once(fx_shop, CONCURRENT, lambda i: identities.find_or_create(
        None, phone=phones[i % 10], source="telephony"))
    contacts = await _live_contacts(fx_shop)
    assert sorted(c["phones"][0] for c in contacts) == sorted(phones)
    by_phone = {c["phones"][0]: c["id"] for c in contacts}
    assert ids == [by_phone[phones[i % 10]] for i in range(CONCURRENT)]


async def test_ten_orders_and_ten_chat_visitors_naming_one_new_customer_at_once_make_one_contact(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """The API and the chat widget reach the same find_or_create: requests in flight together, one contact."""
    site = "https://shop-site.example"
    allowed = await fx_client.put(f"/t/{fx_shop.slug}/api/v1/chat/settings", json={"allowed_origins": [site]},
                                  headers=fx_shop.auth)
    assert allowed.status_code == 200, allowed.text
    order = {"currency": "USD", "items": [{"name": "Tea", "sku": "T-1", "quantity": 1, "unit_price": 900}],
             "customer": {"name": "Bea Buyer", "email": "bea@customer.example", "phone": "+14155550145"}}
    tokens = []
    for _ in range(10):
        started = await fx_client.post(f"/t/{fx_shop.slug}/chat/sessions", json={}, headers={"Origin": site})
        assert started.status_code == 201, started.text
        tokens.append(started.json()["token"])

    async def place(i: int) -> Any:
        return await fx_client.post(f"/t/{fx_shop.slug}/api/v1/orders", json={**order, "external_id": f"race-{i}"},
                                    headers=fx_shop.auth)

    async def leave_email(token: str) -> Any:
        return await fx_client.post(f"/t/{fx_shop.slug}/chat/contact", json={"name": "Bea", "email":
                                    "BEA@customer.example"}, headers={"Origin": site, "X-Chat-Token": token})

    replies = await asyncio.gather(*(place(i) for i in range(10)), *(leave_email(t) for t in tokens))
    assert all(r.status_code in (200, 201) for r in replies), [r.text for r in replies if r.status_code >= 300]
    contacts = await _live_contacts(fx_shop)
    # One contact; it has the phone too when an order (not a chat visitor) got there first.
    assert [c["emails"] for c in contacts] == [["bea@customer.example"]], contacts
    assert {r.json()["contact_id"] for r in replies[:10]} == {contacts[0]["id"]}
    async with tenant_context(fx_shop.tenant):
        linked = await current_uow().connection.fetch("SELECT DISTINCT contact FROM chat_session")
    assert [r["contact"] for r in linked] == [contacts[0]["id"]]


async def _someone_waits_for_an_address(within: float = 30) -> None:
    """Until another connection is queued on an advisory lock (held up by an address we hold); fails when none is."""
    conn = await raw_connect(TEST_DSN)
    try:
        deadline = time.monotonic() + within
        while not await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                "wait_event_type = 'Lock' AND wait_event = 'advisory'"):
            if time.monotonic() > deadline:
                activity = await conn.fetch("SELECT state, wait_event_type, wait_event, left(query, 200) AS q FROM "
                                            "pg_stat_activity WHERE datname = current_database()")
                raise AssertionError("nobody waited for the address we hold: they read it without taking their "
                                     f"turn; sessions: {[dict(r) for r in activity]}")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def test_a_lookup_during_a_merge_finds_the_survivor(fx_shop: ShopFixture) -> None:
    """A call from the merged-away contact's number while the merge is open waits for it, then finds the survivor
    (not the contact folded away, which would strand the call on a deleted card)."""
    from app.accounts.services import Principal
    from app.contacts import merge, services

    async with tenant_context(fx_shop.tenant):
        survivor = (await services.create(None, {"name": "Keep", "emails": ["keep@customer.example"]}))["id"]
        other = (await services.create(None, {"name": "Fold", "phones": ["+14155550143"]}))["id"]
    owner = Principal(fx_shop.user_id, fx_shop.email, "Owner", "owner", "session", 0)
    merged, lookup_waits = asyncio.Event(), asyncio.Event()

    async def do_merge() -> None:
        async with tenant_context(fx_shop.tenant):
            await merge.merge(owner, survivor, other)
            merged.set()
            await asyncio.wait_for(lookup_waits.wait(), 40)  # commit only once the lookup is queued behind us

    async def lookup() -> int:
        await asyncio.wait_for(merged.wait(), 30)
        async with tenant_context(fx_shop.tenant):
            return await identities.find_or_create(None, phone="+14155550143", source="telephony")

    async def watch() -> None:
        await asyncio.wait_for(merged.wait(), 30)
        try:
            await _someone_waits_for_an_address()
        finally:
            lookup_waits.set()

    _, found, _ = await asyncio.gather(do_merge(), lookup(), watch())
    assert found == survivor
    assert [c["id"] for c in await _live_contacts(fx_shop)] == [survivor]


async def test_an_import_batch_waits_for_a_call_creating_the_same_number_and_matches_its_contact(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """A call's job has just made the contact of a new number (not committed yet) when a CSV import reaches a row
    with that number: the batch waits for the call, then updates that contact instead of creating a second one."""
    from app.lib.jobs import Worker

    phone = "+14155550144"
    upload = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/imports", headers=fx_shop.auth,
                                  files={"file": ("people.csv", f"Name,Phone\nAnn Caller,{phone}\n".encode(),
                                                  "text/csv")})
    assert upload.status_code == 201, upload.text
    import_id = upload.json()["id"]
    started = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/imports/{import_id}/start", headers=fx_shop.auth)
    assert started.status_code == 202, started.text
    locked, release = asyncio.Event(), asyncio.Event()

    async def call_job() -> int:
        """The call's find_or_create, paused between taking the number and creating its contact."""
        async with tenant_context(fx_shop.tenant):
            await identities.lock([phone])
            locked.set()
            await asyncio.wait_for(release.wait(), 60)
            return await identities.find_or_create(None, phone=phone, source="telephony")

    call = asyncio.create_task(call_job())
    await asyncio.wait_for(locked.wait(), 30)
    worker = Worker(TEST_DSN, poll_seconds=0.2)  # started here, outside the call's unit of work
    await worker.start()
    try:
        try:
            await _someone_waits_for_an_address()  # the import's batch is queued behind the call
        finally:
            release.set()
        called = await call
        deadline = time.monotonic() + 30
        while (body := (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/imports/{import_id}",
                                            headers=fx_shop.auth)).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.1)
    finally:
        await worker.stop()
    assert (body["created"], body["updated"], body["failed"]) == (0, 1, 0), body
    contacts = await _live_contacts(fx_shop)
    assert [(c["id"], c["phones"]) for c in contacts] == [(called, [phone])]
    card = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/contacts/{called}", headers=fx_shop.auth)).json()
    assert card["name"] == "Ann Caller"


# -- the real thing: webhooks and mails, two worker processes ----------------------------------------------------

PHONES = [f"+1415555{2100 + i}" for i in range(5)]
EMAILS = [f"person{i}@race.example" for i in range(5)]
CALLS_PER_PHONE = 3
SMS_PER_PHONE = 3
MAILS_PER_ADDRESS = 3


@contextlib.contextmanager
def _workers(count: int, env: dict[str, str]) -> Iterator[list[tuple[subprocess.Popen[bytes], Any]]]:
    """`switchboard worker` processes on the test database; their output is shown when the test fails."""
    exe = str(Path(sys.executable).parent / "switchboard")
    procs = []
    try:
        for _ in range(count):
            log = tempfile.NamedTemporaryFile(prefix="sb-worker-", suffix=".log", delete=False)
            procs.append((subprocess.Popen([exe, "worker"], cwd=REPO, env={**os.environ, **env}, stdout=log,
                                           stderr=subprocess.STDOUT), log))
        yield procs
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
            os.unlink(log.name)


def _output(procs: list[tuple[subprocess.Popen[bytes], Any]]) -> str:
    return "\n---\n".join(Path(log.name).read_text(errors="replace")[-3000:] for _, log in procs)


def _call_webhooks(line: Line, sid: str, caller: str) -> list[tuple[str, dict[str, str]]]:
    """What Twilio posts for one inbound call: the voice request, then `ringing` and `completed` callbacks."""
    base = {"CallSid": sid, "AccountSid": line.account_sid, "From": caller, "To": line.number, "Caller": caller,
            "Called": line.number, "Direction": "inbound", "ApiVersion": "2010-04-01"}
    return [(line.url("voice"), {**base, "CallStatus": "ringing"}),
            (line.url("status"), {**base, "CallStatus": "ringing", "SequenceNumber": "0"}),
            (line.url("status"), {**base, "CallStatus": "completed", "SequenceNumber": "1", "CallDuration": "7"})]


def _sms_webhook(line: Line, sid: str, sender: str) -> tuple[str, dict[str, str]]:
    return line.url("sms"), {"MessageSid": sid, "SmsSid": sid, "AccountSid": line.account_sid, "From": sender,
                             "To": line.number, "Body": f"hello from {sender}", "NumMedia": "0",
                             "SmsStatus": "received", "ApiVersion": "2010-04-01"}


async def _settled(shops: list[ShopFixture]) -> bool:
    for shop in shops:
        async with tenant_context(shop.tenant):
            conn = current_uow().connection
            if await conn.fetchval("SELECT count(*) FROM twilio_webhook WHERE processed_at IS NULL") or \
                    await conn.fetchval("SELECT count(*) FROM inbound_mail WHERE processed_at IS NULL"):
                return False
    return True


async def _links(shop: ShopFixture) -> dict[str, list[tuple[str, int | None]]]:
    """Every call, SMS and email the shop received: (the customer's address, the contact it was filed on)."""
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        return {
            "calls": [(r["a"], r["contact"]) for r in await conn.fetch(
                "SELECT from_number AS a, contact FROM twilio_call ORDER BY id")],
            "sms": [(r["a"], r["contact"]) for r in await conn.fetch(
                "SELECT from_number AS a, contact FROM sms_message WHERE direction = 'in' ORDER BY id")],
            "emails": [(r["a"], r["contact"]) for r in await conn.fetch(
                "SELECT lower(from_address) AS a, contact FROM email_message WHERE direction = 'in' ORDER BY id")],
        }


async def test_shuffled_calls_sms_and_mails_through_two_workers_make_one_contact_per_address(
        fx_client: Any, fx_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shop A: five new phone numbers each call three times (voice + ringing + completed webhooks) and text three
    times, and five new email addresses each write three times; nobody is known before. Expected: exactly ten
    contacts, one per address (five with one phone, five with one email), and every call, SMS and mail filed on its
    address's contact. Shop B: the same five numbers call it once each. Expected: five contacts of its own, holding
    only B's calls; neither shop sees the other's contacts or interactions."""
    shop_a, shop_b = await make_shop("race_a"), await make_shop("race_b")
    line_a, line_b = await connect(fx_client, shop_a, fx_sim), await connect(fx_client, shop_b, fx_sim)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"shuffle seed {seed}")

    webhooks: list[tuple[Line, str, dict[str, str]]] = []
    for phone in PHONES:
        for n in range(CALLS_PER_PHONE):
            webhooks += [(line_a, url, p) for url, p in _call_webhooks(line_a, f"CAa{phone[1:]}{n}", phone)]
        webhooks += [(line_b, url, p) for url, p in _call_webhooks(line_b, f"CAb{phone[1:]}", phone)]
        for n in range(SMS_PER_PHONE):
            webhooks.append((line_a, *_sms_webhook(line_a, f"SMa{phone[1:]}{n}", phone)))
    mails = [(address, n) for address in EMAILS for n in range(MAILS_PER_ADDRESS)]
    deliveries: list[tuple[str, Any]] = [("webhook", w) for w in webhooks] + [("mail", m) for m in mails]
    rng.shuffle(deliveries)

    monkeypatch.setenv("MAIL_IN_MAX_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    port = free_port()
    server = await listener.start("127.0.0.1", port)
    rcpt = f"{shop_a.slug}@{get_settings().mail.mail_domain}"
    try:
        # Everything is stored and queued first, in the shuffled order; then both workers start on the queue.
        for kind, item in deliveries:
            if kind == "webhook":
                line, url, params = item
                resp = await fx_sim.post(line.account_sid, url, params)
                assert resp.status_code in (200, 204), resp.text
            else:
                address, n = item
                message = (f"From: Person <{address}>\r\nTo: {rcpt}\r\nSubject: question {n}\r\n"
                           f"Message-ID: <{n}.{address}>\r\n\r\nHello, question {n}.\r\n")
                await aiosmtplib.send(message.encode(), hostname="127.0.0.1", port=port, sender=address,
                                      recipients=[rcpt])
    finally:
        server.close()
        await server.wait_closed()

    with _workers(2, {"TWILIO_API_BASE": twilio_client.api_base(), "EMBEDDED_WORKER": "false"}) as procs:
        deadline = time.monotonic() + 180
        while not await _settled([shop_a, shop_b]):
            if any(p.poll() is not None for p, _ in procs):
                raise AssertionError(f"a worker exited:\n{_output(procs)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the workers did not process every webhook and mail in 180 s:\n{_output(procs)}")
            await asyncio.sleep(0.2)

    contacts_a = await _live_contacts(shop_a)
    assert len(contacts_a) == 10, (seed, contacts_a)
    owner_a = {**{c["phones"][0]: c["id"] for c in contacts_a if c["phones"]},
               **{c["emails"][0]: c["id"] for c in contacts_a if c["emails"]}}
    assert sorted(owner_a) == sorted(PHONES + EMAILS)
    assert all(len(c["phones"]) + len(c["emails"]) == 1 for c in contacts_a), contacts_a
    links_a = await _links(shop_a)
    assert len(links_a["calls"]) == len(PHONES) * CALLS_PER_PHONE
    assert len(links_a["sms"]) == len(PHONES) * SMS_PER_PHONE
    assert len(links_a["emails"]) == len(mails)
    for address, contact_id in links_a["calls"] + links_a["sms"] + links_a["emails"]:
        assert contact_id == owner_a[address], (seed, address, contact_id)

    contacts_b = await _live_contacts(shop_b)
    assert sorted(c["phones"] for c in contacts_b) == sorted([p] for p in PHONES), contacts_b
    owner_b = {c["phones"][0]: c["id"] for c in contacts_b}
    links_b = await _links(shop_b)
    assert sorted(links_b["calls"]) == sorted((p, owner_b[p]) for p in PHONES)
    assert links_b["sms"] == [] and links_b["emails"] == []

    # Through the API each shop finds one card for the number, and its timeline holds that shop's calls only,
    # each ended once whatever order its callbacks ran in; no finished call is left waiting in a queue.
    for shop, prefix, calls, texts in ((shop_a, "CAa", CALLS_PER_PHONE, SMS_PER_PHONE), (shop_b, "CAb", 1, 0)):
        found = (await fx_client.get(f"/t/{shop.slug}/api/v1/contacts?q={PHONES[0][1:]}", headers=shop.auth)).json()
        assert [c["phones"] for c in found["items"]] == [[PHONES[0]]]
        timeline = (await fx_client.get(f"/t/{shop.slug}/api/v1/contacts/{found['items'][0]['id']}/timeline",
                                        headers=shop.auth)).json()["items"]
        ended = sorted(i["payload"]["call_sid"] for i in timeline if i["payload"].get("event") == "ended")
        assert ended == sorted(f"{prefix}{PHONES[0][1:]}{n}" if shop is shop_a else f"{prefix}{PHONES[0][1:]}"
                               for n in range(calls)), (seed, timeline)
        assert len([i for i in timeline if i["payload"].get("event") == "sms"]) == texts
        waiting = (await fx_client.get(f"/t/{shop.slug}/api/v1/conversations/waiting", headers=shop.auth)).json()
        assert [w for w in waiting if w["channel"] == "call"] == [], (seed, waiting)
