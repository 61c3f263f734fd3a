"""Canned responses and email templates: API CRUD and rendering, tenant isolation, the admin settings page, and
validated request bodies (400 naming the field, documented in OpenAPI)."""

from __future__ import annotations

from typing import Any

from app.accounts.services import _insert_api_key
from app.accounts.tables import User
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _contact(client: Any, shop: ShopFixture, name: str, address: str) -> int:
    resp = await client.post(api(shop, "/contacts"), headers=shop.auth, json={"name": name, "emails": [address]})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _operator_auth(shop: ShopFixture) -> dict[str, str]:
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"op@{shop.slug}.example", name="Olga Operator",
                                      role="operator")).returning(User.id)
        _, key = await _insert_api_key(rows[0]["id"], "operator key")
    return {"Authorization": f"Bearer {key}"}


CANNED = {"kind": "canned", "name": "Thanks", "shortcut": "/Thanks",
          "body": "Thank you, {{ contact.first_name }}! {{ operator.name }} from {{ shop }}."}


async def test_canned_crud_and_render_for_a_contact(fx_client: Any, fx_shop: ShopFixture) -> None:
    created = await fx_client.post(api(fx_shop, "/email-templates"), headers=fx_shop.auth, json=CANNED)
    assert created.status_code == 201, created.text
    tpl = created.json()
    assert tpl["shortcut"] == "thanks" and tpl["kind"] == "canned"
    await fx_client.post(api(fx_shop, "/email-templates"), headers=fx_shop.auth,
                         json={"name": "Invoice", "subject": "Your invoice", "body": "Attached."})
    canned = (await fx_client.get(api(fx_shop, "/email-templates?kind=canned"), headers=fx_shop.auth)).json()
    assert [t["name"] for t in canned] == ["Thanks"]
    contact_id = await _contact(fx_client, fx_shop, "Mira Lindqvist", "mira@customer.example")

    rendered = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=fx_shop.auth,
                                    json={"contact_id": contact_id})
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["body"] == f"Thank you, Mira! Owner from Shop {fx_shop.slug}."
    # An operator uses snippets but does not define them.
    op = await _operator_auth(fx_shop)
    as_op = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=op,
                                 json={"contact_id": contact_id})
    assert as_op.json()["body"].startswith("Thank you, Mira! Olga Operator")
    assert (await fx_client.post(api(fx_shop, "/email-templates"), headers=op, json=CANNED)).status_code == 403
    assert (await fx_client.patch(api(fx_shop, f"/email-templates/{tpl['id']}"), headers=op,
                                  json={"name": "Mine"})).status_code == 403
    assert (await fx_client.delete(api(fx_shop, f"/email-templates/{tpl['id']}"), headers=op)).status_code == 403

    edited = await fx_client.patch(api(fx_shop, f"/email-templates/{tpl['id']}"), headers=fx_shop.auth,
                                   json={"body": "Cheers, {{ contact.name }}.", "shortcut": "cheers"})
    assert edited.status_code == 200, edited.text
    assert edited.json() | {"id": 0} == {"id": 0, "kind": "canned", "name": "Thanks", "shortcut": "cheers",
                                         "subject": "", "body": "Cheers, {{ contact.name }}."}
    again = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=fx_shop.auth,
                                 json={"contact_id": contact_id})
    assert again.json()["body"] == "Cheers, Mira Lindqvist."
    no_contact = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=fx_shop.auth,
                                      json={})
    assert no_contact.json()["body"] == "Cheers, ."
    missing_contact = await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"),
                                           headers=fx_shop.auth, json={"contact_id": 999999})
    assert missing_contact.status_code == 404

    gone = await fx_client.delete(api(fx_shop, f"/email-templates/{tpl['id']}"), headers=fx_shop.auth)
    assert gone.status_code == 204
    assert (await fx_client.get(api(fx_shop, f"/email-templates/{tpl['id']}"), headers=fx_shop.auth)).status_code == 404
    assert (await fx_client.post(api(fx_shop, f"/email-templates/{tpl['id']}/render"), headers=fx_shop.auth,
                                 json={"contact_id": contact_id})).status_code == 404
    assert (await fx_client.get(api(fx_shop, "/email-templates?kind=canned"), headers=fx_shop.auth)).json() == []


