"""The home page per role: each role sees its panels with real data, revenue only for admins and the owner, and
"today" is the workspace's day (not UTC's); another shop's orders never show."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from app.accounts.services import create_session
from app.accounts.tables import User
from app.home import services as home
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, browser_login
from tests.integration.test_orders import api, make_contact, make_order

ZONE = "Pacific/Honolulu"  # UTC-10 all year: its day never starts with UTC's


def _figure(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert found, f"{testid} is not on the page"
    return found.group(1)


async def _as(client: Any, shop: ShopFixture, role: str) -> str:
    """Sign the client in as a new user of `role`; returns their home page."""
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}@{shop.slug}.example", name=f"{role.title()} One",
                                      role=role)).returning(User.id)
        token, _ = await create_session(rows[0]["id"])
    client.cookies.set("sb_session", token, path=f"/t/{shop.slug}")
    page = await client.get(f"/t/{shop.slug}/", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    return page.text


async def _finish_onboarding(client: Any, shop: ShopFixture) -> None:
    resp = await client.put(api(shop, "/workspace"), json={"timezone": ZONE, "onboarding_done": True},
                            headers=shop.auth)
    assert resp.status_code == 200, resp.text


async def test_owner_sees_todays_orders_revenue_and_clients_on_the_workspaces_day(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    await _finish_onboarding(fx_client, fx_shop)
    now = dt.datetime.now(dt.UTC)
    local = now.astimezone(zoneinfo.ZoneInfo(ZONE))
    today_start = dt.datetime.combine(local.date(), dt.time(), tzinfo=local.tzinfo).astimezone(dt.UTC)
    month_start = dt.datetime.combine(local.date().replace(day=1), dt.time(), tzinfo=local.tzinfo).astimezone(dt.UTC)
    assert home.month_start(ZONE, now) == month_start
    ada = await make_contact(fx_client, fx_shop, "Ada")
    placed = {"today, early": today_start + dt.timedelta(seconds=1),
              "today, now": now - dt.timedelta(seconds=1),
              "yesterday, late": today_start - dt.timedelta(seconds=1)}
    for name, at in placed.items():
        order = await make_order(fx_client, fx_shop, ada["id"], placed_at=min(at, now).isoformat(), note=name)
        paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/payments"),
                                    json={"amount": 13000, "method": "card"}, headers=fx_shop.auth)
        assert paid.status_code == 200, paid.text
    bob = await make_contact(fx_client, fx_other_shop, "Bob elsewhere")
    await make_order(fx_client, fx_other_shop, bob["id"])  # another tenant's order: never counted here
    expected_today = sum(1 for at in placed.values() if min(at, now) >= today_start)
    utc_today = sum(1 for at in placed.values()
                    if min(at, now) >= dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC))
    assert expected_today == 2 and utc_today != 2  # the data tells the two calendars apart at any hour

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="home-admin"' in html and 'ws-connect="/t/' in html  # live, like the console
    assert _figure(html, "orders-today") == str(expected_today)
    month = sum(1 for at in placed.values() if min(at, now) >= month_start)
    assert _figure(html, "orders-month") == str(month)
    assert _figure(html, "revenue-today-USD") == f"${130 * expected_today:,.2f}"
    assert _figure(html, "new-clients-today") == "1"
    assert 'data-testid="checklist"' in html  # phone, email, chat... are not set up yet
    assert 'href="/t/' + fx_shop.slug + '/onboarding?step=phone"' in html


async def test_operator_sees_their_work_and_no_revenue(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _finish_onboarding(fx_client, fx_shop)
    ada = await make_contact(fx_client, fx_shop, "Ada")
    await make_order(fx_client, fx_shop, ada["id"])
    created = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Where is it"},
                                   headers=fx_shop.auth)
    assert created.status_code == 201
    html = await _as(fx_client, fx_shop, "operator")
    assert 'data-testid="home-operator"' in html
    for marker in ('id="console-mine"', 'id="console-queue"', 'data-testid="longest-wait"', "Where is it"):
        assert marker in html, marker
    for hidden in ("home-business", "revenue", "orders-today", "checklist", "$130.00"):
        assert f'data-testid="{hidden}"' not in html and "$130.00" not in html, hidden


async def test_supervisor_sees_queue_and_team_now(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _finish_onboarding(fx_client, fx_shop)
    await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Broken mug"},
                         headers=fx_shop.auth)
    html = await _as(fx_client, fx_shop, "supervisor")
    assert 'data-testid="home-supervisor"' in html
    for marker in ('id="console-totals"', 'id="console-queue"', 'id="console-presence"', "Broken mug",
                   "Supervisor One"):
        assert marker in html, marker
    assert _figure(html, "total-waiting") == "1"
    assert 'data-testid="home-business"' not in html


# -- live: the owner's numbers follow new orders over the console's socket; an operator's socket never gets them --

import pytest  # noqa: E402

from tests.servers import ConsoleSocket, InProcessServer  # noqa: E402

ORIGIN = "http://testserver.local"


async def _socket(server: InProcessServer, shop: ShopFixture, role: str | None = None) -> ConsoleSocket:
    async with tenant_context(shop.tenant):
        user_id = shop.user_id
        if role:
            rows = await User.insert(User(email=f"{role}-live@{shop.slug}.example", name=f"{role.title()} Live",
                                          role=role)).returning(User.id)
            user_id = rows[0]["id"]
        token, _ = await create_session(user_id)
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, token, ORIGIN)
    await sock.ready()
    return sock


@pytest.mark.xdist_group("realtime")
async def test_owner_home_counts_a_new_order_live_and_operators_never_get_revenue(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    owner = await _socket(fx_live, fx_shop)
    operator = await _socket(fx_live, fx_shop, "operator")
    stranger = await _socket(fx_live, fx_other_shop)
    ada = await make_contact(fx_client, fx_shop, "Ada")
    order = await make_order(fx_client, fx_shop, ada["id"])
    frames = await owner.until(lambda f: f.event == "order.created" and 'id="home-business"' in f.text)
    assert 'hx-swap-oob="true"' in frames[-1].text
    assert _figure(frames[-1].text, "orders-today") == "1"
    paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/payments"), json={"amount": 13000,
                                                                                      "method": "card"},
                                headers=fx_shop.auth)
    assert paid.status_code == 200
    frames = await owner.until(lambda f: f.event == "order.updated" and 'id="home-business"' in f.text)
    assert _figure(frames[-1].text, "revenue-today-USD") == "$130.00"

    # The operator's socket heard the queue of the same shop (a sentinel that must arrive) but never the numbers.
    await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Sentinel"},
                         headers=fx_shop.auth)
    heard = await operator.until(lambda f: f.event == "queue.item_added" and "Sentinel" in f.text)
    assert heard and not any("home-business" in f.text or "$130.00" in f.text or "home-open-conversations" in f.text
                             for f in heard)
    # The owner gets the open conversations figure alone: a queue event does not recompute the revenue.
    frames = await owner.until(lambda f: f.event == "queue.item_added" and "Sentinel" in f.text)
    assert 'id="home-open-conversations" hx-swap-oob="true"' in frames[-1].text
    assert _figure(frames[-1].text, "open-conversations") == "1"
    assert 'id="home-business"' not in frames[-1].text and "$130.00" not in frames[-1].text
    with pytest.raises(TimeoutError):  # another shop's owner hears nothing of it
        await stranger.until(lambda f: f.event is not None and f.event.startswith(("order.", "queue.")), wait=1.0)
    for sock in (owner, operator, stranger):
        await sock.close()
