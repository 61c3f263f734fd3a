"""Two-factor sign-in in headless Chromium: the profile shows the QR code (an SVG) and the key; a code computed from
the key shown turns it on and shows ten recovery codes; after signing out, the sign-in asks for a code and works."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in

pytestmark = [pytest.mark.e2e]


async def test_enrol_from_the_profile_then_sign_in_with_a_code(fx_new_context: NewContext,
                                                                fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "twofa")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)

    await page.goto(f"/t/{shop.slug}/profile")
    await expect(page.get_by_test_id("twofa-state")).to_contain_text("Off")
    await page.get_by_test_id("twofa-start").click()
    qr = page.get_by_test_id("twofa-qr").locator("svg")
    await expect(qr).to_be_visible()
    assert (await qr.bounding_box() or {}).get("width", 0) > 100  # a scannable size
    key = page.get_by_test_id("twofa-secret")
    await expect(key).to_be_visible()
    shown = (await key.inner_text()).replace(" ", "")
    assert shown == await key.get_attribute("data-secret") and len(shown) >= 16
    totp = pyotp.TOTP(shown)

    await page.get_by_test_id("twofa-code").fill(totp.now())
    await page.get_by_test_id("twofa-confirm").click()
    await expect(page.get_by_test_id("notice")).to_contain_text("Two-factor sign-in is on")
    await expect(page.get_by_test_id("recovery-code")).to_have_count(10)
    await expect(page.get_by_test_id("twofa-state")).to_contain_text("Recovery codes left: 10")

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"**/t/{shop.slug}/login")
    await page.get_by_label("Email").fill(shop.email)
    await page.get_by_label("Password").fill(shop.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**/t/{shop.slug}/login/2fa")
    # Nothing is reachable before the code.
    await page.goto(f"/t/{shop.slug}/contacts/")
    await page.wait_for_url(lambda url: "/login" in url)
    await page.goto(f"/t/{shop.slug}/login/2fa")

    valid = {totp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    await page.get_by_test_id("twofa-login-code").fill(next(f"{n:06d}" for n in range(1000) if f"{n:06d}" not in valid))
    await page.get_by_test_id("twofa-login-submit").click()
    await expect(page.get_by_test_id("error")).to_contain_text("not right")
    # The code of the next step: the current one was spent on the enrolment if still in the same 30 s.
    await page.get_by_test_id("twofa-login-code").fill(totp.at(time.time() + 30))
    await page.get_by_test_id("twofa-login-submit").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    await expect(page.get_by_test_id("who")).to_be_visible()
