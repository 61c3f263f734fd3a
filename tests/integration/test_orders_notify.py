"""Status emails to the customer from the shop's own template, rendered in Jinja's sandbox, on the timeline."""

from __future__ import annotations

from typing import Any

from tests.conftest import Inbox, ShopFixture, run_jobs_until, work_left
from tests.integration.test_orders import api, make_contact, make_order


async def test_status_email_from_sandboxed_template(fx_client: Any, fx_shop: ShopFixture, fx_inbox: Inbox) -> None:
    url = api(fx_shop, "/order-notifications")
    unsafe = await fx_client.put(url, json={"enabled": True, "subject": "{{ order.__class__.__mro__ }}"},
                                 headers=fx_shop.auth)
    assert unsafe.status_code == 400 and unsafe.json()["errors"][0]["field"] == "subject"
    broken = await fx_client.put(url, json={"enabled": True, "subject": "ok", "body": "{% if %}"},
                                 headers=fx_shop.auth)
    assert broken.status_code == 400 and broken.json()["errors"][0]["field"] == "body"
    ok = await fx_client.put(url, json={
        "enabled": True, "statuses": ["shipped"], "subject": "Order {{ order.number }}: {{ status }}",
        "body": "Hi {{ customer }}, {{ order.number }} is {{ status }}. Track: {{ portal_url }}"}, headers=fx_shop.auth)
    assert ok.status_code == 200, ok.text
    c = await make_contact(fx_client, fx_shop, "Nia", emails=["nia@example.com"])
    order = await make_order(fx_client, fx_shop, c["id"], number="N-5")
    for status in ("paid", "packed", "shipped"):
        await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": status},
                             headers=fx_shop.auth)

    async def every_job_ran() -> bool:  # not "nothing more within X s": the log and the queue say all is done
        return not await work_left(fx_shop.tenant)

    await run_jobs_until(every_job_ran)
    # The inbox is the platform's SMTP server: other tests' staff mail (a reminder due now) may land there too.
    to_nia = [m for m in fx_inbox.messages if m["To"] == "nia@example.com"]
    assert len(to_nia) == 1  # only "shipped" was chosen
    msg = to_nia[0]
    assert msg["To"] == "nia@example.com" and msg["Subject"] == "Order N-5: Shipped"
    body = msg.get_payload(decode=True).decode()
    assert body.startswith("Hi Nia, N-5 is Shipped. Track: http://testserver.local/t/") and "/portal/" in body
    portal_path = body.split("http://testserver.local", 1)[1].strip()
    assert "N-5" in (await fx_client.get(portal_path)).text
    tl = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), params={"channel": "email"},
                              headers=fx_shop.auth)).json()["items"]
    assert [i["payload"]["event"] for i in tl] == ["status_email_sent"]
