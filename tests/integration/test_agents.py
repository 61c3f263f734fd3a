"""Presence from behaviour: the agent state follows sockets, choices and work (take → busy at capacity, close →
timed wrap-up → available by a job), every change is kept as an interval, the REST status endpoint validates what
may be chosen, capacities are admin-only, and another tenant reaches none of it."""

from __future__ import annotations

import json
from typing import Any

from app.accounts import services as accounts
from app.accounts.services import Principal, create_session
from app.accounts.tables import User
from app.agents import services
from app.agents.tables import AgentCapacity, AgentState, AgentStateInterval
from app.conversations import services as conversations
from app.lib.db import tenant_context
from realtime import presence
from tests.conftest import ShopFixture, run_jobs_until
from tests.servers import ConsoleSocket

ORIGIN = "http://testserver.local"


async def _agent(shop: ShopFixture, name: str, role: str = "operator") -> Principal:
    email = f"{name.split()[0].lower()}@{shop.slug}.example"
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=email, name=name, role=role)).returning(User.id)
    return Principal(user_id=rows[0]["id"], email=email, name=name, role=role, via="session", credential_id=0)


async def _bearer(shop: ShopFixture, user: Principal) -> dict[str, str]:
    """An API key of `user`'s own, for calling the API as them."""
    async with tenant_context(shop.tenant):
        _, key = await accounts._insert_api_key(user.user_id, "test")
    return {"Authorization": f"Bearer {key}"}


async def _state(shop: ShopFixture, user_id: int) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await AgentState.select().where(AgentState.user == user_id).first()
    return row or {"state": "offline", "reason": ""}


async def _intervals(shop: ShopFixture, user_id: int) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        return await AgentStateInterval.select().where(AgentStateInterval.user == user_id).order_by(
            AgentStateInterval.id)


def _is(shop: ShopFixture, user_id: int, state: str, reason: str | None = None) -> Any:
    async def check() -> bool:
        row = await _state(shop, user_id)
        return row["state"] == state and (reason is None or row["reason"] == reason)

    check.__name__ = f"agent {user_id} is {state}" + (f" ({reason})" if reason else "")
    return check


