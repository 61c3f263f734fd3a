"""Routing (issue 16): per-queue strategies offer each waiting item to one eligible agent; skills and stickiness choose
the expected agent and the stored decision names why; accept, reject, timeout to the next agent, N misses set the
agent away with the reason, going offline withdraws offers; exactly one of an accept and a manual take wins; another
tenant's offers and decisions cannot be reached."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from app.agents import state
from app.lib.clock import now
from app.lib.db import current_uow, tenant_context
from app.routing import services
from tests.conftest import ShopFixture, browser_login, csrf_from, run_jobs_until
from tests.integration.test_conversation_actions import _user


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _agents(shop: ShopFixture, *names: str, role: str = "operator",
                  available: bool = True) -> list[tuple[int, dict[str, str]]]:
    out = [await _user(shop, role, name=name) for name in names]
    if available:
        async with tenant_context(shop.tenant):
            for user_id, _ in out:
                await state.set_state(user_id, "available")
    return out


async def _configure(client: Any, shop: ShopFixture, queue: str = "general", **body: Any) -> dict[str, Any]:
    resp = await client.put(api(shop, f"/routing/queues/{queue}"), json={"strategy": "round_robin", **body},
                            headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def _open(client: Any, shop: ShopFixture, **body: Any) -> int:
    resp = await client.post(api(shop, "/conversations"), json={"channel": "chat", **body}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _route(shop: ShopFixture, queue: str = "general") -> list[dict[str, Any]]:
    """One routing transaction, as the route job runs it."""
    async with tenant_context(shop.tenant) as uow:
        queue_id = await uow.connection.fetchval("SELECT id FROM queue WHERE key = $1", queue)
        return await services.route(queue_id)


async def _offers(shop: ShopFixture, conversation_id: int) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        rows = await current_uow().connection.fetch(
            'SELECT id, "user" AS user_id, status, reason FROM routing_offer WHERE conversation = $1 ORDER BY id',
            conversation_id)
    return [dict(r) for r in rows]


async def _agent_state(shop: ShopFixture, user_id: int) -> tuple[str, str]:
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow('SELECT state, reason FROM agent_state WHERE "user" = $1',
                                                      user_id)
    return row["state"], row["reason"]


async def test_round_robin_offers_in_turn_and_accept_assigns_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    (a, a_auth), (b, b_auth), (c, _) = await _agents(fx_shop, "Ana", "Boris", "Cveta")
    await _configure(fx_client, fx_shop)
    items = [await _open(fx_client, fx_shop, subject=f"q{i}") for i in range(4)]
    made = await _route(fx_shop)
    # Oldest first, one agent after another, and round again.
    assert [(m["conversation_id"], m["user_id"]) for m in made] == [
        (items[0], a), (items[1], b), (items[2], c), (items[3], a)]
    assert {m["reason"] for m in made} == {"round_robin"}
    assert await _route(fx_shop) == []  # every waiting item is on offer: nothing more to do

    mine = (await fx_client.get(api(fx_shop, "/offers"), headers=a_auth)).json()
    assert sorted(o["conversation_id"] for o in mine) == [items[0], items[3]]
    offer_id = made[0]["offer_id"]
    # Boris can neither see nor accept Ana's offer.
    assert (await fx_client.get(api(fx_shop, f"/offers/{offer_id}"), headers=b_auth)).status_code == 404
    assert (await fx_client.post(api(fx_shop, f"/offers/{offer_id}/accept"), headers=b_auth)).status_code == 404
    taken = await fx_client.post(api(fx_shop, f"/offers/{offer_id}/accept"), headers=a_auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "accepted"
    conv = (await fx_client.get(api(fx_shop, f"/conversations/{items[0]}"), headers=fx_shop.auth)).json()
    assert conv["status"] == "active" and conv["assigned_to_id"] == a
    again = await fx_client.post(api(fx_shop, f"/offers/{offer_id}/accept"), headers=a_auth)
    assert again.status_code == 409 and "no longer open" in again.json()["detail"]

    rejected = await fx_client.post(api(fx_shop, f"/offers/{made[1]['offer_id']}/reject"), headers=b_auth)
    assert rejected.status_code == 200
    # The rejected item goes to the next agent in turn that has not been tried (not back to Boris).
    follow = await _route(fx_shop)
    assert [(m["conversation_id"], m["user_id"]) for m in follow] == [(items[1], c)]


async def test_skills_choose_the_skilled_agent_and_the_decision_says_why(fx_client: Any,
                                                                         fx_shop: ShopFixture) -> None:
    (a, _), (b, _) = await _agents(fx_shop, "Ana", "Boris")
    (sup, sup_auth), = await _agents(fx_shop, "Sveta", role="supervisor", available=False)
    for user_id, skills in ((a, {"french": 2}), (b, {"french": 4, "billing": 1})):
        resp = await fx_client.put(api(fx_shop, f"/users/{user_id}/skills"), json={"skills": skills},
                                   headers=fx_shop.auth)
        assert resp.status_code == 200 and resp.json()["skills"] == skills
    await _configure(fx_client, fx_shop, skills={"french": 3})
    item = await _open(fx_client, fx_shop, subject="Bonjour")
    made = await _route(fx_shop)
    assert [(m["conversation_id"], m["user_id"], m["reason"]) for m in made] == [(item, b, "skills")]

    why = await fx_client.get(api(fx_shop, f"/conversations/{item}/routing"), headers=sup_auth)
    assert why.status_code == 200, why.text
    decision = why.json()[0]
    assert decision["winner_id"] == b and decision["reason"] == "skills" and decision["offer_status"] == "pending"
    by_user = {c["user_id"]: c for c in decision["candidates"]}
    assert by_user[a]["excluded"] == "skills" and by_user[a]["skills"] == {"french": 2}
    assert by_user[b]["excluded"] == "" and by_user[b]["free"] == 3
    # The supervisor's page says it too; an operator may not see it.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/routing/why/{item}")
    assert page.status_code == 200 and 'data-reason="skills"' in page.text and "Boris" in page.text
    actions = await fx_client.get(f"/t/{fx_shop.slug}/conversations/{item}/actions")  # the item's own panel links it
    assert f'href="/t/{fx_shop.slug}/routing/why/{item}"' in actions.text
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/routing/why/{item}")
    raised = await fx_client.post(f"/t/{fx_shop.slug}/routing/why/{item}/priority", data={"_csrf": token,
                                                                                           "priority": "5"})
    assert raised.status_code == 200 and 'value="5"' in raised.text
    too_high = await fx_client.post(f"/t/{fx_shop.slug}/routing/why/{item}/priority", data={"_csrf": token,
                                                                                             "priority": "50"})
    assert too_high.status_code == 400 and "-10 to 10" in too_high.text
    _, op_auth = (await _agents(fx_shop, "Olga", available=False))[0]
    assert (await fx_client.get(api(fx_shop, f"/conversations/{item}/routing"), headers=op_auth)).status_code == 403


async def test_a_returning_customer_goes_to_the_agent_who_served_them_last(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    (a, _), (b, b_auth) = await _agents(fx_shop, "Ana", "Boris")
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Mila", "phones": ["+35929990001"]},
                                    headers=fx_shop.auth)).json()["id"]
    first = await _open(fx_client, fx_shop, contact_id=contact)
    assert (await fx_client.post(api(fx_shop, f"/conversations/{first}/take"), headers=b_auth)).status_code == 200
    assert (await fx_client.post(api(fx_shop, f"/conversations/{first}/wrapup"), json={"code": "done", "note": ""},
                                 headers=b_auth)).status_code == 200
    await _configure(fx_client, fx_shop, sticky_minutes=60)
    other = await _open(fx_client, fx_shop, subject="someone new")
    back = await _open(fx_client, fx_shop, contact_id=contact, subject="me again")
    made = {m["conversation_id"]: m for m in await _route(fx_shop)}
    # Round robin would give Boris the first item and Ana the second; the returning customer goes to Boris.
    assert made[back]["user_id"] == b and made[back]["reason"] == "stickiness"
    assert made[other]["user_id"] == a
    # Outside the window, the turn decides again.
    await _configure(fx_client, fx_shop, sticky_minutes=0)
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("UPDATE routing_offer SET status = 'withdrawn' WHERE status = 'pending'")
        await current_uow().connection.execute("DELETE FROM routing_offer")
    again = {m["conversation_id"]: m for m in await _route(fx_shop)}
    assert again[back]["reason"] == "round_robin"


async def test_timeout_goes_to_the_next_agent_and_misses_in_a_row_set_away(fx_client: Any,
                                                                            fx_shop: ShopFixture) -> None:
    (a, a_auth), (b, _) = await _agents(fx_shop, "Ana", "Boris")
    await _configure(fx_client, fx_shop, offer_timeout=5, misses_before_away=2)
    first, second = await _open(fx_client, fx_shop), await _open(fx_client, fx_shop)
    made = await _route(fx_shop)
    assert [m["user_id"] for m in made] == [a, b]
    later = now() + dt.timedelta(seconds=6)
    async with tenant_context(fx_shop.tenant):
        # The timeout job fires at the offer's time (its delay); too early it changes nothing.
        assert await services.expire(made[0]["offer_id"]) is None
        assert await services.expire(made[0]["offer_id"], due=later) is not None
        assert await services.expire(made[1]["offer_id"], due=later) is not None
    assert await _agent_state(fx_shop, a) == ("available", "")  # one miss is not a row yet
    follow = await _route(fx_shop)
    # Each item goes to the agent who has not had it yet.
    assert {(m["conversation_id"], m["user_id"]) for m in follow} == {(first, b), (second, a)}
    ana_second = next(m for m in follow if m["user_id"] == a)
    async with tenant_context(fx_shop.tenant):
        await services.expire(ana_second["offer_id"], due=later)
    assert await _agent_state(fx_shop, a) == ("away", "missed_offers")
    events = (await fx_client.get(api(fx_shop, "/events?limit=500"), headers=fx_shop.auth)).json()["items"]
    assert {"user_id": a, "misses": 2} in [{k: e["data"][k] for k in ("user_id", "misses")}
                                           for e in events if e["name"] == "routing.missed_away"]
    # Ana's console says why (the live renderer of routing.missed_away, for her alone).
    from app.accounts.services import Principal
    from realtime.events import Event
    from realtime.render import frames

    event = Event(id=10**9, name="routing.missed_away", tenant=fx_shop.slug, at=now(),
                  data={"user_id": a, "misses": 2}, channels=(f"user:{a}", ))
    ana = Principal(a, "ana@x.example", "Ana", "operator", "session", 0)
    bob = Principal(b, "bob@x.example", "Boris", "operator", "session", 0)
    to_ana, to_bob = await frames(event, fx_shop.tenant, [ana, bob])
    assert "You were set away because you missed 2 offers in a row" in to_ana and 'id="console-flash"' in to_ana
    assert "set away" not in to_bob
    # The accepted or rejected offers in between would have broken the row: Boris missed one, he stays available.
    assert (await _agent_state(fx_shop, b))[0] == "available"
    # Ana is away: nothing more is offered to her.
    assert all(m["user_id"] != a for m in await _route(fx_shop))
    assert (await fx_client.get(api(fx_shop, "/offers"), headers=a_auth)).json() == []


async def test_the_worker_offers_new_items_and_going_offline_withdraws_them(fx_client: Any,
                                                                            fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant) as uow:  # from the shop's start: no event before a worker came is lost
        assert {r["name"] for r in await uow.connection.fetch("SELECT name FROM listener_cursor")} >= {
            "routing.items", "routing.agents"}
    (a, a_auth), = await _agents(fx_shop, "Ana")
    await _configure(fx_client, fx_shop)
    item = await _open(fx_client, fx_shop)

    async def offered() -> bool:
        return any(o["status"] == "pending" for o in await _offers(fx_shop, item))

    await run_jobs_until(offered)  # queue.item_added → the durable listener → the route job → an offer
    async with tenant_context(fx_shop.tenant):
        await state.set_state(a, "offline")

    async def withdrawn() -> bool:
        return [o["status"] for o in await _offers(fx_shop, item)] == ["withdrawn"]

    await run_jobs_until(withdrawn)
    assert (await _offers(fx_shop, item))[0]["reason"] == "went_offline"
    assert (await fx_client.get(api(fx_shop, "/offers"), headers=a_auth)).json() == []


async def test_exactly_one_of_an_accept_and_a_manual_take_wins(fx_client: Any, fx_shop: ShopFixture) -> None:
    (a, a_auth), = await _agents(fx_shop, "Ana")
    (_, sup_auth), = await _agents(fx_shop, "Sveta", role="supervisor", available=False)
    await _configure(fx_client, fx_shop)
    for _ in range(5):
        item = await _open(fx_client, fx_shop)
        made = await _route(fx_shop)
        assert [m["conversation_id"] for m in made] == [item]
        accept, take = await asyncio.gather(
            fx_client.post(api(fx_shop, f"/offers/{made[0]['offer_id']}/accept"), headers=a_auth),
            fx_client.post(api(fx_shop, f"/conversations/{item}/take"), headers=sup_auth))
        assert sorted([accept.status_code, take.status_code]) == [200, 409], (accept.text, take.text)
        conv = (await fx_client.get(api(fx_shop, f"/conversations/{item}"), headers=fx_shop.auth)).json()
        assert conv["status"] == "active"
        assert (conv["assigned_to_id"] == a) == (accept.status_code == 200)
        async with tenant_context(fx_shop.tenant):  # free Ana again for the next round
            await current_uow().connection.execute("UPDATE conversation SET status = 'closed' WHERE id = $1", item)
            await services.withdraw_for_item(item)


async def test_settings_refuse_bad_input_with_a_message(fx_client: Any, fx_shop: ShopFixture) -> None:
    bad = [({"strategy": "random"}, "strategy"), ({"offer_timeout": 1}, "offer_timeout"),
           ({"skills": {"french": 11}}, "skills"), ({"overflow_after": 30}, "overflow_queue"),
           ({"overflow_queue": "general"}, "overflow_queue")]
    for body, field in bad:
        resp = await fx_client.put(api(fx_shop, "/routing/queues/general"), json={"strategy": "round_robin", **body},
                                   headers=fx_shop.auth)
        assert resp.status_code == 400, (body, resp.text)
        assert field in json.dumps(resp.json()), resp.text
    assert (await fx_client.put(api(fx_shop, "/routing/queues/nope"), json={}, headers=fx_shop.auth)).status_code in (
        400, 404)


async def test_admin_page_sets_a_queue_and_skills(fx_client: Any, fx_shop: ShopFixture) -> None:
    (a, _), = await _agents(fx_shop, "Ana", available=False)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/settings/routing/")
    saved = await fx_client.post(f"/t/{fx_shop.slug}/settings/routing/queues/general", data={
        "_csrf": token, "strategy": "least_busy", "skills": "french:3", "sticky_minutes": "30",
        "offer_timeout": "15", "misses_before_away": "2", "overflow_queue": "", "overflow_after": "0"})
    assert saved.status_code == 200 and 'data-testid="notice"' in saved.text, saved.text
    skills = await fx_client.post(f"/t/{fx_shop.slug}/settings/routing/skills/{a}",
                                  data={"_csrf": token, "skills": "french:4, billing"})
    assert skills.status_code == 200 and "french:4, billing:1" in skills.text
    conf = (await fx_client.get(api(fx_shop, "/routing/queues/general"), headers=fx_shop.auth)).json()
    assert conf["strategy"] == "least_busy" and conf["skills"] == {"french": 3} and conf["offer_timeout"] == 15
    wrong = await fx_client.post(f"/t/{fx_shop.slug}/settings/routing/skills/{a}",
                                 data={"_csrf": token, "skills": "french:x"})
    assert wrong.status_code == 400 and "name:level" in wrong.text


async def test_the_console_loads_its_offer_panels_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The console page's offer panels fetch themselves on load; what the fetch returns must not fetch again (an
    endless reload would busy the server and wipe reply drafts)."""
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = (await fx_client.get(f"/t/{fx_shop.slug}/console/")).text
    for path in ("/console/offers/", "/console/offers/team"):
        assert f'hx-get="/t/{fx_shop.slug}{path.rstrip("/")}" hx-trigger="load, sb:refresh from:body"' in page
        panel = await fx_client.get(f"/t/{fx_shop.slug}{path}")
        assert panel.status_code == 200 and 'hx-trigger="sb:refresh from:body"' in panel.text, panel.text
        assert "load" not in panel.text.split("hx-trigger=", 1)[1].split(">", 1)[0]


