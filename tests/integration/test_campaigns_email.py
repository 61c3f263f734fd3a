"""An email campaign through the shop's outbox to a real SMTP server: subject and body in the contact's language,
RFC 8058 one-click unsubscribe headers, tracked links and the open pixel, sent once; a one-click unsubscribe in the
middle of a campaign stops the next email."""

from __future__ import annotations

import asyncio
from typing import Any

from app.consent import services as consent
from app.email.outbound import deliver
from app.lib.db import current_uow, raw_connect, tenant_context
from tests.conftest import TEST_DSN, ShopFixture
from tests.integration.campaign_kit import contact, create, drop_later, read, recipients, run_jobs, segment, send
from tests.integration.email_kit import Mailbox, configure, smtp_server


async def _deliver_outbox(shop: ShopFixture) -> int:
    import json

    conn = await raw_connect(TEST_DSN)
    try:
        rows = await conn.fetch(
            "DELETE FROM public.pgqueuer WHERE entrypoint = 'messaging.send_email' AND "
            "convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 RETURNING payload", shop.slug)
    finally:
        await conn.close()
    for row in rows:
        await deliver(json.loads(row["payload"]))
    return len(rows)


async def test_email_campaign_has_one_click_unsubscribe_and_tracking(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        ru = await contact(fx_client, fx_shop, "Ivan Petrov", email="ivan@example.org", language="ru")
        en = await contact(fx_client, fx_shop, "Jane Doe", email="jane@example.org")
        c = await create(fx_client, fx_shop, {
            "name": "Winter tea", "channel": "email", "segment_id": await segment(fx_shop, [ru, en]),
            "variants": [{"key": "A", "content": {
                "": {"subject": "Hello {{ contact.first_name }}", "body": "New teas: https://tea.example/winter"},
                "ru": {"subject": "Привет, {{ contact.first_name }}", "body": "Новые чаи: https://tea.example/winter"},
            }}]})
        await send(fx_client, fx_shop, c["id"])
        await run_jobs(fx_shop)
        assert await _deliver_outbox(fx_shop) == 2
        for _ in range(50):
            if len(box.messages) == 2:
                break
            await asyncio.sleep(0.05)
        assert await _deliver_outbox(fx_shop) == 0  # nothing queued twice
    finally:
        server.stop()
    by_to = {m["To"]: m for m in box.messages}
    assert set(by_to) == {"ivan@example.org", "jane@example.org"}
    ivan = by_to["ivan@example.org"]
    assert ivan["Subject"] == "Привет, Ivan" and by_to["jane@example.org"]["Subject"] == "Hello Jane"
    assert ivan["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = ivan["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"http://testserver.local/t/{fx_shop.slug}/unsubscribe/")
    text = ivan.get_body(("plain",)).get_content()
    html = ivan.get_body(("html",)).get_content()
    assert "Новые чаи: http://testserver.local/t/" in text and "/track/c/" in text and url in text
    assert "/track/o/" in html
    rows = await recipients(fx_client, fx_shop, c["id"])
    assert {r["status"] for r in rows} == {"sent"} and all(r["email_message_id"] for r in rows)
    assert (await read(fx_client, fx_shop, c["id"]))["status"] == "done"
    # The one-click POST a mail client makes unsubscribes at once; the contact is skipped by the next campaign.
    resp = await fx_client.post(url.replace("http://testserver.local", ""),
                                content=b"List-Unsubscribe=One-Click",
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code in (200, 204), resp.text
    again = await create(fx_client, fx_shop, {
        "name": "Again", "channel": "email", "segment_id": c["segment_id"], "variants": [{"key": "A", "content": {"": {"subject": "Hi", "body": "x"}}}]})
    await send(fx_client, fx_shop, again["id"])
    await run_jobs(fx_shop)
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, again["id"])}
    assert by[ru]["status"] == "skipped" and by[ru]["skip_reason"] in ("opted_out", "suppressed")
    assert by[en]["status"] == "sent"


async def test_a_one_click_unsubscribe_mid_campaign_stops_the_next_email(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Throttled to one email a minute: the second recipient presses the one-click link (RFC 8058 POST, no session)
    before their turn, and gets nothing; the ledger says how."""
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        first = await contact(fx_client, fx_shop, "Anna First", email="anna@example.org")
        second = await contact(fx_client, fx_shop, "Bob Second", email="bob@example.org")
        c = await create(fx_client, fx_shop, {
            "name": "Slow news", "channel": "email", "segment_id": await segment(fx_shop, [first, second]),
            "throttle_per_minute": 1, "variants": [{"key": "A", "content": {"": {"subject": "News", "body": "x"}}}]})
        await send(fx_client, fx_shop, c["id"])
        await run_jobs(fx_shop)
        [waiting] = await recipients(fx_client, fx_shop, c["id"], "queued")
        async with tenant_context(fx_shop.tenant):
            url = consent.one_click_url(waiting["contact_id"], "email", "marketing")
        resp = await fx_client.post(url.replace("http://testserver.local", ""), content=b"List-Unsubscribe=One-Click",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert resp.status_code in (200, 204), resp.text
        async with tenant_context(fx_shop.tenant):
            await current_uow().connection.execute(  # the minute has passed
                "UPDATE campaign_recipient SET claimed_at = claimed_at - interval '61 seconds' WHERE campaign = $1",
                c["id"])
        await drop_later(fx_shop)
        await fx_client.post(f"/t/{fx_shop.slug}/api/v1/campaigns/{c['id']}/pause", headers=fx_shop.auth)
        await fx_client.post(f"/t/{fx_shop.slug}/api/v1/campaigns/{c['id']}/resume", headers=fx_shop.auth)
        await run_jobs(fx_shop)
        assert await _deliver_outbox(fx_shop) == 1
        for _ in range(50):
            if box.messages:
                break
            await asyncio.sleep(0.05)
    finally:
        server.stop()
    by = {r["contact_id"]: r for r in await recipients(fx_client, fx_shop, c["id"])}
    assert by[waiting["contact_id"]]["status"] == "skipped"
    assert by[waiting["contact_id"]]["skip_reason"] in ("opted_out", "suppressed")
    [got] = [r for r in by.values() if r["status"] == "sent"]
    assert [m["To"] for m in box.messages] == [got["address"]]
    ledger = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/contacts/{waiting['contact_id']}/consent",
                                  headers=fx_shop.auth)).json()
    assert {k: ledger[0][k] for k in ("channel", "purpose", "status", "source")} == {
        "channel": "email", "purpose": "marketing", "status": "opt_out", "source": "one_click"}
    assert (await read(fx_client, fx_shop, c["id"]))["status"] == "done"
