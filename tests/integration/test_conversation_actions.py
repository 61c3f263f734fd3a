"""Conversation actions (issue 14): assign to a colleague or a queue, snooze (woken by a real worker process and early
by the customer), close and reopen, merge two conversations of one client (every message once, in order), block a
sender as spam (its next message is kept but opens nothing); who may act, and tenant isolation for every route."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest

from app.accounts.tables import User
from app.lib.db import current_uow, tenant_context
from app.lib.security import hash_password
from tests.conftest import TEST_DSN, ShopFixture, browser_login, csrf_from
from tests.integration.test_email_inbound import address, deliver, fx_mail_in, process_all  # noqa: F401 (a fixture)


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _user(shop: ShopFixture, role: str = "operator", name: str | None = None) -> tuple[int, dict[str, str]]:
    from app.accounts import services as accounts

    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}.{secrets.token_hex(3)}@x.example", name=name or role.title(),
                                      role=role, password_hash=await hash_password("operator-password-1"))
                                 ).returning(User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    return int(rows[0]["id"]), {"Authorization": f"Bearer {key}"}


async def _contact(client: Any, shop: ShopFixture, name: str, phone: str) -> int:
    resp = await client.post(api(shop, "/contacts"), json={"name": name, "phones": [phone]}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _sms_in(shop: ShopFixture, phone: str, body: str) -> None:
    """An inbound SMS as the Twilio webhook's job handles it (stored, on the timeline, in a conversation)."""
    from telephony import sms

    async with tenant_context(shop.tenant):
        await sms.on_inbound({"MessageSid": "SM" + secrets.token_hex(16), "From": phone, "To": "+15550009999",
                              "Body": body}, {})


async def _conversation_of(shop: ShopFixture, phone: str) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow(
            "SELECT id, status, wrapup_code FROM conversation WHERE from_address = $1 ORDER BY id DESC LIMIT 1", phone)
    return dict(row)


async def _events(client: Any, shop: ShopFixture, name: str) -> list[dict[str, Any]]:
    page = (await client.get(api(shop, "/events?limit=500"), headers=shop.auth)).json()
    return [e["data"] for e in page["items"] if e["name"] == name]


async def _open(client: Any, shop: ShopFixture, **body: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/conversations"), json={"channel": "sms", **body}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_assign_to_a_colleague_who_sees_the_queue_or_move_to_a_queue(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "vip", "name": "VIP", "roles": ["supervisor"]},
                         headers=fx_shop.auth)
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "billing", "name": "Billing"}, headers=fx_shop.auth)
    olga_id, olga = await _user(fx_shop, name="Olga")
    ivan_id, ivan = await _user(fx_shop, name="Ivan")
    sup_id, _ = await _user(fx_shop, "supervisor", name="Sveta")
    item = await _open(fx_client, fx_shop)
    assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=olga)).status_code == 200

    given = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/assign"), json={"user_id": ivan_id},
                                 headers=olga)
    assert given.status_code == 200, given.text
    assert given.json()["assigned_to_id"] == ivan_id and given.json()["status"] == "active"
    assert [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/mine"), headers=ivan)).json()] == [
        item["id"]]
    # Olga no longer handles it: Ivan's now, only he or a supervisor acts on it.
    assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/close"), json={},
                                 headers=olga)).status_code == 403

    vip = await _open(fx_client, fx_shop, queue="vip")
    refused = await fx_client.post(api(fx_shop, f"/conversations/{vip['id']}/assign"), json={"user_id": olga_id},
                                   headers=fx_shop.auth)
    assert refused.status_code == 400 and "does not see the queue VIP" in refused.json()["detail"]
    ok = await fx_client.post(api(fx_shop, f"/conversations/{vip['id']}/assign"), json={"user_id": sup_id},
                              headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json()["assigned_to_name"] == "Sveta"

    moved = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/assign"), json={"queue": "billing"},
                                 headers=ivan)
    assert moved.status_code == 200
    assert moved.json()["queue_key"] == "billing" and moved.json()["status"] == "waiting"
    assert moved.json()["assigned_to_id"] is None
    both = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/assign"),
                                json={"user_id": ivan_id, "queue": "billing"}, headers=ivan)
    assert both.status_code == 400 and both.json()["errors"][0]["field"] == "user_id"
    assigned = await _events(fx_client, fx_shop, "conversation.assigned")
    assert [e.get("user_id") for e in assigned if e["conversation_id"] == item["id"]] == [ivan_id, None]
    audit = (await fx_client.get(api(fx_shop, "/audit?action=conversation.assigned"), headers=fx_shop.auth)).json()
    assert any(str(a["target_id"]) == str(item["id"]) for a in (audit["items"] if isinstance(audit, dict) else audit))


