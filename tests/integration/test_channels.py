"""A channel's shape at work: inbound messages through conversations.receive_inbound, answers through Channel.send."""

from __future__ import annotations

from typing import Any

from app import channels
from app.accounts.services import Principal
from app.lib.db import tenant_context
from telephony.simulator import Simulator
from tests.conftest import ShopFixture
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401

CUSTOMER = "+14155550144"


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def test_texts_join_the_open_conversation_and_the_console_answers_through_the_channel(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    fx_sim.send_sms(CUSTOMER, line.number, "Where is my parcel?")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    fx_sim.send_sms(CUSTOMER, line.number, "Order 1042")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    [conv] = [w for w in waiting if w["channel"] == "sms"]  # the second text joined the first one's conversation
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    texts = [i for i in timeline if i["payload"].get("event") == "sms"]
    assert [(i["summary"], i["links"]["conversation_id"]) for i in texts] == [
        ("Order 1042", conv["id"]), ("Where is my parcel?", conv["id"])]

    owner = Principal(fx_shop.user_id, fx_shop.email, "Owner", "owner", "session", 0)
    async with tenant_context(fx_shop.tenant):
        sent = await channels.get("sms").send(owner, conv["id"], "It left the depot this morning.")
    assert sent["to_number"] == CUSTOMER and sent["direction"] == "out"
    assert fx_sim.messages[sent["sid"]].body == "It left the depot this morning."
    await fx_sim.settle()
    await run_jobs(fx_shop)
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{conv['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()["items"]
    answer = next(i for i in timeline if i["channel"] == "sms" and i["direction"] == "out")
    assert answer["links"]["conversation_id"] == conv["id"] and answer["payload"]["status"] == "delivered"
    # The other shop sees neither the conversation nor the texts.
    theirs = (await fx_client.get(api(fx_other_shop, "/conversations/waiting"), headers=fx_other_shop.auth)).json()
    assert [w for w in theirs if w["channel"] == "sms"] == []
