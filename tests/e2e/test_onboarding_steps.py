"""Onboarding that finishes the job, in Chromium: a new shop walks every step (profile, phone, email, web chat,
queues, team), skips email, sees it left on the home page's checklist, resumes it from there, and the checklist is
gone once everything is done."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, Mailbox, NewContext, live_signup, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_a_new_shop_completes_every_step_skipping_email_and_resuming_it(
    fx_new_context: NewContext, fx_live_server: LiveServer, fx_smtp: Mailbox
) -> None:
    shop = await live_signup(fx_live_server, "steps", shop_name="Steps Shop")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.wait_for_url(re.compile(rf"/t/{shop.slug}/onboarding$"))

    def at(step: str) -> re.Pattern[str]:
        return re.compile(rf"/t/{shop.slug}/onboarding\?step={step}$")

    # -- profile: language, time zone, currency, country ---------------------------------------------------------
    await page.get_by_label("Time zone").fill("Europe/Sofia")
    await page.get_by_label("Currency").fill("EUR")
    await page.get_by_label("Country for local phone numbers").fill("BG")
    await page.get_by_role("button", name="Save and continue").click()
    await page.wait_for_url(at("phone"))

    # -- phone: a bad Account SID is refused with a message, then Twilio is connected ---------------------------
    await expect(page.get_by_role("heading", name="Connect your phone number")).to_be_visible()
    await page.get_by_label("Account SID").fill("not-a-sid")
    await page.get_by_label("Auth Token").fill("a" * 32)
    await page.get_by_label(re.compile("^Twilio numbers")).fill("+14155550100")
    await page.get_by_role("button", name="Save and continue").click()
    await expect(page.get_by_role("alert")).to_contain_text("Account SID")
    await page.get_by_label("Account SID").fill("AC" + secrets.token_hex(16))
    await page.get_by_label("Auth Token").fill(secrets.token_hex(16))
    await page.get_by_role("button", name="Save and continue").click()
    await page.wait_for_url(at("email"))

    # -- email: skipped for now ---------------------------------------------------------------------------------
    await expect(page.get_by_test_id("inbound-address")).to_contain_text(f"{shop.slug}@")
    await page.get_by_test_id("skip").click()
    await page.wait_for_url(at("chat"))

    # -- web chat: the snippet, and the shop's site allowed -------------------------------------------------------
    await expect(page.get_by_test_id("chat-snippet")).to_contain_text(f"/t/{shop.slug}/")
    await page.get_by_label(re.compile("^Sites where the chat may run")).fill("https://steps.example.com")
    await page.get_by_role("button", name="Save and continue").click()
    await page.wait_for_url(at("queues"))

    # -- queues: one more queue, then confirmed ------------------------------------------------------------------
    await page.get_by_label("Key").fill("returns")
    await page.get_by_label("Name", exact=True).fill("Returns")
    await page.get_by_role("button", name="Add queue").click()
    await expect(page.get_by_test_id("notice")).to_have_text("Queue “Returns” added.")
    await expect(page.get_by_test_id("queues")).to_contain_text("Returns (returns)")
    await page.get_by_role("button", name="These are my queues").click()
    await page.wait_for_url(at("team"))

    # -- team: an invitation goes out by email --------------------------------------------------------------------
    mate = f"mate-{secrets.token_hex(3)}@steps.example"
    await page.get_by_label("Email").fill(mate)
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.get_by_test_id("notice")).to_have_text(f"Invitation sent to {mate}.")
    await fx_smtp.wait_for(to=mate)
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(at("done"))

    # -- done: email is what is left, on this page and on the home page --------------------------------------------
    await expect(page.get_by_test_id("left")).to_have_text("Email")
    await page.get_by_role("button", name="Go to my workspace").click()
    await page.wait_for_url(re.compile(rf"/t/{shop.slug}/$"))
    checklist = page.get_by_test_id("checklist")
    await expect(checklist).to_be_visible()
    for step in ("profile", "phone", "chat", "queues", "team"):
        await expect(page.get_by_test_id(f"checklist-{step}")).to_have_attribute("data-done", "true")
    await expect(page.get_by_test_id("checklist-email")).to_have_attribute("data-done", "false")

    # -- resume the skipped step from the checklist ----------------------------------------------------------------
    await page.get_by_test_id("checklist-email").get_by_role("link", name="Email").click()
    await page.wait_for_url(at("email"))
    await page.get_by_label("SMTP host").fill(fx_smtp.host)
    await page.get_by_label("Port", exact=True).fill(str(fx_smtp.port))
    await page.get_by_label("Encryption").select_option("none")
    await page.get_by_label("From address").fill(f"hello@{shop.slug.replace('_', '-')}.example")
    await page.get_by_role("button", name="Save and continue").click()
    await page.wait_for_url(at("chat"))
    await page.goto(f"/t/{shop.slug}/")
    await expect(page.get_by_test_id("home-business")).to_be_visible()
    await expect(page.get_by_test_id("checklist")).to_have_count(0)  # all done: the checklist is gone

    # -- what the wizard saved is what the settings pages show -----------------------------------------------------
    await page.goto(f"/t/{shop.slug}/settings/chat/")
    await expect(page.get_by_test_id("allowed-origins")).to_have_value("https://steps.example.com")
    await page.goto(f"/t/{shop.slug}/settings/email/")
    await expect(page.get_by_label("SMTP host")).to_have_value(fx_smtp.host)
    await page.goto(f"/t/{shop.slug}/")
    await expect(page.get_by_test_id("revenue-today-EUR")).to_have_text("€0.00")  # the shop's currency