async def test_snooze_leaves_the_lists_and_the_customers_message_wakes_it(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    phone = "+14155550101"
    contact_id = await _contact(fx_client, fx_shop, "Nina Snooze", phone)
    await _sms_in(fx_shop, phone, "Is my parcel coming?")
    conv = await _conversation_of(fx_shop, phone)
    op_id, op = await _user(fx_shop)
    assert (await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/take"), headers=op)).status_code == 200

    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).astimezone(dt.timezone(dt.timedelta(hours=2)))
    naive = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/snooze"),
                                 json={"until": until.replace(tzinfo=None).isoformat()}, headers=op)
    assert naive.status_code == 400 and "offset" in naive.json()["detail"]
    past = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/snooze"),
                                json={"until": "2020-01-01T09:00:00+02:00"}, headers=op)
    assert past.status_code == 400 and past.json()["errors"][0]["field"] == "until"
    snoozed = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/snooze"),
                                   json={"until": until.isoformat()}, headers=op)
    assert snoozed.status_code == 200, snoozed.text
    body = snoozed.json()
    assert body["status"] == "snoozed"
    assert dt.datetime.fromisoformat(body["snoozed_until"]) == until
    assert conv["id"] not in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/mine"),
                                                                    headers=op)).json()]
    assert conv["id"] not in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/waiting"),
                                                                    headers=op)).json()]
    assert [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/snoozed"), headers=op)).json()] == [
        conv["id"]]

    await _sms_in(fx_shop, phone, "Hello? Still there?")
    back = (await fx_client.get(api(fx_shop, f"/conversations/{conv['id']}"), headers=op)).json()
    assert back["status"] == "active" and back["assigned_to_id"] == op_id and back["snoozed_until"] is None
    assert conv["id"] in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/mine"),
                                                                headers=op)).json()]
    reopened = await _events(fx_client, fx_shop, "conversation.reopened")
    assert {"conversation_id": conv["id"], "reason": "customer_wrote"}.items() <= reopened[-1].items()
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), headers=op)).json()["items"]
    assert [i["summary"] for i in timeline][:2] == ["Hello? Still there?", "The customer wrote: back from snooze"]
    # The wake-up job that is still queued finds nothing to do when its time comes (idempotent).
    from app.conversations import actions

    await actions.wake({"tenant": fx_shop.slug, "conversation_id": conv["id"]})
    assert (await fx_client.get(api(fx_shop, f"/conversations/{conv['id']}"), headers=op)).json()["status"] == "active"


async def test_snoozed_conversation_comes_back_by_itself_in_a_real_worker_process(fx_client: Any,
                                                                                  fx_shop: ShopFixture) -> None:
    import asyncio
    import time

    from tests.integration.test_faults_worker import Cli

    item = await _open(fx_client, fx_shop, subject="Call me back after lunch")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    resp = await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/snooze"),
                                json={"until": until.isoformat()}, headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.json()["status"] == "snoozed"
    worker = Cli("worker", env={"DATABASE_URL": TEST_DSN})
    try:
        deadline = time.monotonic() + 60
        status = "snoozed"
        while time.monotonic() < deadline:
            status = (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"),
                                          headers=fx_shop.auth)).json()["status"]
            if status != "snoozed":
                break
            assert worker.proc.poll() is None, worker.output()[-3000:]
            await asyncio.sleep(0.3)
        assert status == "waiting", worker.output()[-3000:]
        assert dt.datetime.now(dt.UTC) >= until  # not before its time
    finally:
        worker.close()
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert item["id"] in [c["id"] for c in waiting]
    reopened = await _events(fx_client, fx_shop, "conversation.reopened")
    assert {"conversation_id": item["id"], "reason": "snooze_ended"}.items() <= reopened[-1].items()


