"""Wrap-up with disposition codes, through a real call on the simulator: admins define a queue's codes and require
one; the operator is busy on the call, in wrap-up once it ended, cannot take new work (409 saying why) nor close
without a code, wraps up with one of the queue's codes, and the code, label and note land on the timeline."""

from __future__ import annotations

from typing import Any

from app.agents.tables import AgentState
from app.lib.db import tenant_context
from realtime import presence
from telephony.simulator import Simulator
from tests.conftest import ShopFixture, run_jobs_until
from tests.integration.telephony_kit import (  # noqa: F401
    CUSTOMER,
    OPERATOR_PHONE,
    connect,
    run_jobs,
    sim_fixture,
)


def _is(shop: ShopFixture, user_id: int, state: str, reason: str | None = None) -> Any:
    async def check() -> bool:
        async with tenant_context(shop.tenant):
            row = await AgentState.select().where(AgentState.user == user_id).first()
        return bool(row) and row["state"] == state and (reason is None or row["reason"] == reason)

    check.__name__ = f"agent {user_id} is {state}" + (f" ({reason})" if reason else "")
    return check


async def test_required_code_blocks_new_work_until_wrapped_up_and_lands_on_timeline(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    api = f"/t/{fx_shop.slug}/api/v1"
    owner = fx_shop.user_id
    for code, label in (("sold", "Sale made"), ("no_sale", "No sale")):
        added = await fx_client.post(f"{api}/queues/general/dispositions", json={"code": code, "label": label},
                                     headers=fx_shop.auth)
        assert added.status_code == 201, added.text
    required = await fx_client.patch(f"{api}/queues/general", json={"wrapup_required": True}, headers=fx_shop.auth)
    assert required.status_code == 200 and required.json()["wrapup_required"] is True, required.text
    await presence.announce(fx_shop.tenant, owner, "online")

    line = await connect(fx_client, fx_shop, fx_sim)
    call = fx_sim.place_call(CUSTOMER, line.number)
    await fx_sim.until(lambda: call.queue == "general", what="the caller in the queue")
    await run_jobs(fx_shop)
    waiting = (await fx_client.get(f"{api}/conversations/waiting", headers=fx_shop.auth)).json()
    conversation_id = next(c["id"] for c in waiting if c["channel"] == "call")
    accepted = await fx_client.post(f"{api}/calls/{conversation_id}/accept", headers=fx_shop.auth)
    assert accepted.status_code == 200, accepted.text
    await fx_sim.settle()
    await run_jobs(fx_shop)
    leg = await fx_sim.answer(OPERATOR_PHONE)
    await fx_sim.until(lambda: fx_sim.conferences.together(call.sid, leg.sid) is not None, what="the conference")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await run_jobs_until(_is(fx_shop, owner, "busy", "call"))

    await fx_sim.hangup(leg.sid)
    await fx_sim.until(lambda: call.status == "completed", what="the call to end")
    await fx_sim.settle()
    await run_jobs(fx_shop)
    await run_jobs_until(_is(fx_shop, owner, "wrapup", "disposition"))
    status = (await fx_client.get(f"{api}/me/status", headers=fx_shop.auth)).json()
    assert status["room"] == {"call": 0, "sms": 0, "email": 0, "chat": 0}

    # New work is refused until the call is wrapped up, with a message that says what to do.
    opened = await fx_client.post(f"{api}/conversations", json={"channel": "chat", "subject": "Hello?"},
                                  headers=fx_shop.auth)
    assert opened.status_code == 201, opened.text
    refused = await fx_client.post(f"{api}/conversations/{opened.json()['id']}/take", headers=fx_shop.auth)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (f"Wrap up conversation #{conversation_id} first: queue General requires a "
                                        "disposition code before you take new work.")
    closed = await fx_client.post(f"{api}/conversations/{conversation_id}/close", json={}, headers=fx_shop.auth)
    assert closed.status_code == 409 and "requires a disposition code" in closed.json()["detail"], closed.text
    unknown = await fx_client.post(f"{api}/conversations/{conversation_id}/wrapup", json={"code": "resolved"},
                                   headers=fx_shop.auth)
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["detail"] == "Choose one of this queue's disposition codes: sold, no_sale."

    # The console's and the workspace's wrap-up forms offer the queue's codes (a closed list), by label.
    from tests.conftest import browser_login

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    mine = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})).text
    assert '<option value="sold">Sale made</option><option value="no_sale">No sale</option>' in mine
    pane = (await fx_client.get(f"/t/{fx_shop.slug}/workspace/{conversation_id}", headers={"HX-Request": "true"})).text
    assert '<select name="code" required' in pane and '<option value="no_sale">No sale</option>' in pane
    assert 'data-testid="disposition-sold">Sale made</button>' in pane  # the ended call's quick buttons too
    assert 'data-testid="disposition-sold">Sale made</button>' in mine

    done = await fx_client.post(f"{api}/conversations/{conversation_id}/wrapup",
                                json={"code": "sold", "note": "Two bags of beans"}, headers=fx_shop.auth)
    assert done.status_code == 200 and done.json()["wrapup_code"] == "sold", done.text
    took = await fx_client.post(f"{api}/conversations/{opened.json()['id']}/take", headers=fx_shop.auth)
    assert took.status_code == 200, took.text
    await run_jobs_until(_is(fx_shop, owner, "available"))

    contact_id = done.json()["contact_id"]
    timeline = (await fx_client.get(f"{api}/contacts/{contact_id}/timeline", headers=fx_shop.auth)).json()
    items = timeline["items"] if isinstance(timeline, dict) else timeline
    wrap = next(i for i in items if i["summary"].startswith("Wrap-up"))
    assert wrap["summary"] == "Wrap-up: sold"
    assert wrap["payload"]["label"] == "Sale made" and wrap["payload"]["note"] == "Two bags of beans"
    assert "Two bags of beans" in wrap["payload"]["body"]


