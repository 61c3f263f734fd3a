"""Retention: a dry run counts what a policy would purge, the purge deletes exactly those (not newer rows), the
audit log says so with the counts; the nightly job; the admin page; admins only; another shop sees only its own."""

from __future__ import annotations

import json
from typing import Any

from app.lib.db import current_uow, tenant_context
from app.lib.storage import get_storage
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.test_orders import api, make_contact


async def _chunks(data: bytes) -> Any:
    yield data


async def _seed_sms(shop: ShopFixture, contact_id: int, ages_days: list[int]) -> list[int]:
    ids = []
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        for n, age in enumerate(ages_days):
            ids.append(await conn.fetchval(
                "INSERT INTO sms_message (sid, direction, from_number, to_number, body, status, contact, created_at) "
                "VALUES ($1, 'in', '+14155550150', '+15005550006', $2, 'received', $3, now() - make_interval(days => $4)) "
                "RETURNING id", f"SM{shop.slug}{n}{age}".ljust(34, "0")[:34], f"message {n}", contact_id, age))
    return ids


async def test_dry_run_counts_and_the_purge_deletes_exactly_those_and_audits(fx_client: Any,
                                                                              fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Old Messages")
    old = await _seed_sms(fx_shop, c["id"], [100, 45, 31])
    new = await _seed_sms(fx_shop, c["id"], [29, 1])
    held = await make_contact(fx_client, fx_shop, name="Under Hold")
    held_sms = await _seed_sms(fx_shop, held["id"], [300])  # a legal hold keeps everything of its contact
    assert (await fx_client.put(api(fx_shop, f"/contacts/{held['id']}/legal-hold"), json={"reason": "Litigation"},
                                headers=fx_shop.auth)).status_code == 200
    base = api(fx_shop, "/privacy/retention")
    policies = (await fx_client.get(f"{base}/", headers=fx_shop.auth)).json()
    assert {p["data_class"] for p in policies} >= {"recordings", "messages", "attachments", "closed_conversations",
                                                   "raw_inbound", "webhook_deliveries", "event_log", "audit"}
    assert all(p["keep_days"] is None and p["enabled"] is False for p in policies)
    dry = await fx_client.get(f"{base}/messages/dry-run", params={"keep_days": 30}, headers=fx_shop.auth)
    assert dry.status_code == 200 and dry.json()["count"] == len(old)
    assert (await fx_client.get(f"{base}/messages/dry-run", params={"keep_days": 200},
                                headers=fx_shop.auth)).json()["count"] == 0
    assert (await fx_client.get(f"{base}/nothing/dry-run", params={"keep_days": 3},
                                headers=fx_shop.auth)).status_code == 400
    refused = await fx_client.put(f"{base}/messages", json={"enabled": True}, headers=fx_shop.auth)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "keep_days"
    short_audit = await fx_client.put(f"{base}/audit", json={"keep_days": 30}, headers=fx_shop.auth)
    assert short_audit.status_code == 400
    saved = await fx_client.put(f"{base}/messages", json={"keep_days": 30, "action": "delete", "enabled": True},
                                headers=fx_shop.auth)
    assert saved.status_code == 200 and saved.json()["enabled"] is True
    async with tenant_context(fx_shop.tenant):
        queued = await current_uow().connection.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = 'privacy.retention' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", fx_shop.slug)
    assert queued == 1  # the nightly run is scheduled (once, however often the policy is saved)

    purged = await fx_client.post(f"{base}/messages/purge", headers=fx_shop.auth)
    assert purged.status_code == 200 and purged.json()["count"] == len(old)
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        left = [r["id"] for r in await conn.fetch("SELECT id FROM sms_message WHERE contact = $1 ORDER BY id",
                                                  c["id"])]
        kept = [r["id"] for r in await conn.fetch("SELECT id FROM sms_message WHERE contact = $1", held["id"])]
        entry = await conn.fetchrow("SELECT actor_id, detail FROM audit_entry WHERE action = 'retention.purged' "
                                    "AND target_id = 'messages'")
        policy_set = await conn.fetchval("SELECT detail->>'would_purge' FROM audit_entry "
                                         "WHERE action = 'retention.policy_set' AND target_id = 'messages'")
    assert left == new and kept == held_sms
    detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else entry["detail"]
    assert detail["count"] == len(old) and detail["tables"] == {"sms_message": len(old)} and entry["actor_id"]
    assert policy_set == str(len(old))
    after = (await fx_client.get(f"{base}/", headers=fx_shop.auth)).json()
    messages = next(p for p in after if p["data_class"] == "messages")
    assert messages["last_count"] == len(old) and messages["last_run_at"]


async def test_the_nightly_job_purges_recordings_from_storage_and_reschedules(fx_client: Any,
                                                                             fx_shop: ShopFixture) -> None:
    from app.privacy import jobs

    c = await make_contact(fx_client, fx_shop, name="Recorded")
    async with tenant_context(fx_shop.tenant):
        storage = get_storage()
        old_key = await storage.put(_chunks(b"old recording"), namespace="recordings")
        new_key = await storage.put(_chunks(b"new recording"), namespace="recordings")
        conn = current_uow().connection
        for n, (key, age) in enumerate(((old_key, 400), (new_key, 2))):
            await conn.execute(
                "INSERT INTO twilio_call (sid, direction, from_number, to_number, status, contact, recording_key, "
                "created_at) VALUES ($1, 'inbound', '+14155550160', '+15005550006', 'completed', $2, $3, "
                "now() - make_interval(days => $4))", f"CA{fx_shop.slug}{n}".ljust(34, "0")[:34], c["id"], key, age)
    base = api(fx_shop, "/privacy/retention")
    assert (await fx_client.get(f"{base}/recordings/dry-run", params={"keep_days": 365},
                                headers=fx_shop.auth)).json()["count"] == 1
    assert (await fx_client.put(f"{base}/recordings", json={"keep_days": 365, "enabled": True},
                                headers=fx_shop.auth)).status_code == 200
    await jobs.nightly_retention({"tenant": fx_shop.slug})
    async with tenant_context(fx_shop.tenant):
        storage = get_storage()
        assert not await storage.exists(old_key) and await storage.exists(new_key)
        conn = current_uow().connection
        keys = [r["recording_key"] for r in await conn.fetch(
            "SELECT recording_key FROM twilio_call WHERE contact = $1 ORDER BY id", c["id"])]
        entry = await conn.fetchval("SELECT detail->>'count' FROM audit_entry WHERE action = 'retention.purged' "
                                    "AND target_id = 'recordings'")
        nights = await conn.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = 'privacy.retention' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", fx_shop.slug)
    assert keys == ["", new_key] and entry == "1"
    assert nights >= 1
    # A dry run now finds nothing more to purge.
    assert (await fx_client.get(f"{base}/recordings/dry-run", params={"keep_days": 365},
                                headers=fx_shop.auth)).json()["count"] == 0


async def test_retention_is_for_admins_and_each_shop_sees_its_own(fx_client: Any, fx_shop: ShopFixture,
                                                                  fx_other_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Mine")
    await _seed_sms(fx_shop, c["id"], [90])
    await fx_client.put(api(fx_shop, "/privacy/retention/messages"), json={"keep_days": 30},
                        headers=fx_shop.auth)
    theirs = (await fx_client.get(api(fx_other_shop, "/privacy/retention/"), headers=fx_other_shop.auth)).json()
    assert next(p for p in theirs if p["data_class"] == "messages")["keep_days"] is None
    assert (await fx_client.get(api(fx_other_shop, "/privacy/retention/messages/dry-run"), params={"keep_days": 30},
                                headers=fx_other_shop.auth)).json()["count"] == 0
    assert (await fx_client.get(api(fx_shop, "/privacy/retention/"),
                                headers=fx_other_shop.auth)).status_code in (401, 403, 404)
    assert (await fx_client.get(api(fx_shop, "/privacy/retention/"))).status_code in (401, 403)


async def test_the_retention_page_shows_a_dry_run_and_saves(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, name="Paged")
    await _seed_sms(fx_shop, c["id"], [90, 80])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/settings/retention"
    page = await fx_client.get(f"{base}/", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-class="messages"' in page.text
    dry = await fx_client.get(f"{base}/messages/dry-run", params={"keep_days": "30"},
                              headers={"accept": "text/html", "HX-Request": "true"})
    assert dry.status_code == 200 and "2 rows would be purged now." in dry.text
    token = await csrf_from(fx_client, f"{base}/")
    saved = await fx_client.post(f"{base}/messages", data={"keep_days": "30", "action": "anonymise",
                                                           "enabled": "on", "_csrf": token},
                                 headers={"accept": "text/html"})
    assert saved.status_code == 200 and 'data-testid="notice"' in saved.text
    bad = await fx_client.post(f"{base}/messages", data={"keep_days": "abc", "_csrf": token},
                               headers={"accept": "text/html"})
    assert bad.status_code == 400 and "keep_days must be" in bad.text
    policy = next(p for p in (await fx_client.get(api(fx_shop, "/privacy/retention/"), headers=fx_shop.auth)).json()
                  if p["data_class"] == "messages")
    assert (policy["keep_days"], policy["action"], policy["enabled"]) == (30, "anonymise", True)


async def test_the_event_log_is_trimmed_by_age_but_never_past_a_listener(fx_client: Any,
                                                                         fx_shop: ShopFixture) -> None:
    for n in range(3):
        await make_contact(fx_client, fx_shop, name=f"Event {n}")
    async with tenant_context(fx_shop.tenant):
        conn = current_uow().connection
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM event_log ORDER BY tx, id")]
        assert len(ids) >= 3
        # Everything but the newest event is old; every durable listener has read them all but the newest.
        await conn.execute("UPDATE event_log SET at = now() - interval '10 days' WHERE id <> $1", ids[-1])
        await conn.execute("UPDATE listener_cursor SET (last_tx, last_event_id) = "
                           "(SELECT tx, id FROM event_log WHERE id = $1)", ids[-2])
    base = api(fx_shop, "/privacy/retention")
    assert (await fx_client.get(f"{base}/event_log/dry-run", params={"keep_days": 5},
                                headers=fx_shop.auth)).json()["count"] == len(ids) - 1
    await fx_client.put(f"{base}/event_log", json={"keep_days": 5}, headers=fx_shop.auth)
    purged = (await fx_client.post(f"{base}/event_log/purge", headers=fx_shop.auth)).json()
    async with tenant_context(fx_shop.tenant):
        left = [r["id"] for r in await current_uow().connection.fetch("SELECT id FROM event_log ORDER BY tx, id")]
    assert ids[-1] in left and not set(ids[:-1]) & set(left)
    assert purged["count"] == len(ids) - 1