async def test_close_and_reopen_put_it_back_where_it_was(fx_client: Any, fx_shop: ShopFixture) -> None:
    op_id, op = await _user(fx_shop)
    taken = await _open(fx_client, fx_shop, subject="taken")
    await fx_client.post(api(fx_shop, f"/conversations/{taken['id']}/take"), headers=op)
    unassigned = await _open(fx_client, fx_shop, subject="unassigned")
    for conv in (taken, unassigned):
        closed = await fx_client.post(api(fx_shop, f"/conversations/{conv['id']}/close"), json={"note": "Sorted"},
                                      headers=op)
        assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    again = await fx_client.post(api(fx_shop, f"/conversations/{taken['id']}/close"), json={}, headers=op)
    assert again.status_code == 409 and "already closed" in again.json()["detail"]
    assert (await fx_client.post(api(fx_shop, f"/conversations/{taken['id']}/reopen"),
                                 headers=op)).json()["status"] == "active"
    back = (await fx_client.post(api(fx_shop, f"/conversations/{unassigned['id']}/reopen"), headers=op)).json()
    assert back["status"] == "waiting" and back["assigned_to_id"] is None and back["closed_at"] is None
    assert taken["id"] in [c["id"] for c in (await fx_client.get(api(fx_shop, "/conversations/mine"),
                                                                 headers=op)).json()]
    not_closed = await fx_client.post(api(fx_shop, f"/conversations/{taken['id']}/reopen"), headers=op)
    assert not_closed.status_code == 409
    closed_events = await _events(fx_client, fx_shop, "conversation.closed")
    assert {e["conversation_id"] for e in closed_events} >= {taken["id"], unassigned["id"]}


async def test_merge_keeps_every_message_once_in_order_on_the_clients_timeline(fx_client: Any,
                                                                              fx_shop: ShopFixture) -> None:
    phone = "+14155550201"
    contact_id = await _contact(fx_client, fx_shop, "Mira Merge", phone)
    await _sms_in(fx_shop, phone, "sms 1")
    sms_conv = await _conversation_of(fx_shop, phone)
    chat = await _open(fx_client, fx_shop, channel="chat", contact_id=contact_id, subject="chat opened")
    from app.conversations import services

    async with tenant_context(fx_shop.tenant):
        await services.receive_inbound("chat", contact_id, summary="chat 1", subject="")
    await _sms_in(fx_shop, phone, "sms 2")
    async with tenant_context(fx_shop.tenant):
        await services.receive_inbound("chat", contact_id, summary="chat 2", subject="")

    other_contact = await _contact(fx_client, fx_shop, "Someone Else", "+14155550299")
    stranger = await _open(fx_client, fx_shop, contact_id=other_contact)
    refused = await fx_client.post(api(fx_shop, f"/conversations/{sms_conv['id']}/merge"),
                                   json={"other_id": stranger["id"]}, headers=fx_shop.auth)
    assert refused.status_code == 409 and "different clients" in refused.json()["detail"]
    itself = await fx_client.post(api(fx_shop, f"/conversations/{sms_conv['id']}/merge"),
                                  json={"other_id": sms_conv["id"]}, headers=fx_shop.auth)
    assert itself.status_code == 400

    before = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline?limit=100"),
                                  headers=fx_shop.auth)).json()["items"]
    merged = await fx_client.post(api(fx_shop, f"/conversations/{sms_conv['id']}/merge"),
                                  json={"other_id": chat["id"]}, headers=fx_shop.auth)
    assert merged.status_code == 200, merged.text
    gone = (await fx_client.get(api(fx_shop, f"/conversations/{chat['id']}"), headers=fx_shop.auth)).json()
    assert gone["status"] == "closed" and gone["merged_into"] == sms_conv["id"]
    again = await fx_client.post(api(fx_shop, f"/conversations/{sms_conv['id']}/merge"),
                                 json={"other_id": chat["id"]}, headers=fx_shop.auth)
    assert again.status_code == 409
    assert (await fx_client.post(api(fx_shop, f"/conversations/{chat['id']}/reopen"),
                                 headers=fx_shop.auth)).status_code == 409

    after = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline?limit=100"),
                                 headers=fx_shop.auth)).json()["items"]
    messages = [i for i in after if i["direction"] == "in" and i["payload"].get("event") != "queued"]
    ids = [i["id"] for i in after]
    assert len(ids) == len(set(ids))  # every item once
    assert {i["id"] for i in before} <= set(ids)  # nothing lost
    # One thread, in the order the customer wrote, all pointing at the survivor.
    assert [i["summary"] for i in reversed(messages)] == ["sms 1", "chat 1", "sms 2", "chat 2"]
    assert {i["links"]["conversation_id"] for i in messages} == {sms_conv["id"]}
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        sms_rows = await conn.fetch("SELECT conversation FROM sms_message WHERE from_number = $1", phone)
        thread = await conn.fetch("SELECT summary FROM interaction WHERE links ->> 'conversation_id' = $1 "
                                  "AND direction = 'in' AND payload ->> 'event' IS DISTINCT FROM 'queued' "
                                  "ORDER BY occurred_at, id", str(sms_conv["id"]))
    assert {r["conversation"] for r in sms_rows} == {sms_conv["id"]}
    assert [r["summary"] for r in thread] == ["sms 1", "chat 1", "sms 2", "chat 2"]
    assert [e["merged_id"] for e in await _events(fx_client, fx_shop, "conversation.merged")] == [chat["id"]]