async def test_another_tenants_offers_and_decisions_are_out_of_reach(fx_client: Any, fx_shop: ShopFixture,
                                                                     fx_other_shop: ShopFixture) -> None:
    (a, a_auth), = await _agents(fx_shop, "Ana")
    await _configure(fx_client, fx_shop)
    item = await _open(fx_client, fx_shop)
    offer_id = (await _route(fx_shop))[0]["offer_id"]
    (_, other_auth), = await _agents(fx_other_shop, "Ana")
    for headers in (other_auth, fx_other_shop.auth):
        assert (await fx_client.get(api(fx_other_shop, f"/offers/{offer_id}"), headers=headers)).status_code == 404
        for verb in ("accept", "reject"):
            resp = await fx_client.post(api(fx_other_shop, f"/offers/{offer_id}/{verb}"), headers=headers)
            assert resp.status_code == 404, resp.text
        assert (await fx_client.get(api(fx_other_shop, "/offers?everyone=true"), headers=fx_other_shop.auth)
                ).json() == []
    assert (await fx_client.get(api(fx_other_shop, f"/conversations/{item}/routing"),
                                headers=fx_other_shop.auth)).status_code == 404
    # A key of shop B on shop A's URL is refused before anything is read.
    assert (await fx_client.post(api(fx_shop, f"/offers/{offer_id}/accept"), headers=other_auth)).status_code in (
        401, 403, 404)
    # The route job of shop B never touches shop A's items.
    assert await _route(fx_other_shop) == []
    assert [o["status"] for o in await _offers(fx_shop, item)] == ["pending"]


