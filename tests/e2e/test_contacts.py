"""The client card in a browser: find a contact by part of a phone number, open the card, add a note and see it
on the timeline without a reload; another user's open card shows it too."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in


async def test_search_partial_phone_open_card_add_note(fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "cards")
    async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
        for name, phone in (("Nadia Novak", "+1 415 555 0177"), ("Boris Brandt", "+1 212 555 0133")):
            resp = await client.post(f"/t/{shop.slug}/api/v1/contacts", headers=shop.auth,
                                     json={"name": name, "phones": [phone], "temperature": "hot"})
            assert resp.status_code == 201, resp.text
        contact_id = [c["id"] for c in (await client.get(f"/t/{shop.slug}/api/v1/contacts?q=Nadia",
                                                         headers=shop.auth)).json()["items"]][0]

    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/contacts/")
    await expect(page.get_by_test_id("contact-row")).to_have_count(2)
    await page.get_by_test_id("search").fill("555-01 77")  # part of the number, written another way
    await expect(page.get_by_test_id("contact-row")).to_have_count(1)
    await expect(page.get_by_test_id("contact-row")).to_contain_text("Nadia Novak")
    await expect(page.get_by_test_id("contact-row").get_by_test_id("temperature")).to_have_class("temp temp-hot")

    # Someone else has the same card open.
    other = await (await fx_new_context()).new_page()
    await sign_in(other, shop.slug, shop.email, shop.password)
    await other.goto(f"/t/{shop.slug}/contacts/{contact_id}")
    await expect(other.get_by_test_id("contact-name")).to_have_text("Nadia Novak")

    await page.get_by_role("link", name="Nadia Novak").click()
    await expect(page.get_by_test_id("contact-name")).to_have_text("Nadia Novak")
    await asyncio.sleep(0.3)  # both sockets are watching the card
    url_before = page.url
    await page.get_by_test_id("note-body").fill("Prefers **morning** calls")
    await page.get_by_test_id("add-note").click()
    first = page.get_by_test_id("timeline-item").first
    await expect(first).to_contain_text("Prefers morning calls")
    await expect(first.locator("strong")).to_have_text("morning")
    assert page.url == url_before  # no navigation happened
    await expect(other.get_by_test_id("timeline-item").first).to_contain_text("Prefers morning calls")

    # Inline edit, and the other open card follows.
    await page.get_by_test_id("edit-main").click()
    section = page.get_by_test_id("section-main")
    await section.get_by_label("Name", exact=True).fill("Nadia Novak-Ross")
    await section.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("contact-name")).to_have_text("Nadia Novak-Ross")
    await expect(other.get_by_test_id("contact-name")).to_have_text("Nadia Novak-Ross")


async def test_live_update_during_a_click_on_edit_does_not_swallow_the_edit_form(
        fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    """The race of a live card: Edit is clicked, and before its form arrives a note by someone else re-renders the
    card. The edit form must still open (it used to land in the section the live update had just replaced)."""
    shop = await live_signup(fx_live_server, "race")
    async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
        created = await client.post(f"/t/{shop.slug}/api/v1/contacts", headers=shop.auth, json={"name": "Rita Race"})
        contact_id = created.json()["id"]
        page = await (await fx_new_context()).new_page()
        await sign_in(page, shop.slug, shop.email, shop.password)
        await page.goto(f"/t/{shop.slug}/contacts/{contact_id}")
        await expect(page.get_by_test_id("contact-name")).to_have_text("Rita Race")
        await asyncio.sleep(0.3)  # the socket is watching the card

        held = asyncio.get_running_loop().create_future()

        async def hold_edit_form(route: Any) -> None:
            held.set_result(None)
            await note_pushed.wait()
            await route.continue_()

        note_pushed = asyncio.Event()
        await page.route("**/section/main?edit=true", hold_edit_form)
        await page.get_by_test_id("edit-main").click()
        await held  # the edit form is on its way; now someone adds a note and the card re-renders live
        resp = await client.post(f"/t/{shop.slug}/api/v1/contacts/{contact_id}/notes", headers=shop.auth,
                                 json={"body": "Called while you were editing"})
        assert resp.status_code == 201, resp.text
        await expect(page.get_by_test_id("timeline-item").first).to_contain_text("Called while you were editing")
        note_pushed.set()
        section = page.get_by_test_id("section-main")
        await section.get_by_label("Name", exact=True).fill("Rita Race-Winner")
        await section.get_by_role("button", name="Save").click()
        await expect(page.get_by_test_id("contact-name")).to_have_text("Rita Race-Winner")