async def test_merging_an_open_conversation_into_a_closed_one_keeps_the_customer_in_the_queue(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    contact_id = await _contact(fx_client, fx_shop, "Olaf Open", "+14155550311")
    old = await _open(fx_client, fx_shop, contact_id=contact_id, subject="last week")
    await fx_client.post(api(fx_shop, f"/conversations/{old['id']}/close"), json={}, headers=fx_shop.auth)
    new = await _open(fx_client, fx_shop, channel="chat", contact_id=contact_id, subject="today")
    merged = await fx_client.post(api(fx_shop, f"/conversations/{old['id']}/merge"), json={"other_id": new["id"]},
                                  headers=fx_shop.auth)
    assert merged.status_code == 200 and merged.json()["status"] == "waiting"
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert [c["id"] for c in waiting] == [old["id"]]


async def test_a_blocked_senders_message_is_kept_but_opens_no_queue_item(fx_client: Any,
                                                                         fx_shop: ShopFixture) -> None:
    phone = "+14155550301"
    contact_id = await _contact(fx_client, fx_shop, "Spammy Sam", phone)
    await _sms_in(fx_shop, phone, "WIN A PRIZE")
    conv = await _conversation_of(fx_shop, phone)
    _, op = await _user(fx_shop)
    blocked = await fx_client.post(api(fx_shop, "/blocked-addresses"),
                                   json={"conversation_id": conv["id"], "reason": "prize spam"}, headers=op)
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["address"] == phone and blocked.json()["kind"] == "phone"
    assert (await _conversation_of(fx_shop, phone))["status"] == "closed"

    await _sms_in(fx_shop, phone, "WIN A PRIZE AGAIN")
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=op)).json()
    assert phone not in [c["from_address"] for c in waiting]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), headers=op)).json()["items"]
    assert "WIN A PRIZE AGAIN" in [i["summary"] for i in timeline]  # nothing lost
    async with tenant_context(fx_shop.tenant):
        stored = await current_uow().connection.fetchval(
            "SELECT count(*) FROM sms_message WHERE from_number = $1 AND body = 'WIN A PRIZE AGAIN'", phone)
    assert stored == 1
    added = [e for e in await _events(fx_client, fx_shop, "queue.item_added") if e["contact_id"] == contact_id]
    assert len(added) == 1  # the first message only

    # Admins list and unblock; operators may block but not list or unblock.
    assert (await fx_client.get(api(fx_shop, "/blocked-addresses"), headers=op)).status_code == 403
    listed = (await fx_client.get(api(fx_shop, "/blocked-addresses"), headers=fx_shop.auth)).json()
    assert [b["address"] for b in listed] == [phone] and listed[0]["reason"] == "prize spam"
    assert (await fx_client.delete(api(fx_shop, f"/blocked-addresses/{listed[0]['id']}"),
                                   headers=op)).status_code == 403
    email = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"address": " Spam@Example.COM "},
                                 headers=fx_shop.auth)
    assert email.status_code == 201 and email.json()["address"] == "spam@example.com"
    bad = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "address"
    a_name = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"address": "Web visitor"},
                                  headers=fx_shop.auth)
    assert a_name.status_code == 400 and "phone number or an e-mail" in a_name.json()["detail"]
    assert (await fx_client.delete(api(fx_shop, f"/blocked-addresses/{listed[0]['id']}"),
                                   headers=fx_shop.auth)).status_code == 204
    await _sms_in(fx_shop, phone, "Sorry, real question now")
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=op)).json()
    assert phone in [c["from_address"] for c in waiting]


