"""Item-level console pushes in Chromium: a queue event sends one item (inserted where the queue's order puts it,
replaced, or deleted) and the counts, never the whole list; the DOM ends right after items come, go and come back,
and another shop's console never shows them."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, NewContext, live_signup, sign_in
from tests.e2e.test_console import _api


async def _order(page: object, selector: str = "#console-queue-items > [data-testid=queue-item]") -> list[str]:
    return await page.eval_on_selector_all(  # type: ignore[attr-defined]
        selector, "els => els.map(e => e.getAttribute('data-conversation-id'))")


WS_QUEUE = "#ws-list-queue-items > [data-testid=ws-item]"


async def test_items_added_removed_and_back_end_in_queue_order(fx_new_context: NewContext,
                                                               fx_live_server: LiveServer) -> None:
    shop = await live_signup(fx_live_server, "items")
    other = await live_signup(fx_live_server, "itemsb")
    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)
    await page.goto(f"/t/{shop.slug}/console/")
    desk = await (await fx_new_context()).new_page()  # the workspace's left list follows the same pushes
    await sign_in(desk, shop.slug, shop.email, shop.password)
    await desk.goto(f"/t/{shop.slug}/workspace/")
    stranger = await (await fx_new_context()).new_page()
    await sign_in(stranger, other.slug, other.email, other.password)
    await stranger.goto(f"/t/{other.slug}/console/")
    for p in (page, stranger):
        await expect(p.get_by_test_id("queue-empty")).to_be_visible()
    for p in (page, stranger, desk):
        await expect(p.locator("body[data-sb-socket=open]")).to_have_count(1)
    await expect(desk.get_by_test_id("ws-list-queue-empty")).to_be_visible()
    await asyncio.sleep(0.3)

    ids = []
    for subject in ("First in line", "Second in line", "Third in line"):
        row = await _api(fx_live_server.url, shop, "POST", "/conversations", {"channel": "chat", "subject": subject})
        ids.append(str(row["id"]))
    items = page.get_by_test_id("queue-item")
    await expect(items).to_have_count(3)
    await expect(page.get_by_test_id("queue-empty")).to_be_hidden()
    await expect(page.get_by_test_id("total-waiting")).to_have_text("3")
    await expect(page.get_by_test_id("waiting-count")).to_have_text("3 conversations waiting")
    assert await _order(page) == ids

    # The middle one leaves the queue, then comes back: it is put back in its place, not at the end.
    await _api(fx_live_server.url, shop, "POST", f"/conversations/{ids[1]}/close", {"note": ""})
    await expect(items).to_have_count(2)
    await expect(page.locator(f"#queue-item-{ids[1]}")).to_have_count(0)
    await expect(page.get_by_test_id("total-waiting")).to_have_text("2")
    await _api(fx_live_server.url, shop, "POST", f"/conversations/{ids[1]}/reopen")
    await expect(items).to_have_count(3)
    await expect(page.get_by_test_id("total-waiting")).to_have_text("3")
    assert await _order(page) == ids
    assert await page.locator(f"#queue-item-{ids[1]}").count() == 1  # replaced, never doubled
    await expect(desk.locator(WS_QUEUE)).to_have_count(3)
    assert await _order(desk, WS_QUEUE) == ids
    await expect(desk.locator("#ws-list-count-queue")).to_have_text("3")

    # All gone: the list is empty and says so, the counts follow.
    for cid in ids:
        await _api(fx_live_server.url, shop, "POST", f"/conversations/{cid}/close", {"note": ""})
    await expect(items).to_have_count(0)
    await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    await expect(page.get_by_test_id("total-waiting")).to_have_text("0")
    await expect(page.get_by_test_id("queue-count-general")).to_contain_text("0")
    await expect(desk.locator(WS_QUEUE)).to_have_count(0)
    await expect(desk.get_by_test_id("ws-list-queue-empty")).to_be_visible()

    # A reload renders the same list the pushes built (the page and the pushes agree).
    await _api(fx_live_server.url, shop, "POST", f"/conversations/{ids[2]}/reopen")
    await _api(fx_live_server.url, shop, "POST", f"/conversations/{ids[0]}/reopen")
    await expect(items).to_have_count(2)
    pushed = await _order(page)
    assert pushed == [ids[0], ids[2]]
    await expect(desk.locator(WS_QUEUE)).to_have_count(2)
    assert await _order(desk, WS_QUEUE) == pushed
    await page.reload()
    await expect(items).to_have_count(2)
    assert await _order(page) == pushed

    # The other shop's console saw none of it.
    await expect(stranger.get_by_test_id("queue-item")).to_have_count(0)
    await expect(stranger.get_by_test_id("queue-empty")).to_be_visible()
