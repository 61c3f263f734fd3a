"""Consent and privacy on the card in Chromium: an operator-style opt-out with evidence lands in the ledger, an
export is requested from the panel, a legal hold blocks the erasure, and once lifted the card becomes a tombstone."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_console import _api


async def test_consent_and_erasure_from_the_card(fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "privacy")
    contact = await _api(fx_live_server.url, shop, "POST", "/contacts",
                         {"name": "Petra Private", "phones": ["+14155550199"]})
    page: Any = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/contacts/{contact['id']}")

    consent = page.get_by_test_id("card-consent")
    await expect(consent.get_by_test_id("consent-empty")).to_be_visible()
    await consent.get_by_test_id("consent-new").locator("summary").click()
    await consent.get_by_test_id("consent-channel").select_option("sms")
    await consent.get_by_test_id("consent-evidence").fill("Asked on the phone: no more offers")
    await consent.get_by_test_id("consent-record").click()
    entry = page.get_by_test_id("card-consent").get_by_test_id("consent-entry")
    await expect(entry).to_have_count(1)
    await expect(entry).to_have_attribute("data-status", "opt_out")
    await expect(entry).to_contain_text("Asked on the phone: no more offers")

    privacy = page.get_by_test_id("card-privacy")
    await privacy.get_by_test_id("privacy-export").click()
    await expect(page.get_by_test_id("card-privacy").get_by_test_id("privacy-request")).to_have_count(1)

    privacy = page.get_by_test_id("card-privacy")
    await privacy.get_by_test_id("privacy-hold").locator("summary").click()
    await privacy.get_by_test_id("privacy-hold-reason").fill("Chargeback dispute")
    await privacy.get_by_test_id("privacy-hold-submit").click()
    await expect(page.get_by_test_id("legal-hold")).to_contain_text("Chargeback dispute")
    await expect(page.get_by_test_id("privacy-erase-submit")).to_be_disabled()

    privacy = page.get_by_test_id("card-privacy")
    await privacy.get_by_test_id("privacy-hold").locator("summary").click()
    await privacy.get_by_test_id("privacy-hold-reason").fill("Dispute settled")
    await privacy.get_by_test_id("privacy-hold-submit").click()
    await expect(page.get_by_test_id("legal-hold")).to_have_count(0)

    privacy = page.get_by_test_id("card-privacy")
    await privacy.get_by_test_id("privacy-erase").locator("summary").click()
    await privacy.get_by_test_id("privacy-erase-confirm").fill(str(contact["id"]))
    await privacy.get_by_test_id("privacy-erase-submit").click()
    await expect(page.get_by_test_id("card-privacy").locator('[data-testid="privacy-request"][data-status="done"]')
                 ).to_have_count(1)
    await page.reload()
    await expect(page.locator("body")).to_contain_text(f"Erased contact #{contact['id']}")
    await expect(page.locator("body")).not_to_contain_text("Petra Private")
