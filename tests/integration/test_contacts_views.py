"""Contact pages as a browser uses them: forms and htmx fragments, with the session and CSRF token."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ShopFixture, browser_login, csrf_from


async def _signed_in(client: Any, shop: ShopFixture) -> dict[str, str]:
    await browser_login(client, shop.slug, shop.email, shop.password)
    token = await csrf_from(client, f"/t/{shop.slug}/contacts/")
    return {"X-CSRF-Token": token, "HX-Request": "true"}


async def test_create_search_edit_and_note_through_pages(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/contacts"
    htmx = await _signed_in(fx_client, fx_shop)
    token = htmx["X-CSRF-Token"]
    resp = await fx_client.post(f"{base}/", data={"name": "Lena Ivanova", "company": "Kettle & Co",
                                                  "phones": "+1 415 555 0142", "emails": "lena@kettle.example",
                                                  "tags": "vip, tea", "temperature": "warm", "_csrf": token})
    assert resp.status_code == 303
    card_url = resp.headers["location"]
    contact_id = int(card_url.rsplit("/", 1)[1])

    rows = await fx_client.get(f"{base}/", params={"q": "555 01"}, headers={**htmx, "HX-Target": "contact-rows"})
    assert rows.status_code == 200 and "Lena Ivanova" in rows.text and "<html" not in rows.text
    nothing = await fx_client.get(f"{base}/", params={"q": "zzzz"}, headers={**htmx, "HX-Target": "contact-rows"})
    assert "No contacts match" in nothing.text

    card = await fx_client.get(card_url, headers={"accept": "text/html"})
    assert card.status_code == 200 and "Lena Ivanova" in card.text and "temp-warm" in card.text

    form = await fx_client.get(f"{card_url}/section/main", params={"edit": "true"}, headers=htmx)
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    saved = await fx_client.post(f"{card_url}/section/main", headers=htmx, data={
        "name": "Lena Petrova", "company": "Kettle & Co", "tags": "vip", "temperature": "hot", "owner_id": "",
        "version": version})
    assert saved.status_code == 200 and "Lena Petrova" in saved.text and "temp-hot" in saved.text
    bad = await fx_client.post(f"{card_url}/section/identities", headers=htmx,
                               data={"phones": "12", "emails": "", "version": str(int(version) + 1)})
    assert bad.status_code == 400 and "not a valid phone number" in bad.text

    note = await fx_client.post(f"{card_url}/notes", headers=htmx, data={"body": "Prefers **green** tea <b>x</b>"})
    assert note.status_code == 200
    assert "<strong>green</strong>" in note.text and "&lt;b&gt;x&lt;/b&gt;" in note.text
    api = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/contacts/{contact_id}/timeline", headers=fx_shop.auth)
    assert api.json()["items"][0]["channel"] == "note"


async def test_custom_section_saves_with_every_multiselect_option_unticked(fx_client: Any,
                                                                           fx_shop: ShopFixture) -> None:
    """A browser sends nothing for a multi-select with no box ticked: that clears the field (it was a 500)."""
    made = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/custom-fields", headers=fx_shop.auth, json={
        "key": "colours", "label": "Colours", "kind": "multiselect", "options": ["red", "green"]})
    assert made.status_code == 201, made.text
    contact = (await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", headers=fx_shop.auth,
                                    json={"name": "Multi", "custom": {"colours": ["red"]}})).json()
    htmx = await _signed_in(fx_client, fx_shop)
    card_url = f"/t/{fx_shop.slug}/contacts/{contact['id']}"
    form = await fx_client.get(f"{card_url}/section/custom", params={"edit": "true"}, headers=htmx)
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    saved = await fx_client.post(f"{card_url}/section/custom", headers=htmx, data={"version": version})
    assert saved.status_code == 200, saved.text
    stored = await fx_client.get(f"/t/{fx_shop.slug}/api/v1/contacts/{contact['id']}", headers=fx_shop.auth)
    assert stored.json()["custom"].get("colours") in (None, [])


async def test_operator_cannot_open_field_settings_and_pages_need_login(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.accounts.tables import User
    from app.lib.db import tenant_context
    from app.lib.security import hash_password

    contact = (await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": "Door Test"},
                                    headers=fx_shop.auth)).json()
    for path in ("/contacts/", f"/contacts/{contact['id']}", "/settings/fields/"):
        anon = await fx_client.get(f"/t/{fx_shop.slug}{path}", headers={"accept": "text/html"},
                                   follow_redirects=False)
        assert anon.status_code == 303 and "/login" in anon.headers["location"], path
        assert "Door Test" not in anon.text

    op_email, op_password = f"op@{fx_shop.slug}.example", "operator-pass-1234"
    async with tenant_context(fx_shop.tenant):
        await User.insert(User(email=op_email, name="Olga Operator", role="operator",
                               password_hash=await hash_password(op_password)))
    signed_in = await browser_login(fx_client, fx_shop.slug, op_email, op_password)
    assert signed_in.status_code in (200, 303), signed_in.text
    mine = await fx_client.get(f"/t/{fx_shop.slug}/contacts/", headers={"accept": "text/html"},
                               follow_redirects=False)
    assert mine.status_code == 200 and "Door Test" in mine.text  # signed in: the refusal below is about the role
    refused = await fx_client.get(f"/t/{fx_shop.slug}/settings/fields/", headers={"accept": "text/html"},
                                  follow_redirects=False)
    assert refused.status_code == 403 and "Custom fields" not in refused.text

    fx_client.cookies.clear()
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/fields/", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Custom fields" in page.text


async def test_card_of_another_tenant_is_404(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    created = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": "Only A"}, headers=fx_shop.auth)
    contact_id = created.json()["id"]
    await browser_login(fx_client, fx_other_shop.slug, fx_other_shop.email, fx_other_shop.password)
    resp = await fx_client.get(f"/t/{fx_other_shop.slug}/contacts/{contact_id}", headers={"accept": "text/html"})
    assert resp.status_code == 404 and "Only A" not in resp.text


async def test_the_new_contact_page_asks_for_the_declared_fields_and_keeps_them_on_an_error(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/contacts"
    htmx = await _signed_in(fx_client, fx_shop)
    page = await fx_client.get(f"{base}/new", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert re.findall(r'name="(\w+)"', page.text.split(f'action="{base}/"', 1)[1].split("</form>", 1)[0]) == [
        "_csrf", "name", "company", "phones", "emails", "tags", "temperature"]
    assert "local numbers use your shop" in page.text and 'value="warm"' in page.text
    bad = await fx_client.post(f"{base}/", data={"name": "", "company": "", "phones": "", "emails": "",
                                                 "tags": "tea", "temperature": "hot", "_csrf": htmx["X-CSRF-Token"]})
    assert bad.status_code == 400 and "needs at least a name, a company, a phone or an email" in bad.text
    assert 'value="tea"' in bad.text and re.search(r'value="hot"\s+selected', bad.text)
