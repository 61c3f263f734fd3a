"""Duplicates and merge: suggestions with reasons, tenant-wide pairs, a merge that loses nothing, refusals."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from app.accounts.tables import User
from app.audit.tables import AuditEntry
from app.contacts import duplicates, merge
from app.lib.db import tenant_context
from app.lib.domain import MergeStep
from tests.conftest import ShopFixture, browser_login, csrf_from


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _create(client: Any, shop: ShopFixture, **body: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/contacts"), json=body, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _user_key(shop: ShopFixture, role: str) -> dict[str, str]:
    from app.accounts import services as accounts

    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}.{secrets.token_hex(3)}@x.example", name=role.title(), role=role,
                                      password_hash="not-used")).returning(User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    return {"Authorization": f"Bearer {key}"}


async def _timeline_ids(client: Any, shop: ShopFixture, contact_id: int) -> set[int]:
    resp = await client.get(api(shop, f"/contacts/{contact_id}/timeline"), params={"limit": 200}, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return {i["id"] for i in resp.json()["items"]}


async def _merge(client: Any, shop: ShopFixture, survivor: int, other: int, headers: dict[str, str] | None = None
                 ) -> Any:
    return await client.post(api(shop, f"/contacts/{survivor}/merge"), json={"other_id": other},
                             headers=headers or shop.auth)


async def test_merge_keeps_everything_from_both_sides(fx_client: Any, fx_shop: ShopFixture) -> None:
    for body in ({"key": "size", "label": "Size", "kind": "select", "options": ["S", "M", "L"]},
                 {"key": "city", "label": "City", "kind": "text"}):
        resp = await fx_client.post(api(fx_shop, "/custom-fields"), json=body, headers=fx_shop.auth)
        assert resp.status_code == 201, resp.text
    a = await _create(fx_client, fx_shop, name="Ivan Petrov", phones=["+1 415 555 0100"], emails=["ivan@a.example"],
                      tags=["vip"], temperature="hot", custom={"size": "M"})
    b = await _create(fx_client, fx_shop, name="Ivan Petrov Jr", company="Acme", phones=["(415) 555-0100",
                      "+1 415 555 0101"], emails=["ivan@b.example", "IVAN@a.example"], tags=["wholesale", "vip"],
                      temperature="cold", address="1 Main St", custom={"size": "L", "city": "Boston"})
    for cid, body in ((a["id"], "note on A"), (b["id"], "first note on B"), (b["id"], "second note on B")):
        resp = await fx_client.post(api(fx_shop, f"/contacts/{cid}/notes"), json={"body": body}, headers=fx_shop.auth)
        assert resp.status_code == 201
    file_a = (await fx_client.post(api(fx_shop, f"/contacts/{a['id']}/files"), files={"file": ("a.txt", b"A's")},
                                   headers=fx_shop.auth)).json()
    file_b = (await fx_client.post(api(fx_shop, f"/contacts/{b['id']}/files"), files={"file": ("b.txt", b"B's")},
                                   headers=fx_shop.auth)).json()
    before = await _timeline_ids(fx_client, fx_shop, a["id"]) | await _timeline_ids(fx_client, fx_shop, b["id"])

    resp = await _merge(fx_client, fx_shop, a["id"], b["id"])
    assert resp.status_code == 200, resp.text
    out = resp.json()
    card = out["contact"]
    assert card["id"] == a["id"] and card["name"] == "Ivan Petrov" and card["temperature"] == "hot"
    assert card["phones"] == ["+14155550100", "+14155550101"]
    assert card["emails"] == ["ivan@a.example", "ivan@b.example"]
    assert card["tags"] == ["vip", "wholesale"]
    assert card["company"] == "Acme" and card["address"] == "1 Main St"
    assert card["custom"] == {"size": "M", "city": "Boston"}
    assert out["conflicts"] == {"name": "Ivan Petrov Jr", "temperature": "cold", "custom.size": "L"}
    assert set(out["filled"]) == {"company", "address", "tags", "custom.city"}
    assert out["moved"]["notes"] == 2 and out["moved"]["files"] == 1 and out["moved"]["phones"] == 1

    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{a['id']}/timeline"), params={"limit": 200},
                                    headers=fx_shop.auth)).json()["items"]
    assert before < {i["id"] for i in timeline}  # every entry of both, plus the merge entry
    entry = timeline[0]
    assert entry["channel"] == "system" and entry["summary"] == f"Merged #{b['id']} Ivan Petrov Jr into this contact"
    assert entry["payload"]["conflicts"]["custom.size"] == "L" and entry["payload"]["other"]["temperature"] == "cold"
    assert entry["payload"]["other"]["phones"] == ["+14155550100", "+14155550101"]
    notes = [i["payload"]["body"] for i in timeline if i["channel"] == "note"]
    assert sorted(notes) == ["first note on B", "note on A", "second note on B"]

    files = (await fx_client.get(api(fx_shop, f"/contacts/{a['id']}/files"), headers=fx_shop.auth)).json()
    assert {f["id"] for f in files} == {file_a["id"], file_b["id"]}
    moved_file = await fx_client.get(api(fx_shop, f"/contacts/{a['id']}/files/{file_b['id']}"), headers=fx_shop.auth)
    assert moved_file.content == b"B's"

    gone = await fx_client.get(api(fx_shop, f"/contacts/{b['id']}"), headers=fx_shop.auth)
    assert gone.status_code == 404 and gone.json()["merged_into"] == a["id"]
    assert (await fx_client.get(api(fx_shop, f"/contacts/{b['id']}/timeline"), headers=fx_shop.auth)).status_code == 404
    found = await fx_client.get(api(fx_shop, "/contacts"), params={"q": "+1 415 555 0101"}, headers=fx_shop.auth)
    assert [c["id"] for c in found.json()["items"]] == [a["id"]]
    found = await fx_client.get(api(fx_shop, "/contacts"), params={"q": "acme"}, headers=fx_shop.auth)
    assert [c["id"] for c in found.json()["items"]] == [a["id"]]
    async with tenant_context(fx_shop.tenant):
        assert await AuditEntry.exists().where((AuditEntry.action == "contact.merged")
                                               & (AuditEntry.target_id == str(a["id"])))


async def test_merge_refusals_say_why(fx_client: Any, fx_shop: ShopFixture) -> None:
    a = await _create(fx_client, fx_shop, name="Survivor")
    b = await _create(fx_client, fx_shop, name="Other")
    c = await _create(fx_client, fx_shop, name="Deleted")
    itself = await _merge(fx_client, fx_shop, a["id"], a["id"])
    assert itself.status_code == 400 and "into itself" in itself.json()["detail"]
    assert itself.json()["errors"][0]["field"] == "other_id"
    assert (await _merge(fx_client, fx_shop, a["id"], 987654)).status_code == 404
    assert (await _merge(fx_client, fx_shop, 987654, a["id"])).status_code == 404
    operator = await _user_key(fx_shop, "operator")
    denied = await _merge(fx_client, fx_shop, a["id"], b["id"], operator)
    assert denied.status_code == 403
    await fx_client.delete(api(fx_shop, f"/contacts/{c['id']}"), headers=fx_shop.auth)
    deleted = await _merge(fx_client, fx_shop, a["id"], c["id"])
    assert deleted.status_code == 409 and "deleted" in deleted.json()["detail"]
    assert (await _merge(fx_client, fx_shop, a["id"], b["id"])).status_code == 200
    again = await _merge(fx_client, fx_shop, a["id"], b["id"])
    assert again.status_code == 409 and again.json()["merged_into"] == a["id"]
    backwards = await _merge(fx_client, fx_shop, b["id"], a["id"])
    assert backwards.status_code == 409 and f"merged into contact {a['id']}" in backwards.json()["detail"]
    bad_body = await fx_client.post(api(fx_shop, f"/contacts/{a['id']}/merge"), json={"other": 1},
                                    headers=fx_shop.auth)
    assert bad_body.status_code == 400


async def test_merging_a_merged_chain_points_old_ids_at_the_final_survivor(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    a, b, c = [await _create(fx_client, fx_shop, name=n) for n in ("A", "B", "C")]
    assert (await _merge(fx_client, fx_shop, b["id"], c["id"])).status_code == 200
    assert (await _merge(fx_client, fx_shop, a["id"], b["id"])).status_code == 200
    for old in (b, c):
        gone = await fx_client.get(api(fx_shop, f"/contacts/{old['id']}"), headers=fx_shop.auth)
        assert gone.status_code == 404 and gone.json()["merged_into"] == a["id"]


async def test_opposite_merges_at_once_one_wins_no_deadlock(fx_client: Any, fx_shop: ShopFixture) -> None:
    a = await _create(fx_client, fx_shop, name="Left", phones=["+1 415 555 0110"])
    b = await _create(fx_client, fx_shop, name="Right", phones=["+1 415 555 0111"])
    results = await asyncio.wait_for(asyncio.gather(_merge(fx_client, fx_shop, a["id"], b["id"]),
                                                    _merge(fx_client, fx_shop, b["id"], a["id"])), timeout=20)
    assert sorted(r.status_code for r in results) == [200, 409]
    winner = next(r.json()["contact"] for r in results if r.status_code == 200)
    assert sorted(winner["phones"]) == ["+14155550110", "+14155550111"]
    loser = b["id"] if winner["id"] == a["id"] else a["id"]
    gone = await fx_client.get(api(fx_shop, f"/contacts/{loser}"), headers=fx_shop.auth)
    assert gone.status_code == 404 and gone.json()["merged_into"] == winner["id"]


async def test_registered_steps_run_on_every_merge(fx_client: Any, fx_shop: ShopFixture) -> None:
    calls: list[tuple[int, int]] = []

    async def move_widgets(source: int, target: int) -> int:
        calls.append((source, target))
        return 7

    merge.register(MergeStep("test_widgets", move_widgets))
    try:
        a = await _create(fx_client, fx_shop, name="Keeper")
        b = await _create(fx_client, fx_shop, name="Goner")
        resp = await _merge(fx_client, fx_shop, a["id"], b["id"])
        assert resp.status_code == 200 and resp.json()["moved"]["test_widgets"] == 7
        assert calls == [(b["id"], a["id"])]
    finally:
        merge.unregister("test_widgets")
    assert {"phones", "emails", "notes", "files", "timeline"} <= set(merge.registered())


async def test_every_table_linking_to_contacts_has_a_merge_step(fx_shop: ShopFixture) -> None:
    """A ratchet: a new table with a foreign key to `contact` must register a merge step (app.contacts.merge),
    or a merge would strand its rows on the merged-away contact. Listed: domains that still owe theirs."""
    import app.asgi  # noqa: F401  (every domain registers its steps when its modules load)

    owed: set[str] = set()  # orders and deals register theirs (app.orders.services, app.deals.services)
    async with tenant_context(fx_shop.tenant):
        assert set(await merge.uncovered_links()) <= owed


# -- duplicate suggestions -------------------------------------------------------------------------------------

async def test_duplicates_of_a_contact_with_reasons(fx_client: Any, fx_shop: ShopFixture) -> None:
    me = await _create(fx_client, fx_shop, name="Margaret Hamilton", phones=["+1 415 555 0120"],
                       emails=["margaret@apollo.example"])
    same_phone = await _create(fx_client, fx_shop, name="M. H.", phones=["(415) 555-0120"])
    same_email = await _create(fx_client, fx_shop, name="Maggie", emails=["Margaret@Apollo.example"])
    both = await _create(fx_client, fx_shop, name="Margaret Hamilton", phones=["415.555.0120"],
                         emails=["margaret@apollo.example"])
    similar = await _create(fx_client, fx_shop, name="Margaret Hamiltone")
    stranger = await _create(fx_client, fx_shop, name="Grace Hopper", phones=["+1 415 555 0199"])
    gone = await _create(fx_client, fx_shop, name="Deleted Twin", phones=["+1 415 555 0120"])
    await fx_client.delete(api(fx_shop, f"/contacts/{gone['id']}"), headers=fx_shop.auth)

    resp = await fx_client.get(api(fx_shop, f"/contacts/{me['id']}/duplicates"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    found = {d["contact"]["id"]: d for d in resp.json()}
    assert list(found)[0] == both["id"]  # most reasons first
    assert found[both["id"]]["reasons"] == ["email:margaret@apollo.example", "name", "phone:+14155550120"]
    assert found[same_phone["id"]]["reasons"] == ["phone:+14155550120"]
    assert found[same_email["id"]]["reasons"] == ["email:margaret@apollo.example"]
    async with tenant_context(fx_shop.tenant):
        from app.lib.db import current_uow

        trgm = await duplicates.has_trgm(current_uow().connection)
    if trgm:
        assert found[similar["id"]]["reasons"] == ["name"] and 0.5 < found[similar["id"]]["score"] < 1
    assert stranger["id"] not in found and gone["id"] not in found and me["id"] not in found


async def test_without_pg_trgm_names_must_be_equal(fx_client: Any, fx_shop: ShopFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_trgm(conn: Any) -> bool:
        return False

    monkeypatch.setattr(duplicates, "has_trgm", no_trgm)
    me = await _create(fx_client, fx_shop, name="Ada  Lovelace")
    twin = await _create(fx_client, fx_shop, name="ada lovelace")
    near = await _create(fx_client, fx_shop, name="Ada Lovelac")
    resp = await fx_client.get(api(fx_shop, f"/contacts/{me['id']}/duplicates"), headers=fx_shop.auth)
    found = {d["contact"]["id"]: d for d in resp.json()}
    assert twin["id"] in found and found[twin["id"]]["reasons"] == ["name"] and near["id"] not in found


async def test_tenant_wide_pairs_for_the_admin_review(fx_client: Any, fx_shop: ShopFixture) -> None:
    a = await _create(fx_client, fx_shop, name="One", phones=["+1 415 555 0130"], emails=["one@x.example"])
    b = await _create(fx_client, fx_shop, name="Two", phones=["+1 415 555 0130"], emails=["one@x.example"])
    c = await _create(fx_client, fx_shop, name="Three", emails=["one@x.example"])
    await _create(fx_client, fx_shop, name="Alone", phones=["+1 415 555 0131"])
    resp = await fx_client.get(api(fx_shop, "/duplicates"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    pairs = {(p["contact_id"], p["other_id"]): p["reasons"] for p in resp.json()}
    assert pairs == {
        (a["id"], b["id"]): ["email:one@x.example", "phone:+14155550130"],
        (a["id"], c["id"]): ["email:one@x.example"],
        (b["id"], c["id"]): ["email:one@x.example"],
    }
    assert next(iter(pairs)) == (a["id"], b["id"])
    operator = await _user_key(fx_shop, "operator")
    assert (await fx_client.get(api(fx_shop, "/duplicates"), headers=operator)).status_code == 403
    mine = await fx_client.get(api(fx_shop, f"/contacts/{a['id']}/duplicates"), headers=operator)
    assert mine.status_code == 200 and len(mine.json()) == 2


async def test_card_fragments_suggest_and_merge_with_session(fx_client: Any, fx_shop: ShopFixture) -> None:
    a = await _create(fx_client, fx_shop, name="Card Keeper", phones=["+1 415 555 0140"])
    b = await _create(fx_client, fx_shop, name="Card Twin", phones=["+1 415 555 0140"])
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/contacts/")
    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    frag = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{a['id']}/duplicates", headers=htmx)
    assert frag.status_code == 200 and "Card Twin" in frag.text and 'data-testid="merge"' in frag.text
    review = await fx_client.get(f"/t/{fx_shop.slug}/duplicates", headers={"accept": "text/html"})
    assert review.status_code == 200 and "Card Keeper" in review.text and "Card Twin" in review.text
    itself = await fx_client.post(f"/t/{fx_shop.slug}/contacts/{a['id']}/merge", data={"other_id": str(a["id"])},
                                  headers=htmx)
    assert itself.status_code == 400 and "into itself" in itself.text
    merged = await fx_client.post(f"/t/{fx_shop.slug}/contacts/{a['id']}/merge", data={"other_id": str(b["id"])},
                                  headers=htmx)
    assert merged.status_code == 200 and merged.headers["hx-redirect"] == f"/t/{fx_shop.slug}/contacts/{a['id']}"
    plain = await fx_client.post(f"/t/{fx_shop.slug}/contacts/{a['id']}/merge",
                                 data={"other_id": str(b["id"]), "_csrf": token, "back": "review"},
                                 headers={"accept": "text/html"})
    assert plain.status_code == 409 and "already merged" in plain.text


MERGE_ROUTES = [
    ("GET", "/api/v1/contacts/{a}/duplicates"),
    ("POST", "/api/v1/contacts/{a}/merge"),
    ("GET", "/contacts/{a}/duplicates"),
    ("POST", "/contacts/{a}/merge"),
]


@pytest.mark.parametrize(("method", "path"), MERGE_ROUTES)
async def test_merge_routes_with_another_tenants_ids_and_keys_are_404(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, method: str, path: str
) -> None:
    a = await _create(fx_client, fx_shop, name="Secret A", phones=["+1 415 555 0150"])
    b = await _create(fx_client, fx_shop, name="Secret B", phones=["+1 415 555 0150"])
    rel = path.format(a=a["id"])
    kwargs: dict[str, Any] = {}
    if method == "POST":
        kwargs = {"json": {"other_id": b["id"]}} if "/api/" in path else {"data": {"other_id": str(b["id"])}}
    foreign_key = await fx_client.request(method, f"/t/{fx_shop.slug}{rel}", headers=fx_other_shop.auth, **kwargs)
    assert foreign_key.status_code == 404
    foreign_id = await fx_client.request(method, f"/t/{fx_other_shop.slug}{rel}", headers=fx_other_shop.auth,
                                         **kwargs)
    assert foreign_id.status_code == 404 and "secret" not in foreign_id.text.lower()
    assert (await fx_client.get(api(fx_other_shop, "/duplicates"), headers=fx_other_shop.auth)).json() == []
    still = await fx_client.get(api(fx_shop, f"/contacts/{b['id']}"), headers=fx_shop.auth)
    assert still.status_code == 200