SOON = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
ACTIONS = [("POST", "/assign", {"queue": "general"}), ("POST", "/snooze", {"until": SOON}),
           ("POST", "/close", {}), ("POST", "/reopen", None), ("POST", "/merge", {"other_id": 1})]


async def test_an_operator_cannot_see_or_act_on_a_queue_their_role_does_not_see(fx_client: Any,
                                                                                 fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "vip", "name": "VIP", "roles": ["supervisor"]},
                         headers=fx_shop.auth)
    vip = await _open(fx_client, fx_shop, queue="vip", from_address="+14155550401")
    _, op = await _user(fx_shop)
    for method, suffix, body in [*ACTIONS, ("POST", "", None)]:
        if not suffix:
            resp = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"conversation_id": vip["id"]},
                                        headers=op)
        else:
            resp = await fx_client.request(method, api(fx_shop, f"/conversations/{vip['id']}{suffix}"), json=body,
                                           headers=op)
        assert resp.status_code == 404, (suffix, resp.text)
    snoozed = (await fx_client.get(api(fx_shop, "/conversations/snoozed"), headers=op)).json()
    assert vip["id"] not in [c["id"] for c in snoozed]
    # Another operator's conversation: visible, but only they or a supervisor act on it.
    _, other = await _user(fx_shop)
    _, sup = await _user(fx_shop, "supervisor")
    theirs = await _open(fx_client, fx_shop)
    await fx_client.post(api(fx_shop, f"/conversations/{theirs['id']}/take"), headers=other)
    resp = await fx_client.post(api(fx_shop, f"/conversations/{theirs['id']}/snooze"),
                                json={"until": SOON}, headers=op)
    assert resp.status_code == 403 and "supervisor" in resp.json()["detail"]
    assert (await fx_client.post(api(fx_shop, f"/conversations/{theirs['id']}/snooze"),
                                 json={"until": SOON}, headers=sup)).status_code == 200
    # Snoozed, it is still the other operator's.
    assert (await fx_client.post(api(fx_shop, f"/conversations/{theirs['id']}/close"), json={},
                                 headers=op)).status_code == 403


