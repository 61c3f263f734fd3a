"""The pages work under the Content-Security-Policy: the console, the workspace, contacts and the plan page load
with the header and Chromium reports no violation (a blocked inline script or handler, an eval); the behaviours
that used to be inline attributes (the shortcuts button) still work."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sourceFile || ""));
});
"""


async def test_pages_load_under_the_csp_without_a_violation(fx_new_context: NewContext,
                                                             fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "csp")
    context = await fx_new_context()
    await context.add_init_script(WATCH)
    page = await context.new_page()
    reported: list[str] = []
    page.on("console", lambda msg: reported.append(msg.text) if "Content Security Policy" in msg.text else None)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, shop.slug, shop.email, shop.password)

    response: Any = await page.goto(f"/t/{shop.slug}/console/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline' " not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    await expect(page.get_by_test_id("live")).to_be_attached()
    await page.get_by_test_id("shortcuts-open").click()  # was an onclick attribute: now behaviours.js
    await expect(page.get_by_test_id("shortcuts")).to_be_visible()
    await page.keyboard.press("Escape")
    for path in ("/workspace/", "/contacts/", "/settings/plan", "/settings/templates/"):
        await page.goto(f"/t/{shop.slug}{path}")
        await expect(page.locator("main")).to_be_visible()
    violations = await page.evaluate("window.__cspViolations")
    assert violations == [] and reported == [], (violations, reported)
    assert errors == []
