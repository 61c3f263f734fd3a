"""The client card through the JSON API: identities, custom fields, search, notes, timeline, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ShopFixture


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _create(client: Any, shop: ShopFixture, **body: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/contacts"), json=body, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _set_region(client: Any, shop: ShopFixture, region: str) -> None:
    resp = await client.put(api(shop, "/workspace"), json={"default_region": region}, headers=shop.auth)
    assert resp.status_code == 200


@pytest.mark.parametrize(
    ("region", "raw", "e164"),
    [
        ("RU", "+7 (912) 345-67-89", "+79123456789"),
        ("RU", "89123456789", "+79123456789"),
        ("RU", "8 912 345 67 89", "+79123456789"),
        ("US", "+1 415 555 0100", "+14155550100"),
        ("US", "(415) 555-0100", "+14155550100"),
        ("US", "415.555.0100", "+14155550100"),
        ("DE", "0151 23456789", "+4915123456789"),
    ],
)
async def test_phones_are_normalised_and_found_in_any_format(
    fx_client: Any, fx_shop: ShopFixture, region: str, raw: str, e164: str
) -> None:
    await _set_region(fx_client, fx_shop, region)
    card = await _create(fx_client, fx_shop, name="Ivan Petrov", phones=[raw])
    assert card["phones"] == [e164]
    for query in (raw, e164, e164.lstrip("+")):
        found = await fx_client.get(api(fx_shop, "/contacts"), params={"q": query}, headers=fx_shop.auth)
        assert [c["id"] for c in found.json()["items"]] == [card["id"]], query


async def test_partial_search_by_name_email_company_phone(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _set_region(fx_client, fx_shop, "US")
    a = await _create(fx_client, fx_shop, name="Margaret Hamilton", company="Apollo Labs",
                      emails=["Margaret@Apollo.example"], phones=["+1 415 555 0199"])
    await _create(fx_client, fx_shop, name="Grace Hopper", company="Navy", emails=["grace@navy.example"])
    for q in ("hamil", "HAMILTON", "apollo", "margaret@apollo", "555 01", "5550199"):
        found = await fx_client.get(api(fx_shop, "/contacts"), params={"q": q}, headers=fx_shop.auth)
        assert [c["id"] for c in found.json()["items"]] == [a["id"]], q
    assert a["emails"] == ["margaret@apollo.example"]
    none = await fx_client.get(api(fx_shop, "/contacts"), params={"q": "100%_"}, headers=fx_shop.auth)
    assert none.json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "phones": ["12"]}, "phones[0]"),
        ({"name": "X", "phones": ["+1 415 555 0100", "not a phone"]}, "phones[1]"),
        ({"name": "X", "emails": ["bad@"]}, "emails[0]"),
        ({"name": "X", "temperature": "boiling"}, "temperature"),
        ({"name": "X", "owner_id": 999999}, "owner_id"),
        ({"name": "X", "birth_date": "1800-01-01"}, "birth_date"),
        ({}, "name"),
        ({"name": "X", "custom": {"nope": 1}}, "custom.nope"),
        ({"name": "X" * 201}, "name"),
    ],
)
async def test_invalid_fields_are_named(fx_client: Any, fx_shop: ShopFixture, body: dict[str, Any], field: str) -> None:
    resp = await fx_client.post(api(fx_shop, "/contacts"), json=body, headers=fx_shop.auth)
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == field


async def test_wrong_types_are_400_not_500(fx_client: Any, fx_shop: ShopFixture) -> None:
    for body in ({"name": 5}, {"phones": "123"}, {"tags": [1, 2]}, {"name": "x", "unknown": 1}, {"birth_date": "x"}):
        resp = await fx_client.post(api(fx_shop, "/contacts"), json=body, headers=fx_shop.auth)
        assert resp.status_code == 400, (body, resp.text)


CUSTOM_CASES = [
    ("text", [], "hello", "hello", {"a": 1}),
    ("number", [], "12,5", 12.5, "twelve"),
    ("date", [], "2024-02-29", "2024-02-29", "2023-02-29"),
    ("boolean", [], "yes", True, "maybe"),
    ("select", ["S", "M", "L"], "M", "M", "XL"),
    ("multiselect", ["red", "green"], ["red", "green"], ["red", "green"], ["blue"]),
]


@pytest.mark.parametrize(("kind", "options", "good", "stored", "bad"), CUSTOM_CASES)
async def test_custom_fields_of_every_type(
    fx_client: Any, fx_shop: ShopFixture, kind: str, options: list[str], good: Any, stored: Any, bad: Any
) -> None:
    resp = await fx_client.post(api(fx_shop, "/custom-fields"),
                                json={"key": f"f_{kind}", "label": f"F {kind}", "kind": kind, "options": options},
                                headers=fx_shop.auth)
    assert resp.status_code == 201, resp.text
    ok = await _create(fx_client, fx_shop, name="C", custom={f"f_{kind}": good})
    assert ok["custom"][f"f_{kind}"] == stored
    resp = await fx_client.post(api(fx_shop, "/contacts"), json={"name": "D", "custom": {f"f_{kind}": bad}},
                                headers=fx_shop.auth)
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == f"custom.f_{kind}", resp.text
    filtered = await fx_client.get(api(fx_shop, "/contacts"), params={"custom": f"f_{kind}:{good}"},
                                   headers=fx_shop.auth)
    if kind in ("text", "select"):
        assert [c["id"] for c in filtered.json()["items"]] == [ok["id"]]


async def test_required_and_unique_custom_fields(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.post(api(fx_shop, "/custom-fields"), json={"key": "inn", "label": "Tax id", "kind": "text",
                                                               "unique": True}, headers=fx_shop.auth)
    await _create(fx_client, fx_shop, name="A", custom={"inn": "7701"})
    dup = await fx_client.post(api(fx_shop, "/contacts"), json={"name": "B", "custom": {"inn": "7701"}},
                               headers=fx_shop.auth)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "custom.inn"
    await fx_client.post(api(fx_shop, "/custom-fields"), json={"key": "city", "label": "City", "kind": "text",
                                                               "required": True}, headers=fx_shop.auth)
    missing = await fx_client.post(api(fx_shop, "/contacts"), json={"name": "C"}, headers=fx_shop.auth)
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "custom.city"
    bad_def = await fx_client.post(api(fx_shop, "/custom-fields"), json={"key": "x", "label": "X", "kind": "select"},
                                   headers=fx_shop.auth)
    assert bad_def.status_code == 400 and bad_def.json()["errors"][0]["field"] == "options"


async def test_filters_tags_temperature_owner(fx_client: Any, fx_shop: ShopFixture) -> None:
    hot = await _create(fx_client, fx_shop, name="Hot One", tags=["VIP", "wholesale"], temperature="hot",
                        owner_id=fx_shop.user_id)
    await _create(fx_client, fx_shop, name="Cold One", tags=["retail"], temperature="cold")
    for params in ({"tag": "vip"}, {"temperature": "hot"}, {"owner_id": fx_shop.user_id}):
        resp = await fx_client.get(api(fx_shop, "/contacts"), params=params, headers=fx_shop.auth)
        assert [c["id"] for c in resp.json()["items"]] == [hot["id"]], params
    assert hot["tags"] == ["vip", "wholesale"]
    bad = await fx_client.get(api(fx_shop, "/contacts"), params={"temperature": "tepid"}, headers=fx_shop.auth)
    assert bad.status_code == 400


async def test_patch_with_version_refuses_lost_updates(fx_client: Any, fx_shop: ShopFixture) -> None:
    card = await _create(fx_client, fx_shop, name="Versioned")
    first = await fx_client.patch(api(fx_shop, f"/contacts/{card['id']}"),
                                  json={"company": "First", "version": card["version"]}, headers=fx_shop.auth)
    assert first.status_code == 200 and first.json()["version"] == card["version"] + 1
    stale = await fx_client.patch(api(fx_shop, f"/contacts/{card['id']}"),
                                  json={"company": "Second", "version": card["version"]}, headers=fx_shop.auth)
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]


async def test_notes_and_timeline_newest_first_with_cursor(fx_client: Any, fx_shop: ShopFixture) -> None:
    card = await _create(fx_client, fx_shop, name="Timeline")
    for i in range(7):
        resp = await fx_client.post(api(fx_shop, f"/contacts/{card['id']}/notes"), json={"body": f"note **{i}**"},
                                    headers=fx_shop.auth)
        assert resp.status_code == 201
    page1 = (await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"),
                                 params={"limit": 3, "channel": "note"}, headers=fx_shop.auth)).json()
    assert [i["summary"] for i in page1["items"]] == ["note **6**", "note **5**", "note **4**"]
    assert page1["items"][0]["direction"] == "internal" and page1["items"][0]["payload"]["body"] == "note **6**"
    seen = [i["id"] for i in page1["items"]]
    cursor = page1["next"]
    while cursor:
        page = (await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"),
                                    params={"limit": 3, "before": cursor, "channel": "note"}, headers=fx_shop.auth)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 7
    everything = (await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"), headers=fx_shop.auth)).json()
    assert everything["items"][-1]["channel"] == "system"  # "Contact created"
    bad = await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"), params={"before": "garbage"},
                              headers=fx_shop.auth)
    assert bad.status_code == 400
    empty = await fx_client.post(api(fx_shop, f"/contacts/{card['id']}/notes"), json={"body": "  "}, headers=fx_shop.auth)
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "body"


async def test_delete_hides_but_keeps_timeline(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.contacts.tables import Note
    from app.lib.db import tenant_context
    from app.timeline.tables import Interaction

    card = await _create(fx_client, fx_shop, name="Gone")
    note = await fx_client.post(api(fx_shop, f"/contacts/{card['id']}/notes"), json={"body": "Called about the kettle"},
                                headers=fx_shop.auth)
    assert note.status_code == 201, note.text
    before = (await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"), headers=fx_shop.auth)).json()
    assert [i["channel"] for i in before["items"]] == ["note", "system"]  # the note, then "created"
    assert (await fx_client.delete(api(fx_shop, f"/contacts/{card['id']}"), headers=fx_shop.auth)).status_code == 204
    assert (await fx_client.get(api(fx_shop, f"/contacts/{card['id']}"), headers=fx_shop.auth)).status_code == 404
    hidden = await fx_client.get(api(fx_shop, f"/contacts/{card['id']}/timeline"), headers=fx_shop.auth)
    assert hidden.status_code == 404  # hidden from the app ...
    async with tenant_context(fx_shop.tenant):  # ... but every entry and the note itself are still stored
        kept = await Interaction.select(Interaction.id, Interaction.channel).where(Interaction.contact == card["id"])
        notes = await Note.select(Note.body).where(Note.contact == card["id"])
    assert [(r["id"], r["channel"]) for r in kept] == [(i["id"], i["channel"]) for i in before["items"]]
    assert [n["body"] for n in notes] == ["Called about the kettle"]


CONTACT_ROUTES = [
    ("GET", "/contacts/{id}"), ("PATCH", "/contacts/{id}"), ("DELETE", "/contacts/{id}"),
    ("GET", "/contacts/{id}/timeline"), ("POST", "/contacts/{id}/notes"),
]


@pytest.mark.parametrize(("method", "path"), CONTACT_ROUTES)
async def test_other_tenants_ids_and_keys_get_404(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, method: str, path: str
) -> None:
    mine = await _create(fx_client, fx_shop, name="Secret Customer", emails=["secret@a.example"])
    body = {"body": "x"} if method == "POST" else ({"name": "pwned"} if method == "PATCH" else None)
    # B's key on A's URL: the unknown-tenant 404.
    foreign_key = await fx_client.request(method, api(fx_shop, path.format(id=mine["id"])), headers=fx_other_shop.auth,
                                          json=body)
    assert foreign_key.status_code == 404
    # B's own URL and key with A's id: B has no such contact.
    foreign_id = await fx_client.request(method, api(fx_other_shop, path.format(id=mine["id"])),
                                         headers=fx_other_shop.auth, json=body)
    assert foreign_id.status_code == 404 and "secret" not in foreign_id.text.lower()
    listing = await fx_client.get(api(fx_other_shop, "/contacts"), params={"q": "secret"}, headers=fx_other_shop.auth)
    assert listing.json()["items"] == []
    still = await fx_client.get(api(fx_shop, f"/contacts/{mine['id']}"), headers=fx_shop.auth)
    assert still.json()["name"] == "Secret Customer"
