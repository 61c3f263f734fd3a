"""Campaign pages for a supervisor: the list, the editor (create, a refused template shown back, preview, send),
the started campaign's page with its recipients; an operator is refused."""

from __future__ import annotations

from typing import Any

from tests.conftest import CSRF_RE, ShopFixture, browser_login
from tests.integration.campaign_kit import contact, recipients, segment


async def test_editor_create_preview_send_and_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    a = await contact(fx_client, fx_shop, "Ann Lee", "+14155550901")
    seg = await segment(fx_shop, [a], "Regulars")
    base = f"/t/{fx_shop.slug}/campaigns"
    index = await fx_client.get(base + "/")
    assert index.status_code == 200 and "No campaigns yet." in index.text
    new = await fx_client.get(base + "/new")
    assert new.status_code == 200 and "contact.first_name" in new.text and "Regulars" in new.text
    token = CSRF_RE.search(new.text).group(1)  # type: ignore[union-attr]
    form = {"_csrf": token, "name": "Spring", "channel": "sms", "purpose": "marketing", "segment_id": str(seg),
            "v_A_weight": "1", "v_A_body_": "Hi {{ contact.first_name ", "holdout_percent": "0"}
    bad = await fx_client.post(base + "/", data=form)
    assert bad.status_code == 400 and "line 1" in bad.text and "Spring" in bad.text
    form["v_A_body_"] = "Hi {{ contact.first_name }}"
    form["v_A_body_ru"] = "Привет, {{ contact.first_name }}"
    made = await fx_client.post(base + "/", data=form)
    assert made.status_code == 303
    page_url = made.headers["location"]
    editor = await fx_client.get(page_url)
    assert editor.status_code == 200 and "Привет, {{ contact.first_name }}" in editor.text
    preview = await fx_client.post(page_url + "/preview", data={**form, "preview_contact_id": str(a)})
    assert preview.status_code == 200 and "Hi Ann" in preview.text
    sent = await fx_client.post(page_url, data={**form, "action": "send"})
    assert sent.status_code == 303
    page = await fx_client.get(page_url)
    assert page.status_code == 200 and 'data-testid="campaign-progress"' in page.text
    assert "Ann Lee" in page.text and 'data-status="queued"' in page.text
    assert [r["status"] for r in await recipients(fx_client, fx_shop, int(page_url.rsplit("/", 1)[1]))] == ["queued"]
    listed = await fx_client.get(base + "/")
    assert "Spring" in listed.text and "Sending" in listed.text