async def test_bad_templates_get_a_400_or_409_naming_the_field(fx_client: Any, fx_shop: ShopFixture) -> None:
    url = api(fx_shop, "/email-templates")

    async def field_of(resp: Any, status: int = 400) -> str:
        assert resp.status_code == status, resp.text
        return str(resp.json()["errors"][0]["field"])

    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "shortcut": "no spaces"})) \
        == "shortcut"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "kind": "sms"})) == "kind"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={"body": "x"})) == "name"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "name": 5})) == "name"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "body": "{% if %}"})) \
        == "body"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "body": "   "})) == "body"
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "colour": "red"})) \
        == "colour"
    first = (await fx_client.post(url, headers=fx_shop.auth, json=CANNED)).json()
    assert await field_of(await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "name": "Dup"}), 409) \
        == "shortcut"
    other = (await fx_client.post(url, headers=fx_shop.auth, json={**CANNED, "shortcut": "bye"})).json()
    assert await field_of(await fx_client.patch(f"{url}/{other['id']}", headers=fx_shop.auth,
                                                json={"shortcut": "thanks"}), 409) == "shortcut"
    # Saving a snippet with its own shortcut is not a clash.
    assert (await fx_client.patch(f"{url}/{first['id']}", headers=fx_shop.auth,
                                  json={"shortcut": "thanks", "name": "Thanks!"})).status_code == 200
    assert await field_of(await fx_client.post(f"{url}/{first['id']}/render", headers=fx_shop.auth,
                                               json={"contact_id": "abc"})) == "contact_id"
    assert (await fx_client.get(f"{url}?kind=bogus", headers=fx_shop.auth)).status_code == 400
    assert (await fx_client.patch(f"{url}/999999", headers=fx_shop.auth, json={"name": "x"})).status_code == 404


async def test_another_tenant_cannot_read_render_edit_or_delete_a_snippet(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    tpl = (await fx_client.post(api(fx_shop, "/email-templates"), headers=fx_shop.auth, json=CANNED)).json()
    contact_id = await _contact(fx_client, fx_shop, "Mira Lindqvist", "mira@customer.example")
    tid = tpl["id"]
    b = fx_other_shop
    # Tenant B, on its own workspace, asking for tenant A's snippet by id: it does not exist there.
    assert (await fx_client.get(api(b, f"/email-templates/{tid}"), headers=b.auth)).status_code == 404
    assert (await fx_client.post(api(b, f"/email-templates/{tid}/render"), headers=b.auth,
                                 json={"contact_id": contact_id})).status_code == 404
    assert (await fx_client.patch(api(b, f"/email-templates/{tid}"), headers=b.auth,
                                  json={"body": "pwned"})).status_code == 404
    assert (await fx_client.delete(api(b, f"/email-templates/{tid}"), headers=b.auth)).status_code == 404
    assert (await fx_client.get(api(b, "/email-templates"), headers=b.auth)).json() == []
    # Tenant B's key on tenant A's workspace is refused outright.
    for resp in (await fx_client.get(api(fx_shop, f"/email-templates/{tid}"), headers=b.auth),
                 await fx_client.post(api(fx_shop, f"/email-templates/{tid}/render"), headers=b.auth,
                                      json={"contact_id": contact_id}),
                 await fx_client.patch(api(fx_shop, f"/email-templates/{tid}"), headers=b.auth,
                                       json={"body": "pwned"})):
        assert resp.status_code in (401, 403, 404), resp.text
    mine = (await fx_client.get(api(fx_shop, f"/email-templates/{tid}"), headers=fx_shop.auth)).json()
    assert mine["body"] == CANNED["body"]


async def test_admin_manages_snippets_on_the_settings_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    home = await fx_client.get(f"/t/{fx_shop.slug}/", headers={"accept": "text/html"}, follow_redirects=True)
    assert f'href="/t/{fx_shop.slug}/settings/templates/"' in home.text  # reachable from the settings navigation
    base = f"/t/{fx_shop.slug}/settings/templates/"
    token = await csrf_from(fx_client, base)
    html = {"accept": "text/html"}
    made = await fx_client.post(base, headers=html, data={"_csrf": token, "kind": "canned", "name": "Delay",
                                                         "shortcut": "delay", "body": "Sorry {{ contact.name }}!"})
    assert made.status_code == 200 and "Saved" in made.text and "/delay" in made.text
    bad = await fx_client.post(base, headers=html, data={"_csrf": token, "kind": "canned", "name": "Other",
                                                        "shortcut": "delay", "body": "Again"})
    assert bad.status_code == 409 and "shortcut" in bad.text and 'value="Other"' in bad.text  # input kept
    [row] = (await fx_client.get(api(fx_shop, "/email-templates"), headers=fx_shop.auth)).json()
    edit_page = await fx_client.get(f"{base}?edit={row['id']}", headers=html)
    assert "Sorry {{ contact.name }}!" in edit_page.text and f"/settings/templates/{row['id']}" in edit_page.text
    edited = await fx_client.post(f"{base}{row['id']}", headers=html, data={
        "_csrf": token, "kind": "canned", "name": "Delay", "shortcut": "late", "body": "We are late, sorry."})
    assert edited.status_code == 200 and "/late" in edited.text
    assert (await fx_client.get(api(fx_shop, f"/email-templates/{row['id']}"), headers=fx_shop.auth)).json()[
        "body"] == "We are late, sorry."
    deleted = await fx_client.post(f"{base}{row['id']}/delete", headers=html, data={"_csrf": token})
    assert deleted.status_code == 200 and "Deleted" in deleted.text
    assert (await fx_client.get(api(fx_shop, "/email-templates"), headers=fx_shop.auth)).json() == []


async def test_operator_cannot_open_the_templates_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.accounts.services import create_session

    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email=f"op@{fx_shop.slug}.example", name="Op", role="operator")).returning(
            User.id)
        token, _ = await create_session(rows[0]["id"])
    fx_client.cookies.set("sb_session", token)
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/templates/", headers={"accept": "text/html"})
    assert page.status_code == 403