async def test_dispositions_are_admin_defined_per_queue(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.accounts import services as accounts
    from app.accounts.tables import User

    api = f"/t/{fx_shop.slug}/api/v1/queues/general/dispositions"
    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email=f"op@{fx_shop.slug}.example", name="Op", role="operator")).returning(
            User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    operator = {"Authorization": f"Bearer {key}"}
    assert (await fx_client.post(api, json={"code": "x", "label": "X"}, headers=operator)).status_code == 403
    for body, message in (({"code": "Bad Code", "label": "X"}, "The code must be 1 to 50 characters"),
                          ({"code": "ok", "label": ""}, "The label must be 1 to 100 characters")):
        bad = await fx_client.post(api, json=body, headers=fx_shop.auth)
        assert bad.status_code == 400 and message in bad.json()["detail"], bad.text
    assert (await fx_client.post(api, json={"code": "sold", "label": "Sale"}, headers=fx_shop.auth)).status_code == 201
    dup = await fx_client.post(api, json={"code": "sold", "label": "Again"}, headers=fx_shop.auth)
    assert dup.status_code == 409, dup.text
    assert (await fx_client.post(api, json={"code": "info", "label": "Information", "position": 0},
                                 headers=fx_shop.auth)).status_code == 201
    renamed = await fx_client.patch(f"{api}/sold", json={"label": "Sale made", "position": 5}, headers=fx_shop.auth)
    assert renamed.json() == {"code": "sold", "label": "Sale made", "position": 5}
    listed = await fx_client.get(api, headers=operator)
    assert [d["code"] for d in listed.json()] == ["info", "sold"]
    assert (await fx_client.delete(f"{api}/info", headers=fx_shop.auth)).status_code == 204
    assert (await fx_client.delete(f"{api}/info", headers=fx_shop.auth)).status_code == 404
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/queues/nope/dispositions",
                                headers=fx_shop.auth)).status_code == 404
    too_long = await fx_client.patch(f"/t/{fx_shop.slug}/api/v1/queues/general", json={"wrapup_seconds": 99999},
                                     headers=fx_shop.auth)
    assert too_long.status_code == 400 and "0 to 3600 seconds" in too_long.json()["detail"]


async def test_queue_settings_page_sets_wrapup_and_codes(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = f"/t/{fx_shop.slug}/settings/queues/"
    token = await csrf_from(fx_client, page)
    saved = await fx_client.post(f"{page}general", data={"_csrf": token, "name": "General", "position": "0",
                                                         "wrapup_seconds": "30", "wrapup_required": "on"},
                                 headers={"accept": "text/html"})
    assert saved.status_code == 200 and 'name="wrapup_seconds" value="30"' in saved.text, saved.text[:500]
    added = await fx_client.post(f"{page}general/dispositions", data={"_csrf": token, "code": "sold",
                                                                      "label": "Sale made"},
                                 headers={"accept": "text/html"})
    assert added.status_code == 200 and "<code>sold</code> Sale made" in added.text
    bad = await fx_client.post(f"{page}general/dispositions", data={"_csrf": token, "code": "", "label": "x"},
                               headers={"accept": "text/html"})
    assert bad.status_code == 400 and "code: The code must be" in bad.text
    removed = await fx_client.post(f"{page}general/dispositions/sold/remove", data={"_csrf": token},
                                   headers={"accept": "text/html"})
    assert removed.status_code == 200 and "<code>sold</code>" not in removed.text