async def test_overflow_when_nobody_is_eligible_or_the_queue_is_closed(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/queues"), json={"key": "backup", "name": "Backup"}, headers=fx_shop.auth)
    (a, _), = await _agents(fx_shop, "Ana")
    await fx_client.put(api(fx_shop, f"/users/{a}/skills"), json={"skills": {"french": 1}}, headers=fx_shop.auth)
    await _configure(fx_client, fx_shop, skills={"german": 2}, overflow_queue="backup", overflow_after=30)
    general = (await fx_client.get(api(fx_shop, "/routing/queues/general"), headers=fx_shop.auth)).json()
    assert general["overflow_queue"] == "backup" and general["overflow_after"] == 30
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Mila", "phones": ["+35929990002"]},
                                    headers=fx_shop.auth)).json()["id"]
    item = await _open(fx_client, fx_shop, contact_id=contact)
    async with tenant_context(fx_shop.tenant) as uow:
        queue_id = await uow.connection.fetchval("SELECT id FROM queue WHERE key = 'general'")
        await services.new_item(item, queue_id)  # the listener's step: routed, overflow checked in 30 s
        due = await uow.connection.fetchval(
            "SELECT execute_after - now() FROM public.pgqueuer WHERE entrypoint = 'routing.overflow' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'conversation_id' = $1", str(item))
        assert dt.timedelta(seconds=25) < due <= dt.timedelta(seconds=30)
        # Nobody has German: when the job fires, the item moves on.
        moved = await services.overflow(item, queue_id)
    assert moved is not None and moved["queue_key"] == "backup" and moved["status"] == "waiting"
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact}/timeline"), headers=fx_shop.auth)).json()
    assert any("Overflow" in (i.get("summary") or "") for i in timeline["items"]), timeline
    events = (await fx_client.get(api(fx_shop, "/events?limit=500"), headers=fx_shop.auth)).json()["items"]
    assert [e["data"]["reason"] for e in events if e["name"] == "routing.overflowed"] == ["no_agent"]

    # An item someone could take stays where it is.
    await _configure(fx_client, fx_shop, skills={"french": 1}, overflow_queue="backup", overflow_after=30)
    stays = await _open(fx_client, fx_shop)
    async with tenant_context(fx_shop.tenant):
        assert await services.overflow(stays, queue_id) is None

    # Closed (a calendar with no opening hours at all): a new item moves at once.
    cal = await fx_client.post(api(fx_shop, "/calendars"), json={"name": "Never", "zone": "Europe/Sofia",
                                                                  "public_holidays": False, "weekly": []},
                               headers=fx_shop.auth)
    assert cal.status_code == 201, cal.text
    linked = await fx_client.put(api(fx_shop, f"/queue-hours/{queue_id}"), json={"calendar_id": cal.json()["id"]},
                                 headers=fx_shop.auth)
    assert linked.status_code == 200, linked.text
    late = await _open(fx_client, fx_shop)
    async with tenant_context(fx_shop.tenant):
        closed = await services.new_item(late, queue_id)
    assert closed is not None and closed["queue_key"] == "backup"