async def test_email_bodies_are_validated_at_the_edge_and_documented(fx_client: Any, fx_shop: ShopFixture) -> None:
    contact_id = await _contact(fx_client, fx_shop, "Eve", "eve@customer.example")
    send = api(fx_shop, f"/contacts/{contact_id}/emails")
    for body, field in (({"subject": "Hi", "body": "x", "attachments": [{"filename": "a.txt"}]}, "attachments[0]"),
                        ({"subject": "Hi", "body": "x", "reply_to": "yesterday"}, "reply_to"),
                        ({"subject": ["Hi"], "body": "x"}, "subject"),
                        ({"subject": "Hi", "body": "x", "cc": "boss@example.com"}, "cc")):
        resp = await fx_client.post(send, headers=fx_shop.auth, json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["errors"][0]["field"].startswith(field), resp.json()
    cfg = await fx_client.put(api(fx_shop, "/channels/email"), headers=fx_shop.auth, json={
        "smtp_host": "127.0.0.1", "smtp_port": "lots", "from_address": "hello@teashop.example"})
    assert cfg.status_code == 400 and cfg.json()["errors"][0]["field"] == "smtp_port"
    missing = await fx_client.put(api(fx_shop, "/channels/email"), headers=fx_shop.auth, json={"smtp_port": 25})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] in ("smtp_host", "from_address")
    test = await fx_client.post(api(fx_shop, "/channels/email/test"), headers=fx_shop.auth, json={"to": 7})
    assert test.status_code == 400 and test.json()["errors"][0]["field"] == "to"

    schema = (await fx_client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert {"EmailIn", "TemplateIn", "TemplatePatch", "RenderIn", "EmailConfigIn"} <= set(components)
    assert set(components["EmailIn"]["properties"]) >= {"subject", "body", "reply_to", "attachments"}
    assert components["TemplateIn"]["properties"]["kind"].get("enum") == ["email", "canned"] or \
        "canned" in str(components["TemplateIn"]["properties"]["kind"])
