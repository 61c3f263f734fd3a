"""Temperature from behaviour: the shop's rules move buyers as specified, a hand-set value holds until it is handed
back, every move is on the timeline saying who made it, order events recompute through the durable listener, and
the rules' API refuses bad thresholds by field."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, run_jobs_until
from tests.integration.test_orders import make_contact, make_order
from tests.integration.test_segments import api, build_fixture

RULES = {"enabled": True, "hot_days": 30, "hot_orders": 2, "hot_spent": 1000, "warm_days": 90, "warm_orders": 1,
         "warm_spent": 0}


async def _temps(ids: dict[str, int]) -> dict[str, tuple[str | None, bool]]:
    rows = await current_uow().connection.fetch("SELECT id, temperature, temperature_manual FROM contact")
    by_id = {r["id"]: (r["temperature"], r["temperature_manual"]) for r in rows}
    return {k: by_id[v] for k, v in ids.items() if k in ("ann", "bob", "cid", "dee", "hal")}


async def test_rules_move_buyers_and_a_hand_set_value_holds(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.contacts import services as contacts
    from app.segments import temperature
    from app.timeline import services as timeline

    saved = await fx_client.put(api(fx_shop, "/temperature-rules"), json=RULES, headers=fx_shop.auth)
    assert saved.status_code == 200, saved.text
    async with tenant_context(fx_shop.tenant):
        ids = await build_fixture()
        before = await _temps(ids)
        assert before == {"ann": ("hot", False), "bob": ("warm", False), "cid": ("cold", False), "dee": (None, False),
                          "hal": (None, False)}
        # Ann: 3 sales, last 5 days ago, 6000 spent -> hot (already). Bob: last sale 100 days ago -> cold. Cid: 2
        # sales, last 10 days ago, 4000 net -> hot. Hal: 400 days -> cold. Dee never bought: left alone.
        assert await temperature.recompute() == 3
        assert await _temps(ids) == {"ann": ("hot", False), "bob": ("cold", False), "cid": ("hot", False),
                                     "dee": (None, False), "hal": ("cold", False)}
        assert await temperature.recompute() == 0  # idempotent
        items, _ = await timeline.page(ids["bob"], limit=5)
        entry = next(i for i in items if (i.get("payload") or {}).get("event") == "temperature")
        assert entry["payload"]["by"] == "rule" and "warm → cold" in entry["summary"]

        # A person sets Cid warm: it holds against the rules, and the timeline says who.
        class Person:
            user_id = fx_shop.user_id
            label = "Owner"

        await contacts.update(Person(), ids["cid"], {"temperature": "warm"})
        assert (await _temps(ids))["cid"] == ("warm", True)
        assert await temperature.recompute() == 0
        assert (await _temps(ids))["cid"] == ("warm", True)
        items, _ = await timeline.page(ids["cid"], limit=5)
        hand = next(i for i in items if (i.get("payload") or {}).get("event") == "temperature")
        assert hand["payload"]["by"] == "person" and hand["actor_id"] == fx_shop.user_id
        card = await contacts.get(ids["cid"])
        assert card["temperature_manual"] is True
    # The card shows it is hand-set, with the way back.
    from tests.conftest import browser_login

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{ids['cid']}")
    assert 'data-testid="temperature-manual"' in page.text and "temperature-automatic" in page.text
    back = await fx_client.post(api(fx_shop, f"/temperature-rules/contacts/{ids['cid']}/automatic"),
                                headers=fx_shop.auth)
    assert back.status_code == 200 and back.json() == {"id": ids["cid"], "temperature": "hot",
                                                       "temperature_manual": False}
    async with tenant_context(fx_shop.tenant):
        items, _ = await timeline.page(ids["cid"], limit=5)
        latest = next(i for i in items if (i.get("payload") or {}).get("event") == "temperature")
        assert latest["payload"] == {**latest["payload"], "by": "rule", "previous": "warm", "temperature": "hot"}


async def test_an_order_event_recomputes_through_the_listener(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.put(api(fx_shop, "/temperature-rules"), json=RULES, headers=fx_shop.auth)
    c = await make_contact(fx_client, fx_shop, "New buyer")
    assert c["temperature"] is None
    await make_order(fx_client, fx_shop, c["id"])

    async def warm() -> bool:
        async with tenant_context(fx_shop.tenant):
            return await current_uow().connection.fetchval(
                "SELECT temperature FROM contact WHERE id = $1", c["id"]) == "warm"

    await run_jobs_until(warm)
    async with tenant_context(fx_shop.tenant):
        # Saving enabled rules queued tonight's run (it re-queues itself for the next night).
        nightly = await current_uow().connection.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = 'segments.nightly_temperature' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", fx_shop.slug)
        assert nightly == 1


async def test_rules_api_refuses_bad_thresholds_by_field(fx_client: Any, fx_shop: ShopFixture,
                                                         fx_other_shop: ShopFixture) -> None:
    got = (await fx_client.get(api(fx_shop, "/temperature-rules"), headers=fx_shop.auth)).json()
    assert got["enabled"] is False and {"hot_days", "warm_spent", "updated_at"} <= set(got)
    for body, field in (({"hot_days": 0}, "hot_days"), ({"warm_orders": -1}, "warm_orders"),
                        ({"hot_days": 100, "warm_days": 30}, "hot_days")):
        bad = await fx_client.put(api(fx_shop, "/temperature-rules"), json=body, headers=fx_shop.auth)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == field, bad.text
    ok = await fx_client.put(api(fx_shop, "/temperature-rules"), json={"hot_days": 14}, headers=fx_shop.auth)
    assert ok.json()["hot_days"] == 14
    # Another shop's rules are its own.
    assert (await fx_client.get(api(fx_other_shop, "/temperature-rules"), headers=fx_other_shop.auth)
            ).json()["hot_days"] == 30
    # Another shop's contact cannot be handed back to the rules from here.
    theirs = await make_contact(fx_client, fx_other_shop, "Theirs")
    mine = await fx_client.post(api(fx_shop, f"/temperature-rules/contacts/{theirs['id'] + 1000}/automatic"),
                                headers=fx_shop.auth)
    assert mine.status_code == 404
