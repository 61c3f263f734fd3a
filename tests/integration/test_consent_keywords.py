# ruff: noqa: RUF001  (Russian and Bulgarian keywords are the point of these tests)
"""Consent that holds up: SMS STOP/START keywords (standard and the shop's own Russian/Bulgarian words) through the
simulator's signed webhooks, Twilio's 21610 refusal, the consent settings (opt-in rule), RFC 8058 one-click
unsubscribe over real HTTP, suppression that survives erasure, and another shop's token refused."""

from __future__ import annotations

from typing import Any

import httpx

from app.lib.db import tenant_context
from telephony.simulator import Simulator
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_orders import api, make_contact


async def _ledger(client: Any, shop: ShopFixture, cid: int) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, f"/contacts/{cid}/consent"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _text(sim: Simulator, shop: ShopFixture, frm: str, to: str, body: str) -> None:
    sim.send_sms(frm, to, body)
    await sim.settle()
    await run_jobs(shop)
    await sim.settle()


def _outbound_to(sim: Simulator, number: str) -> list[str]:
    return [m.body for m in sim.messages.values() if m.direction == "outbound-api" and m.to == number]


async def test_stop_and_start_through_the_simulator_and_the_21610_refusal(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    from app.consent import services

    line = await connect(fx_client, fx_shop, fx_sim)
    c = await make_contact(fx_client, fx_shop, name="Stop Sender", phones=["+14155550301"])
    await _text(fx_sim, fx_shop, "+14155550301", line.number, "Stop")
    [entry] = await _ledger(fx_client, fx_shop, c["id"])
    assert {k: entry[k] for k in ("channel", "purpose", "status", "source")} == {
        "channel": "sms", "purpose": "marketing", "status": "opt_out", "source": "keyword"}
    assert '"Stop"' in entry["evidence"] and "+14155550301" in entry["evidence"]
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("sms", "+14155550301", contact_id=c["id"]) == "opted_out"
        assert await services.blocked("sms", "+14155550301", contact_id=None) == "suppressed"
        assert await services.blocked("sms", "+14155550301", contact_id=c["id"], purpose="transactional") is None
    # The message still lands on the timeline; Twilio answered the standard STOP itself, we sent nothing.
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{c['id']}/timeline"), headers=fx_shop.auth)).json()
    assert any(i["payload"].get("body") == "Stop" for i in timeline["items"])
    assert _outbound_to(fx_sim, "+14155550301") == []

    # Like Twilio, the simulator now refuses to text the number: 21610 -> 409 naming why, opt-out kept (once).
    refused = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/sms"), json={"body": "Sale!"},
                                   headers=fx_shop.auth)
    assert refused.status_code == 409 and refused.json()["twilio_code"] == 21610, refused.text
    assert len(await _ledger(fx_client, fx_shop, c["id"])) == 1

    await _text(fx_sim, fx_shop, "+14155550301", line.number, "START")
    ledger = await _ledger(fx_client, fx_shop, c["id"])
    assert [(e["status"], e["source"]) for e in ledger] == [("opt_in", "keyword"), ("opt_out", "keyword")]
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("sms", "+14155550301", contact_id=c["id"]) is None
    [reply] = _outbound_to(fx_sim, "+14155550301")
    assert "STOP" in reply


async def test_21610_on_a_number_that_stopped_before_we_knew_records_a_carrier_error(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    fx_sim.opted_out.add(("+14155550302", line.number))  # STOP sent to Twilio long ago, never to our webhook
    c = await make_contact(fx_client, fx_shop, name="Old Stopper", phones=["+14155550302"])
    refused = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/sms"), json={"body": "Hi"},
                                   headers=fx_shop.auth)
    assert refused.status_code == 409
    [entry] = await _ledger(fx_client, fx_shop, c["id"])
    assert (entry["channel"], entry["status"], entry["source"]) == ("sms", "opt_out", "carrier_error")
    assert "21610" in entry["evidence"]

    # A status callback carrying 21610 (a Messaging Service send that failed later) records it too.
    other = await make_contact(fx_client, fx_shop, name="Late Failure", phones=["+14155550303"])
    sent = await fx_client.post(api(fx_shop, f"/contacts/{other['id']}/sms"), json={"body": "Hi"},
                                headers=fx_shop.auth)
    assert sent.status_code == 201
    await fx_sim.post(line.account_sid, line.url("sms-status"), {
        "MessageSid": sent.json()["sid"], "SmsSid": sent.json()["sid"], "AccountSid": line.account_sid,
        "From": line.number, "To": "+14155550303", "MessageStatus": "failed", "ErrorCode": "21610"})
    await run_jobs(fx_shop)
    await fx_sim.settle()
    ledger = await _ledger(fx_client, fx_shop, other["id"])
    assert [(e["status"], e["source"]) for e in ledger] == [("opt_out", "carrier_error")]