async def test_conversation_actions_do_not_cross_tenants(fx_client: Any, fx_shop: ShopFixture,
                                                         fx_other_shop: ShopFixture) -> None:
    mine = await _open(fx_client, fx_shop, subject="A only", from_address="+14155550501")
    blocked = (await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"address": "+14155550502"},
                                    headers=fx_shop.auth)).json()
    theirs = await _open(fx_client, fx_other_shop, subject="B's")
    for method, suffix, body in ACTIONS:
        # B's key on A's URL: the unknown-tenant 404; B's key on B's URL with A's id: no such conversation.
        foreign = await fx_client.request(method, api(fx_shop, f"/conversations/{mine['id']}{suffix}"), json=body,
                                          headers=fx_other_shop.auth)
        assert foreign.status_code == 404, suffix
        own = await fx_client.request(method, api(fx_other_shop, f"/conversations/{mine['id']}{suffix}"),
                                      json=body if suffix != "/merge" else {"other_id": theirs["id"]},
                                      headers=fx_other_shop.auth)
        if mine["id"] != theirs["id"]:
            assert own.status_code == 404 and "A only" not in own.text, (suffix, own.text)
    merge_across = await fx_client.post(api(fx_other_shop, f"/conversations/{theirs['id']}/merge"),
                                        json={"other_id": mine["id"]}, headers=fx_other_shop.auth)
    assert merge_across.status_code in (400, 404) and "A only" not in merge_across.text
    assert (await fx_client.post(api(fx_other_shop, "/blocked-addresses"), json={"conversation_id": mine["id"]},
                                 headers=fx_other_shop.auth)).status_code in (400, 404)
    assert (await fx_client.get(api(fx_other_shop, "/blocked-addresses"),
                                headers=fx_other_shop.auth)).json() == []
    assert (await fx_client.delete(api(fx_other_shop, f"/blocked-addresses/{blocked['id']}"),
                                   headers=fx_other_shop.auth)).status_code == 404
    assert [b["address"] for b in (await fx_client.get(api(fx_shop, "/blocked-addresses"),
                                                       headers=fx_shop.auth)).json()] == ["+14155550502"]
    # The HTML form endpoints: B's session on A's conversation.
    await browser_login(fx_client, fx_other_shop.slug, fx_other_shop.email, fx_other_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_other_shop.slug}/console/")
    for suffix in ("assign", "snooze", "close", "reopen", "merge", "block"):
        resp = await fx_client.post(f"/t/{fx_shop.slug}/conversations/{mine['id']}/{suffix}",
                                    data={"_csrf": token, "preset": "1h"}, headers={"accept": "text/html"})
        assert resp.status_code in (303, 403, 404) and "A only" not in resp.text, suffix
    assert (await fx_client.get(api(fx_shop, f"/conversations/{mine['id']}"),
                                headers=fx_shop.auth)).json()["status"] == "waiting"


async def test_the_forms_answer_htmx_with_the_actions_partial(fx_client: Any, fx_shop: ShopFixture) -> None:
    phone = "+14155550601"
    contact_id = await _contact(fx_client, fx_shop, "Form Fiona", phone)
    item = await _open(fx_client, fx_shop, contact_id=contact_id, from_address=phone, subject="forms")
    other = await _open(fx_client, fx_shop, channel="chat", contact_id=contact_id, subject="other")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    html = {"accept": "text/html", "hx-request": "true", "x-csrf-token": token}
    base = f"/t/{fx_shop.slug}/conversations/{item['id']}"

    panel = await fx_client.get(f"{base}/actions", headers=html)
    assert panel.status_code == 200 and 'data-testid="conversation-actions"' in panel.text
    assert f'value="{other["id"]}"' in panel.text  # the client's other conversation, to merge
    snoozed = await fx_client.post(f"{base}/snooze", data={"preset": "tomorrow"}, headers=html)
    assert snoozed.status_code == 200 and 'data-status="snoozed"' in snoozed.text and "Snoozed." in snoozed.text
    bad = await fx_client.post(f"{base}/snooze", data={"until": "not a time"}, headers=html)
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "YYYY-MM-DD" in bad.text
    LOCAL = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    local = await fx_client.post(f"{base}/snooze", data={"until": LOCAL}, headers=html)
    assert local.status_code == 200
    row = (await fx_client.get(api(fx_shop, f"/conversations/{item['id']}"), headers=fx_shop.auth)).json()
    assert row["snoozed_until"].startswith(LOCAL)  # the owner's zone is UTC here
    closed = await fx_client.post(f"{base}/close", data={}, headers=html)
    assert closed.status_code == 200 and 'data-status="closed"' in closed.text and "action-reopen" in closed.text
    reopened = await fx_client.post(f"{base}/reopen", data={}, headers=html)
    assert reopened.status_code == 200 and 'data-status="waiting"' in reopened.text
    merged = await fx_client.post(f"{base}/merge", data={"other_id": str(other["id"])}, headers=html)
    assert merged.status_code == 200 and "Merged." in merged.text
    huge = await fx_client.post(f"{base}/merge", data={"other_id": "99999999999"}, headers=html)
    assert huge.status_code == 400
    assigned = await fx_client.post(f"{base}/assign", data={"user_id": str(fx_shop.user_id)}, headers=html)
    assert assigned.status_code == 200 and "Assigned." in assigned.text
    spam = await fx_client.post(f"{base}/block", data={}, headers=html)
    assert spam.status_code == 200 and 'data-status="closed"' in spam.text
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/blocked/", headers={"accept": "text/html"})
    assert page.status_code == 200 and phone in page.text


