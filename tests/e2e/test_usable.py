"""Usable by everyone, in Chromium: axe-core finds no serious or critical accessibility violation on sign-in,
console, client card, orders, the customer portal and the chat widget; the console's keyboard shortcuts work (the
`?` overlay lists them, `n` takes the next waiting item); the console at 390 px wide never scrolls sideways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, NewContext, live_signup, sign_in
from tests.e2e.test_chat import chat_settings, shop_site

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

AXE = Path(__file__).parent / "fixtures" / "axe-core-4.14.1.min.js"
RUN_AXE = """async (context) => {
  const result = await axe.run(context || document, {resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


async def serious_violations(page: Any, context: Any = None) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, which the pages' Content-Security-Policy does not govern (a <script>
    # tag with axe's source inline would be refused: script-src 'self').
    await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    return list(await page.evaluate(RUN_AXE, context))


async def api(server: LiveServer, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None


async def _lived_in(server: LiveServer, shop: LiveShop) -> dict[str, Any]:
    """A contact with an order (and its portal link), one conversation taken by the owner and one waiting."""
    await api(server, shop, "PUT", "/workspace", {"onboarding_done": True})
    contact = await api(server, shop, "POST", "/contacts", {"name": "Cleo Customer", "phones": ["+14155550123"],
                                                           "emails": ["cleo@example.com"]})
    order = await api(server, shop, "POST", "/orders", {
        "contact_id": contact["id"], "currency": "EUR", "number": "A-100", "delivery_address": "Hauptstr. 1, Berlin",
        "items": [{"name": "Beans", "quantity": 2, "unit_price": 1250}]})
    portal = await api(server, shop, "POST", f"/orders/{order['id']}/portal")
    taken = await api(server, shop, "POST", "/conversations", {"channel": "chat", "subject": "Where is my parcel",
                                                               "contact_id": contact["id"]})
    await api(server, shop, "POST", f"/conversations/{taken['id']}/take")
    waiting = await api(server, shop, "POST", "/conversations", {"channel": "chat", "subject": "Do you ship to Oslo"})
    return {"contact": contact, "order": order, "portal": portal["url"], "waiting": waiting}


async def test_main_pages_have_no_serious_accessibility_violations(fx_new_context: NewContext,
                                                                   fx_live_server: LiveServer,
                                                                   tmp_path: Path) -> None:
    shop = await live_signup(fx_live_server, "a11y")
    data = await _lived_in(fx_live_server, shop)
    page = await (await fx_new_context()).new_page()
    found: dict[str, list[dict[str, Any]]] = {}
    await page.set_content("<!doctype html><html><title>x</title><img src='data:,'><button></button></html>")
    assert {v["id"] for v in await serious_violations(page)} >= {"image-alt", "button-name"}  # axe runs and sees

    await page.goto(f"/t/{shop.slug}/login")
    found["sign-in"] = await serious_violations(page)
    await sign_in(page, shop.slug, shop.email, shop.password)
    pages = {"home": "/", "console": "/console/", "card": f"/contacts/{data['contact']['id']}",
             "orders": "/orders/", "order": f"/orders/{data['order']['id']}"}
    for name, path in pages.items():
        await page.goto(f"/t/{shop.slug}{path}")
        await expect(page.locator("main")).to_be_visible()
        if name == "console":
            await expect(page.get_by_test_id("mine-item")).to_have_count(1)
        found[name] = await serious_violations(page)

    customer = await (await fx_new_context()).new_page()
    await customer.goto(data["portal"].replace(fx_live_server.url, ""))
    await expect(customer.get_by_text("A-100").first).to_be_visible()
    found["portal"] = await serious_violations(customer)

    with shop_site(tmp_path, "<!doctype html><html lang='en'><title>Bean Shop</title>") as site:
        snippet = await chat_settings(fx_live_server, shop, site)
        (tmp_path / "index.html").write_text(
            f"<!doctype html><html lang='en'><title>Bean Shop</title><main><h1>Beans</h1></main>{snippet}")
        visitor = await (await fx_new_context()).new_page()
        await visitor.goto(site + "/")
        bubble = visitor.get_by_test_id("sb-chat-bubble")
        await expect(bubble).to_be_visible()
        assert await bubble.locator("svg").count() == 1  # an inline SVG icon, not an emoji glyph
        await bubble.click()
        await expect(visitor.get_by_test_id("sb-chat-greeting")).to_be_visible()
        found["chat widget"] = await serious_violations(visitor)

    problems = {name: v for name, v in found.items() if v}
    assert not problems, "serious or critical axe violations:\n" + "\n".join(
        f"{name}: {v['id']} ({v['impact']}) {v['help']} at {v['nodes']}" for name, vs in problems.items() for v in vs)
    assert set(found) == {"sign-in", "home", "console", "card", "orders", "order", "portal", "chat widget"}


async def test_keyboard_takes_the_next_item_and_lists_the_shortcuts(fx_new_context: NewContext,
                                                                    fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "keys")
    data = await _lived_in(fx_live_server, shop)
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/console/")
    waiting = page.locator(f'#console-queue [data-conversation-id="{data["waiting"]["id"]}"]')
    await expect(waiting).to_have_count(1)

    await page.keyboard.press("?")
    overlay = page.get_by_test_id("shortcuts")
    await expect(overlay).to_be_visible()
    for key, what in (("n", "Take the next waiting conversation"), ("r", "Reply"), ("w", "Wrap up")):
        await expect(overlay).to_contain_text(key)
        await expect(overlay).to_contain_text(what)
    await page.keyboard.press("Escape")
    await expect(overlay).to_be_hidden()

    # Typing an "n" into a field is typing, not a shortcut.
    await page.locator("#console-mine input[name=note]").first.press("n")
    await expect(waiting).to_have_count(1)
    await page.locator("body").click(position={"x": 2, "y": 2})
    await page.keyboard.press("n")
    await expect(page.get_by_test_id("console-flash")).to_contain_text("You took the chat")
    mine = page.locator(f'#console-mine [data-conversation-id="{data["waiting"]["id"]}"]')
    await expect(mine).to_have_count(1)  # the live push moved it into my conversations
    await expect(waiting).to_have_count(0)
    await page.keyboard.press("w")
    focused = await page.evaluate("document.activeElement && document.activeElement.name")
    assert focused == "code"


async def test_console_fits_a_390_px_phone(fx_new_context: NewContext, fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "phone")
    await _lived_in(fx_live_server, shop)
    page = await (await fx_new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                       has_touch=True)).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    for path in ("/console/", "/"):
        await page.goto(f"/t/{shop.slug}{path}")
        await expect(page.locator("main")).to_be_visible()
        if path == "/console/":
            await expect(page.get_by_test_id("mine-item")).to_have_count(1)
        widths = await page.evaluate("""() => ({doc: document.documentElement.scrollWidth,
            body: document.body.scrollWidth, view: window.innerWidth,
            wide: [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                   .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)})""")
        assert widths["view"] == 390, widths
        assert widths["doc"] <= 390 and widths["body"] <= 390, f"{path} scrolls sideways: {widths}"
        assert not widths["wide"], f"{path}: elements past the right edge: {widths['wide']}"
    assert re.search(r"/t/", page.url)