async def test_the_shops_russian_and_bulgarian_words_and_the_reply_in_the_contacts_language(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    # The settings page (admins) saves the words; the API reads them back.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    token = await csrf_from(fx_client, f"{base}/settings/consent/")
    bad = await fx_client.post(f"{base}/settings/consent/", data={
        "_csrf": token, "stop_words": "СТОП", "start_words": "стоп"})
    assert bad.status_code == 400 and "стоп" in bad.text.lower()
    saved = await fx_client.post(f"{base}/settings/consent/", data={
        "_csrf": token, "stop_words": "СТОП, отписка", "start_words": "СТАРТ"})
    assert saved.status_code == 200 and 'data-testid="notice"' in saved.text
    got = (await fx_client.get(api(fx_shop, "/consent/settings"), headers=fx_shop.auth)).json()
    assert got["stop_words"] == ["СТОП", "отписка"] and got["start_words"] == ["СТАРТ"]
    assert got["marketing_needs_opt_in"] is False and "STOP" in got["standard_stop_words"]

    ru = await make_contact(fx_client, fx_shop, name="Иван", phones=["+14155550304"], language="ru")
    bg = await make_contact(fx_client, fx_shop, name="Мария", phones=["+14155550305"], language="bg")
    await _text(fx_sim, fx_shop, "+14155550304", line.number, "стоп!")
    await _text(fx_sim, fx_shop, "+14155550305", line.number, "Отписка")
    for c in (ru, bg):
        [entry] = await _ledger(fx_client, fx_shop, c["id"])
        assert (entry["status"], entry["source"]) == ("opt_out", "keyword")
    # Twilio does not know these words: the shop answers, in the contact's language.
    [ru_reply] = _outbound_to(fx_sim, "+14155550304")
    [bg_reply] = _outbound_to(fx_sim, "+14155550305")
    assert "START / СТАРТ" in ru_reply and ru_reply != bg_reply
    assert "рекламные" in ru_reply and "рекламни" in bg_reply
    await _text(fx_sim, fx_shop, "+14155550304", line.number, "старт")
    assert (await _ledger(fx_client, fx_shop, ru["id"]))[0]["status"] == "opt_in"
    # An ordinary message is no keyword.
    await _text(fx_sim, fx_shop, "+14155550305", line.number, "stop sending me the wrong size please")
    assert len(await _ledger(fx_client, fx_shop, bg["id"])) == 1


async def test_opt_in_rule_blocks_marketing_without_an_opt_in(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.consent import services

    c = await make_contact(fx_client, fx_shop, phones=["+14155550306"], emails=["rule@example.org"])
    put = await fx_client.put(api(fx_shop, "/consent/settings"), json={"marketing_needs_opt_in": True},
                              headers=fx_shop.auth)
    assert put.status_code == 200 and put.json()["marketing_needs_opt_in"] is True
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("email", "rule@example.org", contact_id=c["id"]) == "no_opt_in"
        assert await services.blocked("email", "rule@example.org", contact_id=c["id"],
                                      purpose="transactional") is None
        assert await services.blocked("call", "+14155550306", contact_id=c["id"]) == "transactional_only"
    await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/consent"), json={
        "channel": "email", "purpose": "marketing", "status": "opt_in", "source": "form"}, headers=fx_shop.auth)
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("email", "rule@example.org", contact_id=c["id"]) is None
    bad = await fx_client.put(api(fx_shop, "/consent/settings"), json={"stop_words": ["two words"]},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "stop_words"


async def test_one_click_over_real_http_opts_out_and_survives_erasure(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_live: Any) -> None:
    from app.consent import services

    c = await make_contact(fx_client, fx_shop, name="Ann Clicker", emails=["ann.click@example.org"], language="bg")
    async with tenant_context(fx_shop.tenant):
        url = services.one_click_url(c["id"], "email", "marketing", ref="r" * 32)
        headers = services.list_unsubscribe_headers(url)
    assert headers == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    path = url.split("://", 1)[1].split("/", 1)[1]
    async with httpx.AsyncClient(base_url=fx_live.url) as http:
        page = await http.get(f"/{path}/")
        assert page.status_code == 200 and "Отписване" in page.text  # the confirm page in the contact's language
        assert len(await _ledger(fx_client, fx_shop, c["id"])) == 0  # a GET (a link scanner) changes nothing
        wrong = await http.post(f"/{path}/", data={"List-Unsubscribe": "yes"})
        assert wrong.status_code == 400
        # The mail provider's POST: no cookie, no CSRF token, just the RFC 8058 body.
        done = await http.post(f"/{path}/", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200, done.text
        again = await http.post(f"/{path}/", data={"List-Unsubscribe": "One-Click"},
                                headers={"accept": "application/json"})
        assert again.json() == {"channel": "email", "purpose": "marketing", "unsubscribed": True}
        # Shop A's token on shop B's URL, and a tampered token: 404, nothing recorded anywhere.
        token = path.rsplit("/", 1)[1]
        foreign = await http.post(f"/t/{fx_other_shop.slug}/unsubscribe/{token}/",
                                  data={"List-Unsubscribe": "One-Click"})
        assert foreign.status_code == 404
        forged = await http.post(f"/{path[:-3]}abc/", data={"List-Unsubscribe": "One-Click"})
        assert forged.status_code == 404
    [entry] = await _ledger(fx_client, fx_shop, c["id"])
    assert (entry["channel"], entry["purpose"], entry["status"], entry["source"]) == (
        "email", "marketing", "opt_out", "one_click")
    assert "One-click" in entry["evidence"]
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("email", "Ann.Click@example.org", contact_id=c["id"]) == "opted_out"
    async with tenant_context(fx_other_shop.tenant):
        assert await services.blocked("email", "ann.click@example.org", contact_id=None) is None

    erased = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/erase"), headers=fx_shop.auth)
    assert erased.status_code == 200, erased.text
    async with tenant_context(fx_shop.tenant):
        assert await services.blocked("email", "ann.click@example.org", contact_id=None) == "suppressed"
    async with httpx.AsyncClient(base_url=fx_live.url) as http:
        after = await http.post(f"/{path}/", data={"List-Unsubscribe": "One-Click"})
        assert after.status_code == 200
