"""The console over a real websocket: pushes reach the right consoles, and only them."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ShopFixture, browser_login, csrf_from


async def test_console_page_renders_panels(fx_client: Any, fx_shop: ShopFixture) -> None:
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations", json={"channel": "chat", "subject": "Hi there"},
                         headers=fx_shop.auth)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/console/", headers={"accept": "text/html"})
    assert page.status_code == 200
    for marker in ('id="console-queue"', 'id="console-mine"', 'id="console-presence"', 'id="console-totals"',
                   'ws-connect="/t/', "Hi there", 'id="sb-last-event"'):
        assert marker in page.text, marker
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/console/")
    waiting = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/conversations/waiting", headers=fx_shop.auth)).json()
    took = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{waiting[0]['id']}", headers={"X-CSRF-Token": token})
    assert "You took the chat" in took.text
    again = await fx_client.post(f"/t/{fx_shop.slug}/console/take/{waiting[0]['id']}", headers={"X-CSRF-Token": token})
    assert "already took" in again.text
    panel = await fx_client.get(f"/t/{fx_shop.slug}/console/panels/mine", headers={"accept": "text/html"})
    assert "Hi there" in panel.text and 'data-testid="mine-item"' in panel.text


# -- live pushes over a real websocket -------------------------------------------------------------------------

import pytest  # noqa: E402

from app.accounts.services import create_session  # noqa: E402
from app.accounts.tables import User  # noqa: E402
from app.lib.db import tenant_context  # noqa: E402
from tests.servers import ConsoleSocket, InProcessServer  # noqa: E402

ORIGIN = "http://testserver.local"


async def _session(shop: ShopFixture, role: str | None = None) -> str:
    async with tenant_context(shop.tenant):
        user_id = shop.user_id
        if role:
            rows = await User.insert(User(email=f"{role}@{shop.slug}.example", name=f"{role.title()} One",
                                          role=role)).returning(User.id)
            user_id = rows[0]["id"]
        token, _ = await create_session(user_id)
    return token


async def _console(server: InProcessServer, shop: ShopFixture, token: str) -> ConsoleSocket:
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, token, ORIGIN)
    await sock.ready()
    return sock


@pytest.mark.xdist_group("realtime")
async def test_queue_item_reaches_eligible_consoles_and_vanishes_when_taken(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    owner = await _console(fx_live, fx_shop, await _session(fx_shop))
    operator = await _console(fx_live, fx_shop, await _session(fx_shop, "operator"))
    stranger = await _console(fx_live, fx_other_shop, await _session(fx_other_shop))

    created = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations",
                                   json={"channel": "chat", "subject": "Parcel missing"}, headers=fx_shop.auth)
    item = created.json()
    for sock in (owner, operator):
        frames = await sock.until(lambda f: f.event == "queue.item_added")
        # the one new item, put into the list (not the whole panel again)
        assert '<div hx-swap-oob="beforeend:#console-queue-items">' in frames[-1].text
        assert f'id="queue-item-{item["id"]}"' in frames[-1].text
        assert "Parcel missing" in frames[-1].text and f'data-conversation-id="{item["id"]}"' in frames[-1].text

    took = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations/{item['id']}/take", headers=fx_shop.auth)
    assert took.status_code == 200
    frames = await operator.until(lambda f: f.event == "queue.item_taken")
    queue_html = frames[-1].text.split('id="console-mine"')[0]
    assert f'data-conversation-id="{item["id"]}"' not in queue_html  # gone from the other console's queue
    assert f'<div id="queue-item-{item["id"]}" hx-swap-oob="delete"></div>' in queue_html

    # A restricted queue: the operator's console is told nothing about it.
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/queues", json={"key": "vip", "name": "VIP",
                                                                   "roles": ["supervisor"]}, headers=fx_shop.auth)
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations", json={"channel": "call", "queue": "vip",
                                                                          "subject": "Secret VIP call"},
                         headers=fx_shop.auth)
    owner_frames = await owner.until(lambda f: f.event == "queue.item_added" and "Secret VIP call" in f.text)
    assert owner_frames
    op_frames = await operator.until(lambda f: f.event == "queue.item_added")
    assert "Secret VIP call" not in op_frames[-1].text
    # Tenant B's console heard none of it: B's own item, added after all of A's, is the first queue event it gets.
    b_item = await fx_client.post(f"/t/{fx_other_shop.slug}/api/v1/conversations",
                                  json={"channel": "chat", "subject": "Only for B"}, headers=fx_other_shop.auth)
    assert b_item.status_code == 201, b_item.text
    b_frames = await stranger.until(lambda f: f.event == "queue.item_added" and "Only for B" in f.text)
    assert [f.event for f in b_frames if f.event and f.event.startswith("queue.")] == ["queue.item_added"]
    assert not [f for f in b_frames if "Parcel missing" in f.text or "Secret VIP call" in f.text]
    for sock in (owner, operator, stranger):
        await sock.close()


@pytest.mark.xdist_group("realtime")
async def test_card_edit_appears_on_other_open_cards(fx_live: InProcessServer, fx_client: Any,
                                                     fx_shop: ShopFixture) -> None:
    contact = (await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": "Before Edit"},
                                    headers=fx_shop.auth)).json()
    viewer = await _console(fx_live, fx_shop, await _session(fx_shop, "operator"))
    await viewer.send({"watch": f"contact:{contact['id']}"})
    await asyncio.sleep(0.2)
    await fx_client.patch(f"/t/{fx_shop.slug}/api/v1/contacts/{contact['id']}", json={"name": "After Edit"},
                          headers=fx_shop.auth)
    frames = await viewer.until(lambda f: f.event == "contact.updated")
    assert "After Edit" in frames[-1].text and 'hx-swap-oob="outerHTML:#section-main:not([data-editing])"' in frames[-1].text
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts/{contact['id']}/notes", json={"body": "Called back"},
                         headers=fx_shop.auth)
    frames = await viewer.until(lambda f: f.event == "note.added")
    assert 'id="timeline-items" hx-swap-oob="true"' in frames[-1].text and "Called back" in frames[-1].text
    await viewer.close()
