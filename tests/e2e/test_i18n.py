"""Languages in headless Chromium: a Russian-speaking operator gets the console, the queue and the card in Russian
with Russian plurals (1, 2, 5, 21), also in what the websocket pushes; a Bulgarian customer gets the portal and
the chat widget in Bulgarian, with times in their browser's zone."""
# ruff: noqa: RUF001  (Russian and Bulgarian text is Cyrillic on purpose)

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer, LiveShop, Mailbox, NewContext, live_signup
from tests.e2e.test_chat import chat_settings, shop_site

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")
RU_WAITING = {1: "1 обращение ожидает", 2: "2 обращения ожидают", 5: "5 обращений ожидают",
              21: "21 обращение ожидает"}
RU_ORDERS = {1: "1 заказ", 2: "2 заказа", 5: "5 заказов", 21: "21 заказ"}


async def _api(server: LiveServer, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def test_russian_operator_sees_console_queue_and_card_in_russian_with_plurals(
        fx_new_context: NewContext, fx_live_server: LiveServer, fx_smtp: Mailbox) -> None:
    shop = await live_signup(fx_live_server, "ru_console")
    email = f"op-{shop.slug.replace('_', '-')}@example.com"
    await _api(fx_live_server, shop, "POST", "/invitations", {"email": email, "role": "operator"})
    link = (await fx_smtp.wait_for(to=email)).link("/invite/")

    # A Russian browser in Sofia; nobody chose a language in the shop, so the browser's wins.
    page = await (await fx_new_context(locale="ru-RU", timezone_id="Europe/Sofia")).new_page()
    await page.goto(link.replace(fx_live_server.url, ""))
    await expect(page.locator("h1")).to_contain_text("Присоединиться к")
    await page.get_by_label("Ваше имя").fill("Ольга Операторова")
    await page.get_by_label("Придумайте пароль").fill("operator passphrase 1")
    await page.get_by_role("button", name="Присоединиться к команде").click()
    await page.wait_for_url(lambda url: "/invite/" not in url)

    await page.goto(f"/t/{shop.slug}/console/")
    assert await page.get_attribute("html", "lang") == "ru"
    await expect(page.get_by_role("link", name="Консоль")).to_be_visible()
    await expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    await expect(page.locator("#console-queue h2")).to_contain_text("Очередь")
    await expect(page.locator("#console-mine h2")).to_have_text("Мои обращения")
    await expect(page.get_by_test_id("queue-empty")).to_have_text("Никто не ждёт.")
    await expect(page.get_by_test_id("mine-empty")).to_have_text("Возьмите ожидающее обращение из очереди.")
    await expect(page.get_by_test_id("my-status")).to_contain_text("на месте")

    # The queue grows while the page is open: every count arrives over the websocket, rendered in Russian.
    contact = await _api(fx_live_server, shop, "POST", "/contacts", {"name": "Иван Петров"})
    made = 0
    for target, words in RU_WAITING.items():
        while made < target:
            made += 1
            await _api(fx_live_server, shop, "POST", "/conversations",
                       {"channel": "chat", "contact_id": contact["id"], "subject": f"Вопрос {made}"})
        await expect(page.get_by_test_id("waiting-count")).to_have_text(words)
        await expect(page.get_by_test_id("total-waiting")).to_have_text(str(target))
        await expect(page.get_by_test_id("total-waiting-label")).to_have_text(words.split(" ", 1)[1])
    item = page.get_by_test_id("queue-item").first
    await expect(item.get_by_test_id("take")).to_have_text("Взять")
    await expect(item.locator(".badge")).to_have_text("чат")
    await expect(item.get_by_test_id("queue-since")).to_have_text(re.compile(r"только что|\d+ мин\. назад"))
    await page.reload()  # the full page agrees with what was pushed
    await expect(page.get_by_test_id("waiting-count")).to_have_text(RU_WAITING[21])

    # Staff times follow their own zone (else the workspace's): the operator picks Sofia in their profile.
    await page.goto(f"/t/{shop.slug}/profile")
    await page.get_by_test_id("profile-timezone").fill("Europe/Sofia")
    await page.get_by_test_id("profile-save").click()
    await expect(page.get_by_test_id("notice")).to_have_text("Сохранено.")

    # The card: labels, the timeline's time in Sofia, and the order count with every plural form.
    await _api(fx_live_server, shop, "POST", f"/contacts/{contact['id']}/notes", {"body": "Звонить после обеда"})
    made = 0
    for target, words in RU_ORDERS.items():
        while made < target:
            made += 1
            await _api(fx_live_server, shop, "POST", "/orders", {
                "contact_id": contact["id"], "currency": "RUB",
                "items": [{"name": "Чай", "quantity": 1, "unit_price": 123456}]})
        await page.goto(f"/t/{shop.slug}/contacts/{contact['id']}")
        await expect(page.get_by_test_id("orders-count")).to_have_text(words)
    await expect(page.get_by_test_id("section-identities")).to_contain_text("Телефоны и email")
    await expect(page.get_by_test_id("add-note")).to_have_text("Добавить заметку")
    await expect(page.get_by_test_id("edit-main")).to_have_text("Изменить")
    await expect(page.get_by_test_id("order-row").first).to_contain_text("1\u00a0234,56\u00a0₽")
    stamp = page.get_by_test_id("timeline-time").first
    at = dt.datetime.fromisoformat(await stamp.get_attribute("datetime") or "")
    await expect(stamp).to_contain_text(at.astimezone(SOFIA).strftime("%d.%m.%Y, %H:%M"))


async def test_bulgarian_customer_sees_portal_and_chat_widget_in_bulgarian(
        fx_new_context: NewContext, fx_live_server: LiveServer, tmp_path: Path) -> None:
    shop = await live_signup(fx_live_server, "bg_customer")
    contact = await _api(fx_live_server, shop, "POST", "/contacts", {"name": "Боряна Иванова", "language": "bg"})
    order = await _api(fx_live_server, shop, "POST", "/orders", {
        "contact_id": contact["id"], "currency": "EUR",
        "items": [{"name": "Мед", "quantity": 2, "unit_price": 123456}]})
    link = (await _api(fx_live_server, shop, "POST", f"/orders/{order['id']}/portal"))["url"]

    # The contact's language wins over an English browser; times follow the browser's own zone.
    customer = await (await fx_new_context(locale="en-US", timezone_id="America/New_York")).new_page()
    await customer.goto(link.replace(fx_live_server.url, ""))
    assert await customer.get_attribute("html", "lang") == "bg"
    await expect(customer.locator("h1")).to_have_text(f"Поръчка {order['number']}")
    await expect(customer.get_by_role("heading", name="Пишете ни")).to_be_visible()
    await expect(customer.get_by_test_id("portal-total")).to_have_text("2\u00a0469,12\u00a0€")
    await customer.get_by_test_id("portal-body").fill("Кога ще пристигне?")
    await customer.get_by_test_id("portal-send").click()
    message = customer.get_by_test_id("portal-message")
    await expect(message).to_contain_text("Вие")
    stamp = message.locator("time")
    await expect(stamp).to_have_attribute("data-zone", "America/New_York")
    at = dt.datetime.fromisoformat(await stamp.get_attribute("datetime") or "")
    local = at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    await expect(stamp).to_have_text(re.compile(rf"\b0?{local.hour}:{local.minute:02d}\b"))

    # With a time zone on her card, the portal shows her zone's time whatever the browser's.
    await _api(fx_live_server, shop, "PATCH", f"/contacts/{contact['id']}", {"timezone": "Asia/Tokyo"})
    await customer.reload()
    stamp = customer.get_by_test_id("portal-message").locator("time")
    await expect(stamp).to_have_attribute("data-zone", "Asia/Tokyo")
    tokyo = at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    await expect(stamp).to_have_text(re.compile(rf"\b0?{tokyo.hour}:{tokyo.minute:02d}\b"))

    # The chat widget on the shop's own site, opened from a Bulgarian browser.
    with shop_site(tmp_path, "<!doctype html><title>Мед</title>") as site:
        snippet = await chat_settings(fx_live_server, shop, site)
        (tmp_path / "index.html").write_text(f"<!doctype html><title>Мед</title><h1>Мед</h1>{snippet}")
        visitor = await (await fx_new_context(locale="bg-BG", timezone_id="Europe/Sofia")).new_page()
        await visitor.goto(site + "/")
        bubble = visitor.get_by_test_id("sb-chat-bubble")
        await expect(bubble).to_have_attribute("aria-label", "Пишете ни")
        await bubble.click()
        await expect(visitor.get_by_test_id("sb-chat-head")).to_have_text("Пишете ни")
        await expect(visitor.get_by_test_id("sb-chat-input")).to_have_attribute("placeholder", "Напишете съобщение…")
        await expect(visitor.get_by_test_id("sb-chat-send")).to_have_text("Изпрати")
        await expect(visitor.get_by_test_id("sb-chat-me-save")).to_have_text("Запази")
        await visitor.get_by_test_id("sb-chat-input").fill("Здравейте!")
        await visitor.get_by_test_id("sb-chat-send").click()
        sent = visitor.get_by_test_id("sb-chat-message").filter(has_text="Здравейте!")
        await expect(sent.get_by_test_id("sb-chat-status")).to_have_text(re.compile("Изпратено|Доставено|Прочетено"))
        # Message times: the browser's zone while the chat knows no contact ...
        await expect(sent.get_by_test_id("sb-chat-time")).to_have_attribute("data-zone", "Europe/Sofia")
        # ... the contact's once the visitor leaves an email that belongs to a card with a zone.
        await _api(fx_live_server, shop, "POST", "/contacts", {"name": "Ема", "emails": ["ema@example.bg"],
                                                               "timezone": "America/Chicago"})
        await visitor.locator("[data-testid=sb-chat-me] input[name=email]").fill("ema@example.bg")
        async with visitor.expect_response(lambda r: r.url.endswith("/chat/contact") and r.request.method == "POST"
                                           ) as linked:
            await visitor.get_by_test_id("sb-chat-me-save").click()
        assert (await linked.value).ok
        await visitor.reload()
        await visitor.get_by_test_id("sb-chat-bubble").click()
        stamp = visitor.get_by_test_id("sb-chat-message").filter(has_text="Здравейте!").get_by_test_id("sb-chat-time")
        await expect(stamp).to_have_attribute("data-zone", "America/Chicago")
        written = dt.datetime.fromisoformat(await stamp.get_attribute("datetime") or "")
        chicago = written.astimezone(zoneinfo.ZoneInfo("America/Chicago"))
        await expect(stamp).to_have_text(f"{chicago:%H:%M}")


async def test_the_chat_widget_switches_to_the_linked_contacts_language(
        fx_new_context: NewContext, fx_live_server: LiveServer, tmp_path: Path) -> None:
    shop = await live_signup(fx_live_server, "ru_chat")
    await _api(fx_live_server, shop, "POST", "/contacts", {"name": "Ольга", "emails": ["olga@example.ru"],
                                                           "language": "ru"})
    with shop_site(tmp_path, "<!doctype html><title>Shop</title>") as site:
        snippet = await chat_settings(fx_live_server, shop, site)
        (tmp_path / "index.html").write_text(f"<!doctype html><title>Shop</title><h1>Shop</h1>{snippet}")
        visitor = await (await fx_new_context(locale="en-US", timezone_id="Europe/Moscow")).new_page()
        await visitor.goto(site + "/")
        await visitor.get_by_test_id("sb-chat-bubble").click()
        await expect(visitor.get_by_test_id("sb-chat-head")).to_have_text("Chat with us")  # the browser's
        await visitor.get_by_test_id("sb-chat-input").fill("Hello!")
        await visitor.get_by_test_id("sb-chat-send").click()
        sent = visitor.get_by_test_id("sb-chat-message").filter(has_text="Hello!")
        await expect(sent.get_by_test_id("sb-chat-status")).to_have_text(re.compile("Sent|Delivered|Read"))
        # She leaves the email of a card whose language is Russian: the widget speaks Russian from then on.
        await visitor.locator("[data-testid=sb-chat-me] input[name=email]").fill("olga@example.ru")
        await visitor.get_by_test_id("sb-chat-me-save").click()
        await expect(visitor.get_by_test_id("sb-chat-head")).to_have_text("Напишите нам")
        await expect(visitor.get_by_test_id("sb-chat-send")).to_have_text("Отправить")
        await expect(sent.get_by_test_id("sb-chat-status")).to_have_text(re.compile("Отправлено|Доставлено|Прочитано"))
        # ... also on her next visit, although the script is served in her browser's English.
        await visitor.reload()
        await expect(visitor.get_by_test_id("sb-chat-bubble")).to_have_attribute("aria-label", "Напишите нам")
        await expect(visitor.get_by_test_id("sb-chat-panel")).to_have_attribute("lang", "ru")