async def test_take_makes_busy_at_capacity_close_gives_timed_wrapup_then_available(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    agent = await _agent(fx_shop, "Petya Agent")
    api = f"/t/{fx_shop.slug}/api/v1"
    set_cap = await fx_client.put(f"{api}/agents/{agent.user_id}/capacity",
                                  json={"sms": 1, "chat": 0, "email": 0, "call": 0}, headers=fx_shop.auth)
    assert set_cap.status_code == 200, set_cap.text
    assert set_cap.json() == {"user_id": agent.user_id, "call": 0, "sms": 1, "email": 0, "chat": 0,
                              "call_blocks": True}
    # Long enough for the worker to see the close while it lasts on a loaded machine; the job ends it.
    patched = await fx_client.patch(f"{api}/queues/general", json={"wrapup_seconds": 8}, headers=fx_shop.auth)
    assert patched.status_code == 200 and patched.json()["wrapup_seconds"] == 8, patched.text

    await presence.announce(fx_shop.tenant, agent.user_id, "online")  # the agent's first console connected
    assert (await _state(fx_shop, agent.user_id))["state"] == "available"

    async with tenant_context(fx_shop.tenant):
        conversation_id, _ = await conversations.receive_inbound("sms", None, summary="Hi", subject="Hi",
                                                                 from_address="+35928880001", payload={"body": "Hi"})
        await conversations.take(agent, conversation_id)
    await run_jobs_until(_is(fx_shop, agent.user_id, "busy", "capacity"))

    async with tenant_context(fx_shop.tenant):
        await conversations.wrap_up(agent, conversation_id, code="resolved", note="Sent the tracking link")
    await run_jobs_until(_is(fx_shop, agent.user_id, "wrapup", "timer"))
    assert (await _state(fx_shop, agent.user_id))["wrapup_until"] is not None
    await run_jobs_until(_is(fx_shop, agent.user_id, "available"), timeout=30)  # the delayed job, once

    await presence.announce(fx_shop.tenant, agent.user_id, "offline")  # the last console left
    reported = await fx_client.get(f"{api}/agents/{agent.user_id}/intervals", headers=fx_shop.auth)
    assert reported.status_code == 200, reported.text
    assert [(i["state"], i["reason"]) for i in reported.json()] == [
        ("available", ""), ("busy", "capacity"), ("wrapup", "timer"), ("available", ""), ("offline", "")]
    assert reported.json()[2]["seconds"] >= 3 and reported.json()[-1]["ended_at"] is None
    bad = await fx_client.get(f"{api}/agents/{agent.user_id}/intervals",
                              params={"since": "2026-01-01T00:00:00+00:00", "until": "2025-01-01T00:00:00+00:00"},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and "must end after it starts" in bad.json()["detail"], bad.text
    intervals = await _intervals(fx_shop, agent.user_id)
    assert [(i["state"], i["reason"]) for i in intervals] == [
        ("available", ""), ("busy", "capacity"), ("wrapup", "timer"), ("available", ""), ("offline", "")]
    assert all(i["ended_at"] is not None for i in intervals[:-1]) and intervals[-1]["ended_at"] is None
    assert all(a["ended_at"] == b["started_at"] for a, b in zip(intervals, intervals[1:], strict=False))


async def test_rest_status_validates_choices_and_keeps_them_while_offline(fx_client: Any,
                                                                          fx_shop: ShopFixture) -> None:
    api = f"/t/{fx_shop.slug}/api/v1/me/status"
    me = await fx_client.get(api, headers=fx_shop.auth)
    assert me.status_code == 200 and me.json()["state"] == "offline", me.text

    for body, message in (({"state": "busy"}, "Busy and wrap-up follow from your work"),
                          ({"state": "wrapup"}, "Busy and wrap-up follow from your work"),
                          ({"state": "offline"}, "Offline follows from closing your consoles"),
                          ({"state": "sleeping"}, "Unknown state"),
                          ({"state": "away", "reason": "nap"}, "Unknown away reason 'nap'; use one of break, lunch"),
                          ({"state": "available", "reason": "lunch"}, "Available takes no reason")):
        refused = await fx_client.put(api, json=body, headers=fx_shop.auth)
        assert refused.status_code == 400, (body, refused.text)
        assert message in refused.json()["detail"], (body, refused.text)
    assert (await fx_client.put(api, json={"state": "away", "extra": 1}, headers=fx_shop.auth)).status_code == 400

    # Offline (no console): the choice is kept and applies when a console connects.
    kept = await fx_client.put(api, json={"state": "away", "reason": "lunch"}, headers=fx_shop.auth)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["state"], kept.json()["chosen"], kept.json()["chosen_reason"]) == ("offline", "away", "lunch")
    await presence.announce(fx_shop.tenant, fx_shop.user_id, "online")
    now_in = (await fx_client.get(api, headers=fx_shop.auth)).json()
    assert (now_in["state"], now_in["reason"]) == ("away", "lunch")
    assert now_in["room"] == {"call": 0, "sms": 0, "email": 0, "chat": 0}

    back = await fx_client.put(api, json={"state": "available"}, headers=fx_shop.auth)
    assert back.status_code == 200 and back.json()["state"] == "available", back.text
    assert back.json()["room"] == {"call": 1, "sms": 3, "email": 5, "chat": 3}
    away = await fx_client.put(api, json={"state": "away", "reason": "training"}, headers=fx_shop.auth)
    assert (away.json()["state"], away.json()["reason"]) == ("away", "training")
    assert [(i["state"], i["reason"]) for i in await _intervals(fx_shop, fx_shop.user_id)] == [
        ("away", "lunch"), ("available", ""), ("away", "training")]
    async with tenant_context(fx_shop.tenant) as uow:
        logged = await uow.connection.fetch("SELECT data FROM event_log WHERE name = 'agent.state_changed' "
                                            "ORDER BY id")
    assert [json.loads(r["data"])["state"] for r in logged][-3:] == ["away", "available", "away"]

    # The supervisors' view of the team.
    team = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/agents", headers=fx_shop.auth)
    assert team.status_code == 200, team.text
    assert [(a["user_id"], a["state"], a["reason"]) for a in team.json()] == [(fx_shop.user_id, "away", "training")]


async def test_capacity_is_for_admins_and_validated(fx_client: Any, fx_shop: ShopFixture) -> None:
    operator = await _agent(fx_shop, "Olga Operator")
    headers = await _bearer(fx_shop, operator)
    url = f"/t/{fx_shop.slug}/api/v1/agents/{operator.user_id}/capacity"
    assert (await fx_client.put(url, json={"chat": 5}, headers=headers)).status_code == 403
    assert (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/agents", headers=headers)).status_code == 403
    too_many = await fx_client.put(url, json={"chat": 101}, headers=fx_shop.auth)
    assert too_many.status_code == 400 and "Slots must be 0 to 100" in too_many.json()["detail"], too_many.text
    assert (await fx_client.put(url, json={"fax": 1}, headers=fx_shop.auth)).status_code == 400
    assert (await fx_client.put(f"/t/{fx_shop.slug}/api/v1/agents/999999/capacity", json={"chat": 1},
                                headers=fx_shop.auth)).status_code == 404
    saved = await fx_client.put(url, json={"chat": 5, "call_blocks": False}, headers=fx_shop.auth)
    assert saved.json() == {"user_id": operator.user_id, "call": 1, "sms": 3, "email": 5, "chat": 5,
                            "call_blocks": False}
    assert (await fx_client.get(url, headers=fx_shop.auth)).json() == saved.json()
    async with tenant_context(fx_shop.tenant) as uow:
        audit = await uow.connection.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'agent.capacity_changed'")
    assert audit == 1


async def test_admin_page_sets_capacity(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    operator = await _agent(fx_shop, "Ivan Operator")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    team = await fx_client.get(f"/t/{fx_shop.slug}/settings/team", headers={"accept": "text/html"})
    assert f'hx-get="/t/{fx_shop.slug}/settings/agents/"' in team.text
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/settings/agents/")
    panel = await fx_client.get(f"/t/{fx_shop.slug}/settings/agents/", headers={"HX-Request": "true"})
    assert f'data-testid="agent-{operator.user_id}"' in panel.text and "<html" not in panel.text
    saved = await fx_client.post(f"/t/{fx_shop.slug}/settings/agents/{operator.user_id}",
                                 data={"_csrf": token, "call": "1", "sms": "2", "email": "0", "chat": "4"},
                                 headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "Capacity of Ivan Operator saved." in saved.text, saved.text
    bad = await fx_client.post(f"/t/{fx_shop.slug}/settings/agents/{operator.user_id}",
                               data={"_csrf": token, "chat": "lots"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400 and "Slots must be 0 to 100" in bad.text
    async with tenant_context(fx_shop.tenant):
        caps = {r["channel"]: r["slots"] for r in await AgentCapacity.select().where(
            AgentCapacity.user == operator.user_id)}
    assert caps == {"call": 1, "sms": 2, "email": 0, "chat": 4}


async def test_socket_connect_and_disconnect_set_available_and_offline(fx_live: Any, fx_shop: ShopFixture) -> None:
    agent = await _agent(fx_shop, "Sonia Socket")
    async with tenant_context(fx_shop.tenant):
        token, _ = await create_session(agent.user_id)
    sock = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, token, ORIGIN)
    await sock.ready()
    await run_jobs_until(_is(fx_shop, agent.user_id, "available"))
    await sock.send({"presence": "away:meeting"})
    await sock.until(lambda f: f.event == "agent.state_changed" and f.payload.get("reason") == "meeting")
    await sock.close()
    await run_jobs_until(_is(fx_shop, agent.user_id, "offline"))
    # Reconnecting brings back what the agent chose, not "available".
    sock = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, token, ORIGIN)
    await sock.ready()
    await run_jobs_until(_is(fx_shop, agent.user_id, "away", "meeting"))
    await sock.close()
    await run_jobs_until(_is(fx_shop, agent.user_id, "offline"))
    assert [(i["state"], i["reason"]) for i in await _intervals(fx_shop, agent.user_id)] == [
        ("available", ""), ("away", "meeting"), ("offline", ""), ("away", "meeting"), ("offline", "")]


async def test_another_tenant_reaches_no_agent_state_or_capacity(fx_client: Any, fx_shop: ShopFixture,
                                                                  fx_other_shop: ShopFixture) -> None:
    a, b = fx_shop, fx_other_shop
    agent = await _agent(a, "Anna Alpha")
    assert (await fx_client.put(f"/t/{a.slug}/api/v1/agents/{agent.user_id}/capacity", json={"chat": 2},
                                headers=a.auth)).status_code == 200
    await presence.announce(a.tenant, agent.user_id, "online")
    # B's key at A's address: refused; A's rows unchanged.
    for method, path, body in (("GET", "/me/status", None), ("PUT", "/me/status", {"state": "available"}),
                               ("GET", "/agents", None), ("GET", f"/agents/{agent.user_id}/capacity", None),
                               ("GET", f"/agents/{agent.user_id}/intervals", None),
                               ("PUT", f"/agents/{agent.user_id}/capacity", {"chat": 9})):
        got = await fx_client.request(method, f"/t/{a.slug}/api/v1{path}", json=body, headers=b.auth)
        assert got.status_code in (401, 403, 404), (method, path, got.status_code)
    # B names A's user id in its own workspace: it reaches only B's users (none with that id, or B's own).
    other = await fx_client.put(f"/t/{b.slug}/api/v1/agents/{agent.user_id}/capacity", json={"chat": 9},
                                headers=b.auth)
    assert other.status_code in (200, 404)
    listed = await fx_client.get(f"/t/{b.slug}/api/v1/agents", headers=b.auth)
    assert "Anna Alpha" not in listed.text
    # A job of B naming A's agent runs in B's schema only.
    await services.wrapup_over({"tenant": b.slug, "user_id": agent.user_id})
    async with tenant_context(a.tenant):
        caps = {r["channel"]: r["slots"] for r in await AgentCapacity.select().where(
            AgentCapacity.user == agent.user_id)}
    assert caps == {"chat": 2}
    assert (await _state(a, agent.user_id))["state"] == "available"


async def test_console_team_panel_and_picker_show_states_reasons_and_time(fx_client: Any,
                                                                            fx_shop: ShopFixture) -> None:
    from app.agents import state
    from tests.conftest import browser_login

    agent = await _agent(fx_shop, "Mila Missed")
    await presence.announce(fx_shop.tenant, agent.user_id, "online")
    await presence.announce(fx_shop.tenant, fx_shop.user_id, "online")
    async with tenant_context(fx_shop.tenant):
        await state.set_state(agent.user_id, "away", reason="missed_offers")  # what routing does
        await state.set_state(fx_shop.user_id, "away", reason="missed_offers")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/presence", headers={"accept": "text/html"})).text
    row = panel[panel.index(f'data-testid="presence-{agent.user_id}"'):]
    row = row[:row.index("</li>")]
    assert 'data-state="away"' in row and "Mila Missed" in row and "away (missed offers)" in row
    assert 'class="wait" data-since="' in row  # time in state, counted by the page
    # My own picker: a reason only the system sets is shown (not offered); the choices stay available and away:…
    assert 'data-testid="my-state">away (missed offers)' in panel
    assert '<option value="away:missed_offers" selected disabled>away: missed offers</option>' in panel
    assert '<option value="away:lunch" >away: lunch</option>' in panel