async def test_a_canned_response_renders_for_a_conversations_client_and_the_picker_lists_it(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    """Canned responses live with the email templates (kind `canned`, Settings → Templates, /email-templates);
    the reply box of a conversation renders one for the conversation's client, if its queue is visible."""
    created = await fx_client.post(api(fx_shop, "/email-templates"), headers=fx_shop.auth, json={
        "kind": "canned", "name": "Parcel on its way", "shortcut": "parcel",
        "body": "Hi {{ contact.first_name }}, your parcel left {{ shop }} today. {{ operator.name }}"})
    assert created.status_code == 201, created.text
    tpl = created.json()
    contact_id = await _contact(fx_client, fx_shop, "Petra Parcel", "+14155550801")
    item = await _open(fx_client, fx_shop, contact_id=contact_id)
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "vip", "name": "VIP", "roles": ["supervisor"]},
                         headers=fx_shop.auth)
    vip = await _open(fx_client, fx_shop, contact_id=contact_id, queue="vip")
    _, op = await _user(fx_shop, name="Olga")

    rendered = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=op,
                                    json={"conversation_id": item["id"]})
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["body"] == f"Hi Petra, your parcel left Shop {fx_shop.slug} today. Olga"
    hidden = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=op,
                                  json={"conversation_id": vip["id"]})
    assert hidden.status_code == 404 and "Petra" not in hidden.text
    both = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=op,
                                json={"conversation_id": item["id"], "contact_id": contact_id + 1})
    assert both.status_code == 400
    theirs = await fx_client.post(api(fx_other_shop, f"/email-templates/{tpl['id']}/render"),
                                  headers=fx_other_shop.auth, json={"conversation_id": item["id"]})
    assert theirs.status_code == 404 and "Petra" not in theirs.text

    from app.email import templates
    from app.lib.templates import render_text

    async with tenant_context(fx_shop.tenant):
        canned = await templates.canned_for_picker()
    html = render_text("_partials/canned_picker.html", {"canned": canned, "box_id": "reply-1"})
    assert f'<option value="{tpl["id"]}" data-shortcut="parcel">Parcel on its way  /parcel</option>' in html
    assert 'data-canned-for="reply-1"' in html
    assert render_text("_partials/canned_picker.html", {"canned": []}).strip() == ""


async def test_the_demo_shop_has_canned_responses_a_snoozed_conversation_and_a_blocked_number(fx_db: str) -> None:
    from app import demo
    from app.conversations import actions
    from app.email import templates
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        canned = await templates.canned_for_picker()
        blocked = await actions.blocked_list()
        snoozed = await current_uow().connection.fetch(
            "SELECT id, snoozed_until FROM conversation WHERE status = 'snoozed'")
        wake = await current_uow().connection.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = $1 AND convert_from(payload, 'UTF8')::jsonb "
            "->> 'tenant' = $2", actions.WAKE_JOB, tenant.slug)
    assert {"thanks", "parcel", "callback"} <= {c["shortcut"] for c in canned}
    assert [b["address"] for b in blocked] == ["+14155550199"]
    assert len(snoozed) == 1 and snoozed[0]["snoozed_until"] > dt.datetime.now(dt.UTC)
    assert wake >= 1  # `make run`'s worker brings it back when its time comes


