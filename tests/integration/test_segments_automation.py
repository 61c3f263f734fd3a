"""Segments in automation: one condition tree, one meaning (a rule's evaluator and a segment's SQL agree on every
contact of the fixture, for every definition), `contact.in_segment` in a rule, and the "add to a static list"
action run by the engine."""

from __future__ import annotations

from typing import Any

import pytest

from app.lib.db import tenant_context
from tests.conftest import ShopFixture
from tests.integration.automation_kit import make_rule, runs, settle
from tests.integration.test_orders import make_contact
from tests.integration.test_segments import CASES, api, build_fixture


@pytest.mark.parametrize("case", range(len(CASES)))
async def test_the_rule_evaluator_and_the_segment_sql_agree(fx_shop: ShopFixture, case: int) -> None:
    from app.automation import services as automation
    from app.segments import services as segments

    definition, _sql, names = CASES[case]
    async with tenant_context(fx_shop.tenant):
        ids = await build_fixture()
        for name in ("ann", "bob", "cid", "dee", "hal"):  # the live ones (deleted, merged, erased: not in either)
            result = await automation.test({"conditions": definition}, "contact", ids[name])
            assert result["matched"] == (name.capitalize() in names), (name, result["leaves"])
        seg = await segments.create(None, name="x", definition=definition)
        assert {n for n in ("ann", "bob", "cid", "dee", "hal") if await segments.contains(seg["id"], ids[n])} == {
            n.lower() for n in names}


async def test_a_rule_on_segment_members_adds_them_to_a_static_list(fx_client: Any, fx_shop: ShopFixture) -> None:
    vip = await make_contact(fx_client, fx_shop, "Vera", tags=["vip"])
    plain = await make_contact(fx_client, fx_shop, "Paul")
    vips = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "VIPs", "definition": {
        "all": [{"op": "has_tag", "value": "vip"}]}}, headers=fx_shop.auth)).json()
    lst = (await fx_client.post(api(fx_shop, "/segments"), json={"name": "Noted VIPs", "kind": "static"},
                                headers=fx_shop.auth)).json()
    bad = await fx_client.post(api(fx_shop, "/automation/rules"), json={
        "name": "bad", "event": "note.added", "actions": [{"type": "add_to_list", "segment_id": "many"}]},
        headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "actions[0].segment_id"
    rule = await make_rule(fx_client, fx_shop, name="Noted VIPs", event="note.added", conditions={
        "all": [{"field": "contact.in_segment", "op": "contains", "value": vips["id"]}]},
        actions=[{"type": "add_to_list", "segment_id": lst["id"]}])
    for c in (vip, plain):
        resp = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/notes"), json={"body": "called"},
                                    headers=fx_shop.auth)
        assert resp.status_code in (200, 201), resp.text
    await settle(fx_shop)
    logged = await runs(fx_client, fx_shop, rule_id=rule["id"])
    assert sorted(r["status"] for r in logged) == ["done", "not_matched"]
    members = (await fx_client.get(api(fx_shop, f"/segments/{lst['id']}/contacts"), headers=fx_shop.auth)).json()
    assert [m["id"] for m in members["items"]] == [vip["id"]]
    async with tenant_context(fx_shop.tenant):
        from app.lib.db import current_uow

        source = await current_uow().connection.fetchval("SELECT source FROM segment_member")
    assert source == "automation"
