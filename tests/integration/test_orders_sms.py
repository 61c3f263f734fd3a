"""The portal link by SMS from the order page and the API: through the tenant's Twilio account (the simulator), on
the contact's timeline with its delivery status, a clear 400 without Twilio, idempotent when the job is retried."""

from __future__ import annotations

import json
from typing import Any

from app.lib.db import raw_connect
from app.orders.jobs import send_portal_sms
from telephony.simulator import Simulator
from tests.conftest import TEST_DSN, ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_orders import api, make_contact, make_order


async def take_jobs(shop: ShopFixture, entrypoint: str) -> list[dict[str, Any]]:
    """Take the shop's queued `entrypoint` jobs off the queue, in order, as the worker would."""
    conn = await raw_connect(TEST_DSN)
    try:
        rows = await conn.fetch(
            "DELETE FROM public.pgqueuer WHERE entrypoint = $1 AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' "
            "= $2 RETURNING id, payload", entrypoint, shop.slug)
    finally:
        await conn.close()
    return [json.loads(r["payload"]) for r in sorted(rows, key=lambda r: r["id"])]


async def timeline(client: Any, shop: ShopFixture, contact_id: int) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, f"/contacts/{contact_id}/timeline"), headers=shop.auth)
    return list(resp.json()["items"])


async def test_sms_without_twilio_is_a_400_naming_the_setup(fx_client: Any, fx_shop: ShopFixture) -> None:
    c = await make_contact(fx_client, fx_shop, phones=["+14155550166"])
    order = await make_order(fx_client, fx_shop, c["id"])
    resp = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal/send"), json={"channel": "sms"},
                                headers=fx_shop.auth)
    assert resp.status_code == 400
    body = resp.json()
    assert body["errors"][0]["field"] == "channel"
    assert "Twilio" in body["detail"] and f"/t/{fx_shop.slug}/settings/twilio" in body["detail"]
    assert not await take_jobs(fx_shop, "orders.send_portal_sms")


async def test_portal_link_sms_through_twilio_on_the_timeline(fx_client: Any, fx_shop: ShopFixture,
                                                              fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    c = await make_contact(fx_client, fx_shop, phones=["+14155550166"])
    nophone = await make_contact(fx_client, fx_shop, name="No Phone")
    order = await make_order(fx_client, fx_shop, c["id"], number="SMS-1")
    other = await make_order(fx_client, fx_shop, nophone["id"])

    bad = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal/send"),
                               json={"channel": "sms", "to": "not a number"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "to"
    none = await fx_client.post(api(fx_shop, f"/orders/{other['id']}/portal/send"), json={"channel": "sms"},
                                headers=fx_shop.auth)
    assert none.status_code == 400 and none.json()["errors"][0]["field"] == "to"

    sent = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal/send"), json={"channel": "sms"},
                                headers=fx_shop.auth)
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"queued": True, "channel": "sms", "to": "+14155550166"}
    url = (await fx_client.get(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).json()["url"]
    [job] = await take_jobs(fx_shop, "orders.send_portal_sms")
    await send_portal_sms(job)
    await send_portal_sms(job)  # a retried job: the SMS went out already, nothing is sent twice

    texts = [m for m in fx_sim.messages.values() if m.to == "+14155550166"]
    assert len(texts) == 1
    assert texts[0].from_ == line.number and url in texts[0].body and "SMS-1" in texts[0].body
    await fx_sim.settle()
    await run_jobs(fx_shop)  # the delivery status callback
    entries = [i for i in await timeline(fx_client, fx_shop, c["id"]) if i["channel"] == "sms"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["direction"] == "out" and entry["links"] == {"order_id": order["id"]}
    assert entry["payload"]["order_id"] == order["id"] and entry["payload"]["status"] == "delivered"
    assert entry["actor_label"].startswith(fx_shop.email)

    # A link revoked after the SMS was queued is not sent.
    await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal/send"), json={"channel": "sms"},
                         headers=fx_shop.auth)
    await fx_client.delete(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)
    for queued in await take_jobs(fx_shop, "orders.send_portal_sms"):
        await send_portal_sms(queued)
    assert len([m for m in fx_sim.messages.values() if m.to == "+14155550166"]) == 1


async def test_twilio_refusing_the_number_is_recorded_not_retried(fx_client: Any, fx_shop: ShopFixture,
                                                                  fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    c = await make_contact(fx_client, fx_shop, phones=["+14155550166"])
    order = await make_order(fx_client, fx_shop, c["id"])
    resp = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal/send"), json={"channel": "sms"},
                                headers=fx_shop.auth)
    assert resp.status_code == 202
    [job] = await take_jobs(fx_shop, "orders.send_portal_sms")
    job["to"] = "12"  # a number that passed once and no longer does: refused for good, on the timeline
    await send_portal_sms(job)
    failed = [i for i in await timeline(fx_client, fx_shop, c["id"])
              if i["payload"].get("event") == "portal_link_failed"]
    assert len(failed) == 1 and "not sent" in failed[0]["summary"]


async def test_order_page_texts_the_link(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    c = await make_contact(fx_client, fx_shop, phones=["+14155550166"])
    order = await make_order(fx_client, fx_shop, c["id"])
    await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = f"/t/{fx_shop.slug}/orders/{order['id']}"
    token = await csrf_from(fx_client, page)
    assert 'data-testid="portal-sms"' in (await fx_client.get(page, headers={"accept": "text/html"})).text
    resp = await fx_client.post(page + "/portal", data={"_csrf": token, "action": "sms", "phone": "+1 415 555 0177"},
                                headers={"accept": "text/html"})
    assert resp.status_code in (200, 303), resp.text
    [job] = await take_jobs(fx_shop, "orders.send_portal_sms")
    assert job["to"] == "+14155550177"
    await send_portal_sms(job)
    assert any(m.to == "+14155550177" for m in fx_sim.messages.values())
