"""Foundation, end to end in a real browser: a shop signs up, lands in its workspace, invites an operator by email;
the operator accepts the emailed link, lands in the workspace, signs out and back in; the owner sees the team."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer, Mailbox, NewContext, live_signup, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_signup_invite_operator_accept_and_sign_in(
    fx_new_context: NewContext, fx_smtp: Mailbox, fx_live_server: LiveServer
) -> None:
    suffix = secrets.token_hex(3)
    slug = f"corner_{suffix}"
    owner_email = f"owner-{suffix}@corner.example"
    owner_password = "owner passphrase " + suffix
    operator_email = f"olga-{suffix}@corner.example"
    operator_password = "operator passphrase " + suffix
    home = re.compile(rf"/t/{slug}/$")

    # -- the owner signs up and lands in onboarding -----------------------------------------------------------
    owner = await (await fx_new_context()).new_page()
    await owner.goto("/signup")
    await expect(owner.get_by_role("heading", name="Create your workspace")).to_be_visible()
    await owner.get_by_label("Shop name").fill("Corner Shop")
    await owner.get_by_label("Workspace address").fill(slug)
    await owner.get_by_label("Your name").fill("Omar Owner")
    await owner.get_by_label("Email").fill(owner_email)
    await owner.get_by_label("Password").fill(owner_password)
    await owner.get_by_role("button", name="Create workspace").click()
    await owner.wait_for_url(re.compile(rf"/t/{slug}/onboarding$"))
    await expect(owner.get_by_role("heading", name="Welcome! Tell us about your shop")).to_be_visible()
    await expect(owner.get_by_test_id("who")).to_have_text("Omar Owner · owner")

    # -- step 1: the shop's profile -----------------------------------------------------------------------------
    await expect(owner.get_by_label("Shop name")).to_have_value("Corner Shop")
    await owner.get_by_label("Shop name").fill("Corner Shop Berlin")
    await owner.get_by_label("Time zone").fill("Europe/Berlin")
    await owner.get_by_label("Country for local phone numbers").fill("DE")
    await owner.get_by_role("button", name="Save and continue").click()
    await owner.wait_for_url(re.compile(rf"/t/{slug}/onboarding\?step=phone$"))
    await owner.get_by_test_id("step-team").click()  # the steps are links: straight to the team
    await owner.wait_for_url(re.compile(rf"/t/{slug}/onboarding\?step=team$"))
    await expect(owner.get_by_role("heading", name="Invite your team")).to_be_visible()

    # -- step 2: invite an operator -----------------------------------------------------------------------------
    await owner.get_by_label("Email").fill(operator_email)
    await owner.get_by_label("Role").select_option("operator")
    await owner.get_by_role("button", name="Send invitation").click()
    await expect(owner.get_by_test_id("notice")).to_have_text(f"Invitation sent to {operator_email}.")
    await expect(owner.get_by_test_id("invitations")).to_contain_text(f"{operator_email} · operator")

    # -- the invitation arrives by email, sent by the background job through SMTP ---------------------------
    mail = await fx_smtp.wait_for(to=operator_email)
    assert mail.subject == "You are invited to Corner Shop Berlin on Switchboard"
    assert "Omar Owner invited you to join Corner Shop Berlin on Switchboard as operator." in mail.text
    link = mail.link(f"/t/{slug}/invite/")
    assert link.startswith(fx_live_server.url + "/"), link
    assert link in mail.html

    # -- the operator, in a browser of their own, accepts ---------------------------------------------------
    operator = await (await fx_new_context()).new_page()
    await operator.goto(link)
    await expect(operator.get_by_role("heading", name=re.compile(r"^Join Corner Shop"))).to_be_visible()
    await expect(operator.locator("main")).to_contain_text(f"You are invited as operator with {operator_email}.")
    await operator.get_by_label("Your name").fill("Olga Operator")
    await operator.get_by_label("Choose a password").fill(operator_password)
    await operator.get_by_role("button", name="Join the team").click()
    await operator.wait_for_url(home)
    await expect(operator.get_by_test_id("workspace-title")).to_have_text("Corner Shop Berlin")
    await expect(operator.get_by_test_id("who")).to_have_text("Olga Operator · operator")
    await expect(operator.locator("main")).to_contain_text(f"Signed in as {operator_email} (operator).")
    await expect(operator.get_by_role("link", name="Team")).to_have_count(0)  # operators do not manage the team

    # -- the link works once ----------------------------------------------------------------------------------
    stranger = await (await fx_new_context()).new_page()
    await stranger.goto(link)
    await expect(stranger.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(stranger.get_by_test_id("error")).to_contain_text("not valid any more")

    # -- sign out, and back in with the new password ------------------------------------------------------------
    await operator.get_by_role("button", name="Sign out").click()
    await operator.wait_for_url(re.compile(rf"/t/{slug}/login$"))
    await expect(operator.get_by_role("heading", name=re.compile(r"^Sign in to "))).to_be_visible()
    await expect(operator.get_by_test_id("who")).to_have_count(0)
    await operator.goto(f"/t/{slug}/")  # signed out means signed out
    await operator.wait_for_url(re.compile(rf"/t/{slug}/login\?next="))
    await operator.get_by_label("Email").fill(operator_email)
    await operator.get_by_label("Password").fill(operator_password)
    await operator.get_by_role("button", name="Sign in").click()
    await operator.wait_for_url(home)
    await expect(operator.get_by_test_id("who")).to_have_text("Olga Operator · operator")
    await expect(operator.get_by_test_id("workspace-title")).to_have_text("Corner Shop Berlin")

    # -- the owner finishes onboarding and sees the operator in the team ----------------------------------------
    await owner.get_by_role("button", name="Continue").click()
    await expect(owner.get_by_role("heading", name="You're set")).to_be_visible()
    await owner.get_by_role("button", name="Go to my workspace").click()
    await owner.wait_for_url(home)
    await expect(owner.get_by_test_id("workspace-title")).to_have_text("Corner Shop Berlin")
    await expect(owner.get_by_test_id("who")).to_have_text("Omar Owner · owner")
    team = owner.get_by_test_id("team")
    await expect(team).to_contain_text(f"Omar Owner · {owner_email} · owner")
    await expect(team).to_contain_text(f"Olga Operator · {operator_email} · operator")

    await owner.get_by_role("link", name="Team").click()
    await owner.wait_for_url(re.compile(rf"/t/{slug}/settings/team$"))
    row = owner.get_by_test_id(f"user-{operator_email}")
    await expect(row).to_contain_text("Olga Operator")
    await expect(owner.get_by_label(f"Role of {operator_email}")).to_have_value("operator")
    await expect(owner.get_by_label(f"Status of {operator_email}")).to_have_value("active")
    await expect(owner.get_by_test_id("invitations")).to_have_text("None.")  # accepted: no longer open



async def test_wrong_password_is_refused_and_the_owner_resumes_onboarding(
    fx_page: Page, fx_live_server: LiveServer
) -> None:
    shop = await live_signup(fx_live_server, "resume", shop_name="Resume Shop")
    await fx_page.goto(f"/t/{shop.slug}/settings/team")  # signed out: sent to sign in, and back afterwards
    await fx_page.wait_for_url(re.compile(rf"/t/{shop.slug}/login\?next="))
    await fx_page.get_by_label("Email").fill(shop.email)
    await fx_page.get_by_label("Password").fill("not the password")
    await fx_page.get_by_role("button", name="Sign in").click()
    await expect(fx_page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await expect(fx_page.get_by_label("Email")).to_have_value(shop.email)

    await fx_page.get_by_label("Password").fill(shop.password)
    await fx_page.get_by_role("button", name="Sign in").click()
    await fx_page.wait_for_url(re.compile(rf"/t/{shop.slug}/settings/team$"))
    await expect(fx_page.get_by_role("heading", name="Team")).to_be_visible()

    await sign_in(fx_page, shop.slug, shop.email, shop.password)  # home, before onboarding is done: the wizard
    await fx_page.wait_for_url(re.compile(rf"/t/{shop.slug}/onboarding$"))
    await expect(fx_page.get_by_role("heading", name="Welcome! Tell us about your shop")).to_be_visible()
    await expect(fx_page.get_by_label("Shop name")).to_have_value("Resume Shop")