@pytest.mark.xdist_group("realtime")
async def test_action_events_refresh_the_consoles_of_this_shop_only(fx_live: Any, fx_client: Any,
                                                                     fx_shop: ShopFixture,
                                                                     fx_other_shop: ShopFixture) -> None:
    from app.accounts.services import create_session
    from tests.servers import ConsoleSocket

    async def console(shop: ShopFixture, user_id: int) -> Any:
        async with tenant_context(shop.tenant):
            token, _ = await create_session(user_id)
        sock = await ConsoleSocket.open(fx_live.ws_url, shop.slug, token, "http://testserver.local")
        await sock.ready()
        return sock

    op_id, op = await _user(fx_shop, name="Olga")
    mine = await console(fx_shop, op_id)
    stranger = await console(fx_other_shop, fx_other_shop.user_id)
    item = await _open(fx_client, fx_shop, subject="Snooze me live")
    await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/take"), headers=op)
    frames = await mine.until(lambda f: f.event == "queue.item_taken")
    assert "Snooze me live" in frames[-1].text.split('id="console-mine"')[1]
    assert f'id="conversation-actions-{item["id"]}"' in frames[-1].text  # the actions are on the row

    await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/snooze"), json={"until": SOON}, headers=op)
    frames = await mine.until(lambda f: f.event == "conversation.snoozed")
    assert "Snooze me live" not in frames[-1].text.split('id="console-mine"')[1]  # gone from my list, live
    await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/close"), json={}, headers=op)
    await mine.until(lambda f: f.event == "conversation.closed")
    # Shop B's console heard none of it: B's own item is the first event it gets.
    await _open(fx_client, fx_other_shop, subject="Only for B")
    b_frames = await stranger.until(lambda f: f.event == "queue.item_added")
    assert not [f for f in b_frames if (f.event or "").startswith("conversation.") or "Snooze me live" in f.text]
    for sock in (mine, stranger):
        await sock.close()


async def test_mail_from_a_blocked_address_is_stored_but_opens_no_queue_item(
        fx_client: Any, fx_shop: ShopFixture, fx_mail_in: int) -> None:  # noqa: F811 (the imported fixture)
    from email.message import EmailMessage

    blocked = await fx_client.post(api(fx_shop, "/blocked-addresses"), json={"address": "spam@customer.example",
                                                                             "reason": "newsletters"},
                                   headers=fx_shop.auth)
    assert blocked.status_code == 201 and blocked.json()["kind"] == "email"
    msg = EmailMessage()
    msg["From"] = "Spam Bot <Spam@Customer.example>"
    msg["To"] = address(fx_shop)
    msg["Subject"] = "Cheap watches"
    msg["Message-ID"] = "<spam-1@customer.example>"
    msg.set_content("Buy now!")
    await deliver(fx_mail_in, msg, "spam@customer.example", [address(fx_shop)])
    [row] = await process_all(fx_shop, 1)
    assert row["subject"] == "Cheap watches" and row["text"].startswith("Buy now!")  # kept
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{row['conversation']}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "closed" and conv["wrapup_code"] == "blocked"
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert row["conversation"] not in [c["id"] for c in waiting]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{row['contact']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    assert "Cheap watches" in [i["summary"] for i in timeline]


async def test_a_snooze_whose_job_was_lost_comes_back_with_the_next_wake_up_of_its_shop(fx_client: Any,
                                                                                       fx_shop: ShopFixture) -> None:
    from app.conversations import actions

    lost, other = await _open(fx_client, fx_shop, subject="lost job"), await _open(fx_client, fx_shop)
    for item in (lost, other):
        assert (await fx_client.post(api(fx_shop, f"/conversations/{item['id']}/snooze"), json={"until": SOON},
                                     headers=fx_shop.auth)).status_code == 200
    async with tenant_context(fx_shop.tenant):  # its job is gone and its time passed long ago
        await current_uow().connection.execute(
            "UPDATE conversation SET snoozed_until = now() - interval '1 hour' WHERE id = $1", lost["id"])
    await actions.wake({"tenant": fx_shop.slug, "conversation_id": other["id"], "until": SOON})
    read = (await fx_client.get(api(fx_shop, f"/conversations/{lost['id']}"), headers=fx_shop.auth)).json()
    assert read["status"] == "waiting"
    still = (await fx_client.get(api(fx_shop, f"/conversations/{other['id']}"), headers=fx_shop.auth)).json()
    assert still["status"] == "snoozed"  # its own time has not come
