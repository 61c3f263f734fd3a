"""SMS in (unknown number: new contact and queue item) and out (delivery statuses through the simulator)."""

from __future__ import annotations

from typing import Any

from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def test_inbound_sms_from_unknown_number_creates_contact_and_queue_item(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    msg = fx_sim.send_sms("+14155550177", line.number, "Is my order shipped?")
    await fx_sim.settle()
    await fx_sim.post(line.account_sid, line.url("sms"), {  # a redelivery changes nothing
        "MessageSid": msg.sid, "SmsSid": msg.sid, "AccountSid": line.account_sid, "From": "+14155550177",
        "To": line.number, "Body": "Is my order shipped?", "NumMedia": "0"})
    await run_jobs(fx_shop)
    found = (await fx_client.get(api(fx_shop, "/contacts?q=4155550177"), headers=fx_shop.auth)).json()
    contact = found["items"][0] if isinstance(found, dict) else found[0]
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    assert [w["channel"] for w in waiting if w["contact_id"] == contact["id"]] == ["sms"]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"), headers=fx_shop.auth)).json()
    sms_items = [i for i in timeline["items"] if i["payload"].get("event") == "sms"]
    assert len(sms_items) == 1 and sms_items[0]["summary"] == "Is my order shipped?"


async def test_outbound_sms_delivery_statuses(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    ok = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ann", "phones": ["+14155550166"]},
                               headers=fx_shop.auth)).json()
    bad = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Bob", "phones": ["+14155550155"]},
                                headers=fx_shop.auth)).json()
    fx_sim.undeliverable.add("+14155550155")
    empty = await fx_client.post(api(fx_shop, f"/contacts/{ok['id']}/sms"), json={"body": " "}, headers=fx_shop.auth)
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "body"
    sent = await fx_client.post(api(fx_shop, f"/contacts/{ok['id']}/sms"), json={"body": "Your parcel left today"},
                                headers=fx_shop.auth)
    assert sent.status_code == 201 and sent.json()["status"] == "queued" and sent.json()["sid"].startswith("SM")
    failed = await fx_client.post(api(fx_shop, f"/contacts/{bad['id']}/sms"), json={"body": "Hello"},
                                  headers=fx_shop.auth)
    assert failed.status_code == 201
    await fx_sim.settle()
    await run_jobs(fx_shop)
    [msg] = (await fx_client.get(api(fx_shop, f"/contacts/{ok['id']}/sms"), headers=fx_shop.auth)).json()
    assert msg["status"] == "delivered" and msg["sid"] in fx_sim.messages
    [lost] = (await fx_client.get(api(fx_shop, f"/contacts/{bad['id']}/sms"), headers=fx_shop.auth)).json()
    assert lost["status"] == "undelivered" and lost["error_code"] == "30003"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{ok['id']}/timeline"), headers=fx_shop.auth)).json()
    entry = next(i for i in timeline["items"] if i["channel"] == "sms")
    assert entry["direction"] == "out" and entry["payload"]["status"] == "delivered"
