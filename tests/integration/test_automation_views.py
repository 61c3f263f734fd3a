"""The automation pages without a browser: the rules list and starters, saving from the builder (a new version
per change), reordering, test and preview answers, the run log search, the card's section, and who may see them."""

from __future__ import annotations

import json
from typing import Any

from app.accounts.services import _insert_api_key
from app.accounts.tables import User
from app.lib.db import tenant_context
from tests.conftest import CSRF_RE, ShopFixture, browser_login, make_shop
from tests.integration.automation_kit import api, runs, settle


async def test_builder_pages_save_versions_order_test_and_card(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/automation"
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"{base}/")
    assert page.status_code == 200 and 'data-testid="starter"' in page.text
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ola", "tags": ["vip"]},
                                    headers=fx_shop.auth)).json()

    definition = {"name": "Notes on VIPs", "trigger": "event", "event": "note.added", "delay_minutes": 0,
                  "rate_limit": 0, "conditions": {"all": [{"op": "has_tag", "value": "vip"}]},
                  "actions": [{"type": "add_tag", "tag": "seen"}]}
    bad = await fx_client.post(f"{base}/save", data={"_csrf": csrf, "definition": json.dumps(
        {**definition, "actions": [{"type": "launch_rocket"}]})})
    assert bad.status_code == 400 and "actions[0].type" in bad.text
    saved = await fx_client.post(f"{base}/save", data={"_csrf": csrf, "definition": json.dumps(definition)})
    assert saved.status_code == 303
    rule_url = saved.headers["location"]
    rule_id = int(rule_url.rsplit("/", 1)[1])
    again = await fx_client.post(f"{base}/save?rule_id={rule_id}", data={"_csrf": csrf, "definition": json.dumps(
        {**definition, "actions": [{"type": "add_tag", "tag": "seen-twice"}]})})
    assert again.status_code == 303
    versions = (await fx_client.get(api(fx_shop, f"/automation/rules/{rule_id}/versions"),
                                    headers=fx_shop.auth)).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["definition"]["actions"] == [{"type": "add_tag", "tag": "seen"}]

    headers = {"hx-request": "true", "X-CSRF-Token": csrf}
    tested = await fx_client.post(f"{base}/test", headers=headers, data={
        "definition": json.dumps(definition), "record": "contact", "record_id": str(contact["id"])})
    assert tested.status_code == 200 and 'data-matched="yes"' in tested.text
    missing = await fx_client.post(f"{base}/test", headers=headers, data={
        "definition": json.dumps(definition), "record": "contact", "record_id": "999"})
    assert missing.status_code == 404
    preview = await fx_client.post(f"{base}/preview", headers=headers, data={"definition": json.dumps(definition)})
    assert preview.status_code == 200 and "Matches 1 of the 1 most recent records now." in preview.text

    starter = await fx_client.post(f"{base}/starters/order_shipped_sms", data={"_csrf": csrf})
    assert starter.status_code == 303
    rules = (await fx_client.get(api(fx_shop, "/automation/rules"), headers=fx_shop.auth)).json()
    assert [(r["name"], r["enabled"]) for r in rules] == [("Notes on VIPs", False), ("SMS when an order ships", True)]
    moved = await fx_client.post(f"{base}/{rules[1]['id']}/move", data={"_csrf": csrf, "direction": "up"})
    assert moved.status_code == 303
    rules = (await fx_client.get(api(fx_shop, "/automation/rules"), headers=fx_shop.auth)).json()
    assert [r["name"] for r in rules] == ["SMS when an order ships", "Notes on VIPs"]

    # A plain form post (clicked before htmx took the form over) works too and comes back to the rule's page.
    plain = await fx_client.post(f"{base}/{rule_id}/enabled", data={"_csrf": csrf, "enabled": "1"})
    assert plain.status_code == 303 and plain.headers["location"] == f"{base}/{rule_id}"
    rules = (await fx_client.get(api(fx_shop, "/automation/rules"), headers=fx_shop.auth)).json()
    assert [r["enabled"] for r in rules if r["id"] == rule_id] == [True]
    await fx_client.post(f"{base}/{rule_id}/enabled", headers=headers, data={"enabled": "0"})
    toggled = await fx_client.post(f"{base}/{rule_id}/enabled", headers=headers, data={"enabled": "1"})
    assert toggled.status_code == 200 and 'data-enabled="yes"' in toggled.text
    await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/notes"), json={"body": "hello"},
                         headers=fx_shop.auth)
    await settle(fx_shop)
    [run] = await runs(fx_client, fx_shop, rule_id=rule_id)
    assert run["version"] == 2 and run["status"] == "done"
    card = await fx_client.get(f"{base}/contacts/{contact['id']}/runs")
    assert card.status_code == 200 and "Notes on VIPs" in card.text and 'data-status="done"' in card.text
    found = await fx_client.get(f"{base}/runs", params={"q": "seen-twice"})
    assert f'data-run-id="{run["id"]}"' in found.text
    nothing = await fx_client.get(f"{base}/runs", params={"q": "no such outcome"})
    assert 'data-testid="run"' not in nothing.text
    page = await fx_client.get(rule_url)
    assert page.status_code == 200 and "v2" in page.text and 'data-testid="run"' in page.text


async def test_operators_cannot_reach_rules_and_another_workspace_cannot_read_runs(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email=f"op@{fx_shop.slug}.example", name="Olga Operator",
                                      role="operator")).returning(User.id)
        _, key = await _insert_api_key(rows[0]["id"], "operator key")
    operator = {"Authorization": f"Bearer {key}"}
    rule = (await fx_client.post(api(fx_shop, "/automation/rules"), headers=fx_shop.auth, json={
        "name": "Tag", "event": "contact.created", "enabled": True, "actions": [{"type": "add_tag", "tag": "new"}]})).json()
    assert (await fx_client.get(api(fx_shop, "/automation/rules"), headers=operator)).status_code == 403
    assert (await fx_client.post(api(fx_shop, f"/automation/rules/{rule['id']}/disable"),
                                 headers=operator)).status_code == 403
    other = await make_shop("c")
    assert (await fx_client.get(api(fx_shop, "/automation/runs"), headers=other.auth)).status_code in (401, 403, 404)
    assert (await fx_client.get(f"/t/{other.slug}/api/v1/automation/rules/{rule['id']}",
                                headers=other.auth)).status_code == 404