async def test_the_demo_shop_has_a_routed_queue_and_skilled_operators(fx_client: Any) -> None:
    from app import demo
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    assert await demo.ensure_demo_routing() is True
    assert await demo.ensure_demo_routing() is False  # once: an admin's later changes are kept
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        conf = await services.queue_settings("returns")
        team = {u["email"]: u["skills"] for u in await services.team_skills()}
    assert conf["strategy"] == "round_robin" and conf["skills"] == {"returns": 1}
    assert conf["overflow_queue"] == "general" and conf["sticky_minutes"] == 60
    assert team[demo.DEMO_OPERATOR[0]] == {"english": 4, "returns": 3}


async def test_a_supervisor_assigns_above_capacity_with_a_warning(fx_client: Any, fx_shop: ShopFixture) -> None:
    (a, a_auth), = await _agents(fx_shop, "Ana")
    (_, sup_auth), = await _agents(fx_shop, "Sveta", role="supervisor", available=False)
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute('INSERT INTO agent_capacity ("user", channel, slots) VALUES ($1, \'chat\', 1)', a)
    first, second = await _open(fx_client, fx_shop), await _open(fx_client, fx_shop)
    within = await fx_client.post(api(fx_shop, f"/conversations/{first}/assign"), json={"user_id": a},
                                  headers=sup_auth)
    assert within.status_code == 200 and within.json()["warnings"] == []
    above = await fx_client.post(api(fx_shop, f"/conversations/{second}/assign"), json={"user_id": a},
                                 headers=sup_auth)
    assert above.status_code == 200, above.text  # allowed, and said
    assert above.json()["assigned_to_id"] == a
    assert above.json()["warnings"] == ["Above capacity: they now have 2 of 1 chat slots in use."]
    # The console's assign form shows it too.
    third = await _open(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    page = await fx_client.post(f"/t/{fx_shop.slug}/conversations/{third}/assign",
                                data={"_csrf": token, "user_id": str(a)})
    assert page.status_code == 200 and "3 of 1 chat slots" in page.text, page.text


async def test_higher_priority_goes_first_and_waiting_ages_so_nothing_starves(fx_client: Any,
                                                                              fx_shop: ShopFixture) -> None:
    (a, _), = await _agents(fx_shop, "Ana")
    await _configure(fx_client, fx_shop)
    old, urgent, plain = [await _open(fx_client, fx_shop) for _ in range(3)]
    (_, sup_auth), = await _agents(fx_shop, "Sveta", role="supervisor", available=False)
    resp = await fx_client.post(api(fx_shop, f"/conversations/{urgent}/priority"), json={"priority": 5},
                                headers=sup_auth)
    assert resp.status_code == 200, resp.text
    async with tenant_context(fx_shop.tenant) as uow:
        # `old` has waited 10 minutes: 0 + 10 points of age beats 5 (a minute ago); `plain` is last.
        await uow.connection.execute("UPDATE conversation SET created_at = now() - interval '10 minutes' "
                                     "WHERE id = $1", old)
        await uow.connection.execute("UPDATE conversation SET created_at = now() - interval '1 minute' "
                                     "WHERE id = ANY($1::int[])", [urgent, plain])
    # The console's queue is in the same order as the router's.
    listed = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=sup_auth)).json()
    assert [c["id"] for c in listed] == [old, urgent, plain]
    made = await _route(fx_shop)
    assert [m["conversation_id"] for m in made] == [old, urgent, plain]
