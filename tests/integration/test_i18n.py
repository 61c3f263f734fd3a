"""Languages and the workspace's day through the app: who sees which language, "handled today" by the
workspace's calendar, the contact's language on the portal, and the profile choice (never another tenant's)."""
# ruff: noqa: RUF001  (Russian and Bulgarian text is Cyrillic on purpose)

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from app.lib.db import tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def test_handled_today_counts_by_the_workspaces_day_not_utcs(fx_client: Any, fx_shop: ShopFixture) -> None:
    # Honolulu is UTC-10 all year: its day and UTC's never start together, so a UTC count differs.
    put = await fx_client.put(api(fx_shop, "/workspace"), json={"timezone": "Pacific/Honolulu"}, headers=fx_shop.auth)
    assert put.status_code == 200, put.text
    now = dt.datetime.now(dt.UTC)
    local = now.astimezone(zoneinfo.ZoneInfo("Pacific/Honolulu"))
    local_midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=local.tzinfo).astimezone(dt.UTC)
    utc_midnight = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    closed_at = {
        "local day, early": local_midnight + dt.timedelta(seconds=1),
        "local day, now": now - dt.timedelta(seconds=1),
        "the local day before": local_midnight - dt.timedelta(seconds=1),
        "UTC's day start": utc_midnight + dt.timedelta(seconds=1),
        "just before UTC's day": utc_midnight - dt.timedelta(seconds=1),
    }
    ids = {}
    for name in closed_at:
        resp = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": name},
                                    headers=fx_shop.auth)
        assert resp.status_code == 201, resp.text
        ids[name] = resp.json()["id"]
    async with tenant_context(fx_shop.tenant) as uow:
        for name, at in closed_at.items():
            await uow.connection.execute("UPDATE conversation SET status = 'closed', closed_at = $1 WHERE id = $2",
                                         min(at, now), ids[name])
    expected = sum(1 for at in closed_at.values() if local_midnight <= min(at, now))
    utc_count = sum(1 for at in closed_at.values() if utc_midnight <= min(at, now))
    assert expected != utc_count  # the data tells the two calendars apart
    stats = (await fx_client.get(api(fx_shop, "/queue-stats"), headers=fx_shop.auth)).json()
    assert stats["handled_today"] == expected

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = await fx_client.get(f"/t/{fx_shop.slug}/console/panels/totals", headers={"accept": "text/html"})
    assert f'data-testid="handled-today">{expected}</b>' in panel.text


async def test_staff_language_profile_then_workspace_then_browser(fx_client: Any, fx_shop: ShopFixture,
                                                                  fx_other_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    home = f"/t/{fx_shop.slug}/console/"
    page = await fx_client.get(home, headers={"accept": "text/html", "accept-language": "bg-BG,bg;q=0.9"})
    assert '<html lang="bg">' in page.text and "Изход" in page.text  # nobody chose: the browser's
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "en"}, headers=fx_shop.auth)
    page = await fx_client.get(home, headers={"accept": "text/html", "accept-language": "bg-BG,bg;q=0.9"})
    assert '<html lang="en">' in page.text and "Sign out" in page.text  # the workspace's beats the browser's

    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/profile")
    saved = await fx_client.post(f"/t/{fx_shop.slug}/profile",
                                 data={"language": "ru", "timezone": "Europe/Sofia", "_csrf": token},
                                 headers={"accept": "text/html"}, follow_redirects=True)
    assert saved.status_code == 200 and "Сохранено." in saved.text and "Выйти" in saved.text
    me = (await fx_client.get(api(fx_shop, "/me"))).json()
    assert me["language"] == "ru" and me["timezone"] == "Europe/Sofia"

    bad = await fx_client.post(f"/t/{fx_shop.slug}/profile", data={"language": "xx", "timezone": "", "_csrf": token},
                               headers={"accept": "text/html"})
    assert bad.status_code == 400 and "xx" in bad.text

    # The other shop's owner keeps their own choice: nothing of this shop's profile crosses over.
    me_other = (await fx_client.get(api(fx_other_shop, "/me"), headers=fx_other_shop.auth)).json()
    assert me_other["language"] == "en" and me_other["timezone"] == "UTC"
    async with tenant_context(fx_other_shop.tenant) as uow:
        assert await uow.connection.fetchval("SELECT count(*) FROM app_user WHERE language <> ''") == 0


async def test_contact_language_drives_the_portal_and_defaults_to_the_workspaces(fx_client: Any,
                                                                                 fx_shop: ShopFixture) -> None:
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    bg = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Боряна", "language": "bg"},
                               headers=fx_shop.auth)).json()
    plain = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Anna"}, headers=fx_shop.auth)).json()
    assert bg["language"] == "bg" and plain["language"] == ""
    bad = await fx_client.patch(api(fx_shop, f"/contacts/{plain['id']}"), json={"language": "klingon"},
                                headers=fx_shop.auth)
    assert bad.status_code == 400 and "en, ru, bg" in bad.json()["detail"]

    pages = {}
    for contact in (bg, plain):
        order = (await fx_client.post(api(fx_shop, "/orders"), json={
            "contact_id": contact["id"], "currency": "EUR",
            "items": [{"name": "Tea", "quantity": 2, "unit_price": 123456}]}, headers=fx_shop.auth)).json()
        link = (await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).json()
        path = link["url"].split("://", 1)[1].split("/", 1)[1]
        pages[contact["name"]] = (await fx_client.get("/" + path, headers={"accept-language": "en-US"})).text
    nbsp = "\xa0"
    assert "Поръчка" in pages["Боряна"] and "Пишете ни" in pages["Боряна"]
    assert f"2{nbsp}469,12{nbsp}€" in pages["Боряна"]
    assert "Заказ" in pages["Anna"] and "Напишите нам" in pages["Anna"]  # no language of her own: the shop's


async def test_api_detail_speaks_the_callers_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    # An API key's user has no language of their own; the workspace has none: the client's Accept-Language.
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ann"}, headers=fx_shop.auth)).json()
    for language, expected in (("ru", "Заметка пустая."), ("bg", "Бележката е празна."), ("en", "The note is empty.")):
        resp = await fx_client.post(api(fx_shop, f"/contacts/{contact['id']}/notes"), json={"body": " "},
                                    headers={**fx_shop.auth, "accept-language": language})
        assert resp.status_code == 400 and resp.json()["detail"] == expected
    # The same refusal on a page, for a visitor of a Bulgarian workspace whatever the browser says.
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "bg"}, headers=fx_shop.auth)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/login")
    page = await fx_client.post(f"/t/{fx_shop.slug}/login", data={"email": fx_shop.email, "password": "wrong",
                                                                  "_csrf": token},
                                headers={"accept": "text/html", "accept-language": "en-US"})
    assert page.status_code == 401 and "Грешен имейл или парола." in page.text and "Вход в" in page.text


async def test_cli_speaks_the_terminals_language(fx_db: str, fx_shop: ShopFixture) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_DSN

    def run(lang: str) -> str:
        env = {**os.environ, "DATABASE_URL": TEST_DSN, "COLUMNS": "200", "LANG": lang}
        env.pop("LANGUAGE", None), env.pop("LC_ALL", None), env.pop("LC_MESSAGES", None)
        done = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    russian, bulgarian, english = await asyncio.gather(asyncio.to_thread(run, "ru_RU.UTF-8"),
                                                       asyncio.to_thread(run, "bg_BG.UTF-8"),
                                                       asyncio.to_thread(run, "C.UTF-8"))
    assert "уже актуальны" in russian and "с ошибкой 0" in russian
    assert "вече актуални" in bulgarian and "неуспешни 0" in bulgarian
    assert "already at head" in english and "0 failed" in english


async def test_script_catalogue_is_served_in_each_language(fx_client: Any, fx_db: str) -> None:
    """base.html loads /i18n/<lang>.js for the page's scripts; an unknown language falls back to English."""
    from app.lib import i18n

    for language in i18n.LANGUAGES:
        resp = await fx_client.get(f"/i18n/{language}.js")
        assert resp.status_code == 200, (language, resp.status_code, resp.text[:200])
        assert resp.text.startswith("window.sbI18n = ") and "javascript" in resp.headers["content-type"]
    assert (await fx_client.get("/i18n/xx.js")).status_code == 200


async def test_api_detail_with_values_speaks_the_users_language(fx_client: Any, fx_shop: ShopFixture,
                                                                fx_other_shop: ShopFixture) -> None:
    """Messages with values in them (`No order 999999.`) are translated too, with the values kept: for a user
    whose profile says Russian, whatever the browser says; for a Bulgarian workspace's users without a language."""
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ann"}, headers=fx_shop.auth)).json()
    cases = [
        ("get", "/orders/999999", None, 404,
         {"ru": "Нет заказа 999999.", "bg": "Няма поръчка 999999.", "en": "No order 999999."}),
        ("patch", f"/contacts/{contact['id']}", {"temperature": "lukewarm"}, 400,
         {"ru": "temperature — одно из значений: hot, warm, cold (или пусто).",
          "bg": "temperature трябва да е една от стойностите: hot, warm, cold (или празно).",
          "en": "temperature must be one of: hot, warm, cold (or empty)."}),
        ("patch", f"/contacts/{contact['id']}", {"name": "Anne", "version": 999}, 409,
         {"ru": "Этот контакт изменил кто-то другой (версия 1, у вас была 999); обновите его и внесите изменение "
                "снова.",
          "bg": "Този контакт е променен от някой друг (версия 1, вие имахте 999); презаредете го и направете "
                "промяната отново.",
          "en": "This contact was changed by someone else (version 1, you had 999); reload it and apply your "
                "change again."}),
        ("post", "/orders", {"contact_id": contact["id"], "currency": "EUR",
                             "items": [{"name": "Tea", "quantity": 1, "unit_price": 100}] * 501}, 400,
         {"ru": "Не больше 500 позиций в заказе.", "bg": "Най-много 500 артикула в поръчка.",
          "en": "At most 500 items per order."}),
    ]

    async def details(shop: ShopFixture, browser: str) -> dict[str, str]:
        got = []
        for method, path, body, status, _ in cases:
            kwargs = {"json": body} if body is not None else {}
            resp = await getattr(fx_client, method)(api(shop, path), headers={**shop.auth, "accept-language": browser},
                                                    **kwargs)
            assert resp.status_code == status, resp.text
            got.append(resp.json()["detail"])
            if resp.json().get("errors"):
                assert resp.json()["errors"][0]["message"] == resp.json()["detail"]
        return got

    assert await details(fx_shop, "en-US") == [c[4]["en"] for c in cases]
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute("UPDATE app_user SET language = 'ru' WHERE id = $1", fx_shop.user_id)
    assert await details(fx_shop, "bg-BG,bg;q=0.9") == [c[4]["ru"] for c in cases]  # the profile beats the browser

    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "bg"}, headers=fx_shop.auth)
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute("UPDATE app_user SET language = '' WHERE id = $1", fx_shop.user_id)
    assert await details(fx_shop, "ru-RU") == [c[4]["bg"] for c in cases]  # the workspace's beats the browser

    # The same message on a page (HTML error page) for a person signed in, in the workspace's language.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/orders/999999", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Няма поръчка 999999." in page.text

    # Another tenant's caller is untouched by this workspace's language, and cannot see its order ids either.
    other = await fx_client.get(api(fx_other_shop, "/orders/999999"),
                                headers={**fx_other_shop.auth, "accept-language": "en"})
    assert other.status_code == 404 and other.json()["detail"] == "No order 999999."


async def test_built_in_names_are_shown_in_the_readers_language_and_typed_names_as_typed(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    """Order statuses and deal stages a workspace starts with are stored as English keys and labels; people read
    them in their language. A status the shop renamed shows as the shop wrote it; the API keeps what is stored."""
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    bg = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Боряна", "language": "bg"},
                               headers=fx_shop.auth)).json()
    order = (await fx_client.post(api(fx_shop, "/orders"), json={
        "contact_id": bg["id"], "currency": "EUR", "items": [{"name": "Tea", "quantity": 1, "unit_price": 500}]},
        headers=fx_shop.auth)).json()
    paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "paid"},
                                headers=fx_shop.auth)
    assert paid.status_code == 200, paid.text
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    html = {"accept": "text/html"}

    listing = (await fx_client.get(f"/t/{fx_shop.slug}/orders/", headers=html)).text
    assert 'data-status="paid">Оплачено</span>' in listing and '>Отправлено</option>' in listing
    page = (await fx_client.get(f"/t/{fx_shop.slug}/orders/{order['id']}", headers=html)).text
    assert 'data-status="paid"' in page and ">Оплачено</span>" in page
    assert 'Новый → <strong data-status="paid">Оплачено</strong>' in page  # the history too
    board = (await fx_client.get(f"/t/{fx_shop.slug}/deals/", headers=html)).text
    assert "<h2>Лид " in board and "<h2>Выиграна " in board
    console = (await fx_client.get(f"/t/{fx_shop.slug}/console/", headers=html)).text
    assert 'data-testid="queue-count-general">Общая: 0<' in console  # the default queue's name

    # The customer reads the portal in her own language.
    link = (await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).json()
    portal = (await fx_client.get("/" + link["url"].split("://", 1)[1].split("/", 1)[1])).text
    assert 'data-status="paid">Платено</div>' in portal and "<li class=\"done \">Нов</li>" in portal

    # Saving the settings form with the shown (translated) name keeps the default; a typed name is the shop's.
    settings = f"/t/{fx_shop.slug}/settings/orders"
    form = (await fx_client.get(f"{settings}/", headers=html)).text
    assert 'name="label" value="Оплачено"' in form
    token = await csrf_from(fx_client, f"{settings}/")
    statuses = {s["key"]: s for s in (await fx_client.get(api(fx_shop, "/order-statuses"),
                                                          headers=fx_shop.auth)).json()}

    async def save(key: str, label: str) -> str:
        s = statuses[key]
        resp = await fx_client.post(f"{settings}/statuses/{key}", headers=html, data={
            "_csrf": token, "label": label, "position": str(s["position"]), "allowed": s["allowed"],
            **({"counts_as_sale": "on"} if s["counts_as_sale"] else {}), **({"final": "on"} if s["final"] else {})})
        assert resp.status_code == 200, resp.text
        return resp.text

    assert "Статус «Оплачено» сохранён." in await save("paid", "Оплачено")
    await save("shipped", "Передан в СДЭК")
    stored = {s["key"]: s["label"] for s in (await fx_client.get(api(fx_shop, "/order-statuses"),
                                                                 headers=fx_shop.auth)).json()}
    assert stored["paid"] == "Paid" and stored["shipped"] == "Передан в СДЭК" and stored["new"] == "New"
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "en"}, headers=fx_shop.auth)
    en = await fx_client.get(f"/t/{fx_shop.slug}/orders/", headers=html)
    assert '>Передан в СДЭК</option>' in en.text and ">Paid</option>" in en.text  # as typed, in every language

    # Another workspace's pipeline is its own: English for its English owner, untouched by this one's renaming.
    other = {s["key"]: s["label"] for s in (await fx_client.get(api(fx_other_shop, "/order-statuses"),
                                                                headers=fx_other_shop.auth)).json()}
    assert other["shipped"] == "Shipped"


async def test_an_order_import_reads_default_status_names_in_any_of_our_languages(fx_shop: ShopFixture) -> None:
    from app.orders import imports, pipeline

    async with tenant_context(fx_shop.tenant):
        defs = await pipeline.by_key()
    assert imports._status_key("Оплачено", defs) == "paid" and imports._status_key("изпратено", defs) == "shipped"
    assert imports._status_key("Paid", defs) == "paid" and imports._status_key("new", defs) == "new"


async def test_contact_time_zone_on_card_api_export_import_portal_and_email(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_inbox: Any) -> None:
    """A contact's time zone (fields_spec: one declaration) is written by the API and the card, checked, exported
    and imported; the portal renders in it and tells the page's script to; a customer email uses it, else the
    workspace's zone."""
    import csv
    import io
    import re

    from app.contacts import import_mapping
    from tests.conftest import run_jobs_until, work_left

    await fx_client.put(api(fx_shop, "/workspace"), json={"timezone": "Europe/Sofia"}, headers=fx_shop.auth)
    made = await fx_client.post(api(fx_shop, "/contacts"), headers=fx_shop.auth,
                                json={"name": "Yuki", "emails": ["yuki@example.jp"], "timezone": "Asia/Tokyo"})
    assert made.status_code == 201 and made.json()["timezone"] == "Asia/Tokyo", made.text
    yuki = made.json()
    plain = (await fx_client.post(api(fx_shop, "/contacts"), headers=fx_shop.auth,
                                  json={"name": "Ana", "emails": ["ana@example.bg"]})).json()
    assert plain["timezone"] == ""
    bad = await fx_client.patch(api(fx_shop, f"/contacts/{plain['id']}"), json={"timezone": "Mars/Olympus"},
                                headers={**fx_shop.auth, "accept-language": "ru"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "timezone"
    assert "Неизвестный часовой пояс 'Mars/Olympus'" in bad.json()["detail"]

    # The card: edited and shown in the main section.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    card_url = f"/t/{fx_shop.slug}/contacts/{yuki['id']}"
    token = await csrf_from(fx_client, card_url)
    htmx = {"X-CSRF-Token": token, "HX-Request": "true"}
    form = await fx_client.get(f"{card_url}/section/main", params={"edit": "true"}, headers=htmx)
    assert 'data-testid="contact-timezone"' in form.text and '<option value="Europe/Sofia">' in form.text
    assert 'value="Asia/Tokyo"' in form.text
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    saved = await fx_client.post(f"{card_url}/section/main", headers=htmx, data={
        "name": "Yuki", "company": "", "tags": "", "temperature": "", "owner_id": "", "language": "",
        "timezone": "America/New_York", "version": version})
    assert saved.status_code == 200 and 'data-testid="contact-timezone-shown">America/New_York<' in saved.text
    await fx_client.patch(api(fx_shop, f"/contacts/{yuki['id']}"), json={"timezone": "Asia/Tokyo"},
                          headers=fx_shop.auth)

    # Export and import carry it (the import's mapping guesses the column).
    export = await fx_client.get(api(fx_shop, "/contacts/export.csv"), headers=fx_shop.auth)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(export.text.lstrip("\ufeff")))}
    assert rows["Yuki"]["timezone"] == "Asia/Tokyo" and rows["Ana"]["timezone"] == ""
    assert import_mapping.suggest(["Name", "Часовой пояс", "Time zone"], [])[1:] == ["timezone", "ignore"]

    # The portal: rendered in the contact's zone, and the page's script told to keep it.
    placed = dt.datetime(2026, 1, 15, 13, 0, tzinfo=dt.UTC)
    order = (await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
        "contact_id": yuki["id"], "currency": "JPY", "number": "Y-1", "placed_at": placed.isoformat(),
        "items": [{"name": "Tea", "quantity": 1, "unit_price": 500}]})).json()
    link = (await fx_client.post(api(fx_shop, f"/orders/{order['id']}/portal"), headers=fx_shop.auth)).json()
    portal = (await fx_client.get("/" + link["url"].split("://", 1)[1].split("/", 1)[1])).text
    assert 'data-time-zone="Asia/Tokyo"' in portal
    stamp = re.search(r'<time datetime="([^"]+)" data-local>([^<]+)</time>', portal)
    tokyo = dt.datetime.fromisoformat(stamp.group(1)).astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%-m/%-d/%y}, {tokyo:%-I:%M}" in stamp.group(2), stamp.group(2)  # not UTC's hour (9 h off)

    # Status emails: the order's date in the contact's zone (Tokyo: 22:00), else the workspace's (Sofia: 15:00).
    ok = await fx_client.put(api(fx_shop, "/order-notifications"), headers=fx_shop.auth, json={
        "enabled": True, "statuses": ["paid"], "subject": "{{ order.number }}", "body": "{{ order.placed_at }}"})
    assert ok.status_code == 200, ok.text
    other = (await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
        "contact_id": plain["id"], "currency": "EUR", "number": "A-1", "placed_at": placed.isoformat(),
        "items": [{"name": "Tea", "quantity": 1, "unit_price": 500}]})).json()
    for o in (order, other):
        await fx_client.post(api(fx_shop, f"/orders/{o['id']}/status"), json={"status": "paid"},
                             headers=fx_shop.auth)

    async def sent() -> bool:
        return not await work_left(fx_shop.tenant)

    await run_jobs_until(sent)
    bodies = {m["Subject"]: m.get_payload(decode=True).decode() for m in fx_inbox.messages}
    assert "10:00" in bodies["Y-1"] and "1/15/26" in bodies["Y-1"], bodies  # 22:00 in Tokyo, in English
    assert "3:00" in bodies["A-1"] and "PM" in bodies["A-1"], bodies        # 15:00 in Sofia

    # Another tenant's API reaches its own contacts only: this one's zone is untouched.
    await fx_client.patch(api(fx_other_shop, f"/contacts/{yuki['id']}"), json={"timezone": "UTC"},
                          headers=fx_other_shop.auth)
    assert (await fx_client.get(api(fx_shop, f"/contacts/{yuki['id']}"), headers=fx_shop.auth)).json()[
        "timezone"] == "Asia/Tokyo"


async def test_a_sofia_workspace_shows_its_wall_clock_on_pages_on_both_sides_of_dst(fx_client: Any,
                                                                                    fx_shop: ShopFixture) -> None:
    """13:00Z is 15:00 in Sofia in winter and 16:00 in summer, on the orders list a person reads; the API keeps ISO
    8601 with the offset it was given."""
    await fx_client.put(api(fx_shop, "/workspace"), json={"timezone": "Europe/Sofia", "language": "bg"},
                        headers=fx_shop.auth)
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ива"}, headers=fx_shop.auth)).json()
    for number, at in (("W-1", "2026-01-15T13:00:00Z"), ("S-1", "2026-07-15T13:00:00Z"),
                       ("D-1", "2026-03-29T13:00:00Z")):  # the day summer time begins
        made = await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
            "contact_id": contact["id"], "number": number, "placed_at": at,
            "items": [{"name": "Мед", "quantity": 1, "unit_price": 500}]})
        assert made.status_code == 201, made.text
        assert dt.datetime.fromisoformat(made.json()["placed_at"]) == dt.datetime.fromisoformat(at)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    listing = (await fx_client.get(f"/t/{fx_shop.slug}/orders/", headers={"accept": "text/html"})).text

    def shown(number: str) -> str:
        row = listing[listing.index(number):]
        return row[:row.index("</tr>")]

    assert "<td>15.01.26\u202fг., 15:00</td>" in shown("W-1")
    assert "<td>15.07.26\u202fг., 16:00</td>" in shown("S-1")
    assert "<td>29.03.26\u202fг., 16:00</td>" in shown("D-1")


async def test_the_frameworks_own_refusals_speak_the_callers_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    nope = await fx_client.get(api(fx_shop, "/no-such-thing"), headers={**fx_shop.auth, "accept-language": "ru"})
    assert nope.status_code == 404 and nope.json()["detail"] == "Не найдено"
    anonymous = await fx_client.get(api(fx_shop, "/contacts"), headers={"accept-language": "bg"})
    assert anonymous.status_code == 401 and anonymous.json()["detail"].startswith("Първо влезте"), anonymous.text
    forged = await fx_client.post(f"/t/{fx_shop.slug}/login", data={"email": fx_shop.email, "password": "x"},
                                  headers={"accept-language": "ru"})
    assert forged.status_code == 403 and "CSRF-токена" in forged.json()["detail"], forged.text


async def test_timeline_and_audit_texts_are_shown_in_the_readers_language(fx_client: Any, fx_shop: ShopFixture,
                                                                         fx_other_shop: ShopFixture) -> None:
    """Timeline summaries are stored in English with their catalogue template: the card shows them in the reader's
    language, the API keeps the English `summary`; rows written before show as stored; the audit page names each
    action in the reader's language. Another workspace's card is not reachable."""
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Лада"}, headers=fx_shop.auth)).json()
    order = (await fx_client.post(api(fx_shop, "/orders"), json={
        "contact_id": contact["id"], "currency": "EUR", "items": [{"name": "Tea", "quantity": 1, "unit_price": 500}]},
        headers=fx_shop.auth)).json()
    paid = await fx_client.post(api(fx_shop, f"/orders/{order['id']}/status"), json={"status": "paid"},
                                headers=fx_shop.auth)
    assert paid.status_code == 200, paid.text
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute(
            "INSERT INTO interaction (contact, channel, direction, occurred_at, summary, payload, links) "
            "VALUES ($1, 'system', 'internal', now(), 'Written before templates', '{}', '{}')", contact["id"])
    items = (await fx_client.get(api(fx_shop, f"/contacts/{contact['id']}/timeline"), headers=fx_shop.auth)).json()
    summaries = [i["summary"] for i in items["items"]]
    number = order["number"]
    assert f"Order {number}: new → Paid" in summaries and "Contact created" in summaries  # the API: English
    assert f"Order {number} placed: 5.00 EUR" in summaries

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    html = {"accept": "text/html"}
    timeline = f"/t/{fx_shop.slug}/contacts/{contact['id']}/timeline"
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    ru = (await fx_client.get(timeline, headers=html)).text
    assert f"Заказ {number}: new → Оплачено" in ru and "Контакт создан" in ru and f"Заказ {number} оформлен" in ru
    assert "Written before templates" in ru and "Contact created" not in ru
    assert f"Заказ {number} оформлен: 5,00\xa0€" in ru  # money as the reader's locale writes it
    audit = (await fx_client.get(f"/t/{fx_shop.slug}/settings/audit", headers=html)).text
    assert 'data-action="order.created">Заказ создан</span>' in audit
    assert 'data-action="order.status_changed">Статус заказа изменён</span>' in audit

    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "bg"}, headers=fx_shop.auth)
    bg = (await fx_client.get(timeline, headers=html)).text
    assert f"Поръчка {number}: new → Платено" in bg and "Контактът е създаден" in bg

    other = await fx_client.get(api(fx_other_shop, f"/contacts/{contact['id']}/timeline"), headers=fx_other_shop.auth)
    assert other.status_code == 404 or contact["name"] not in other.text


async def test_edge_validation_messages_speak_the_callers_language_and_keep_the_field(fx_client: Any,
                                                                                      fx_shop: ShopFixture) -> None:
    """msgspec's and the edge's own refusals (a wrong type, a missing or unknown field, a bad date, an id out of
    range) in the reader's language, each still naming its field."""
    cases = [
        ("post", "/contacts", {"name": 5}, "name", {
            "ru": "Ожидается `str`, получено `int`", "bg": "Очаква се `str`, получено е `int`",
            "en": "Expected `str`, got `int`"}),
        ("post", "/contacts", {"name": "A", "zzz": 1}, "zzz", {
            "ru": "В объекте есть неизвестное поле `zzz`", "en": "Object contains unknown field `zzz`"}),
        ("post", "/contacts", {"name": "A", "birth_date": "31.01.2000"}, "birth_date", {
            "ru": "Дата не в формате RFC 3339 (например 2026-01-31)", "bg": "Датата не е във формат RFC 3339"}),
        ("get", "/contacts/0", None, "contact_id", {
            "ru": "должно быть идентификатором записи от 1 до 2147483647",
            "bg": "трябва да е идентификатор на запис от 1 до 2147483647",
            "en": "must be a record id from 1 to 2147483647"}),
    ]
    for method, path, body, field, wanted in cases:
        for language, text in wanted.items():
            kw: dict[str, Any] = {"json": body} if body is not None else {}
            resp = await getattr(fx_client, method)(api(fx_shop, path), headers={
                **fx_shop.auth, "accept-language": language}, **kw)
            assert resp.status_code == 400, resp.text
            errors = resp.json()["errors"]
            assert any(e["field"] == field and e["message"].startswith(text) for e in errors), (language, errors)
            assert f"{field}: {text}" in resp.json()["detail"]


async def test_the_chat_widget_speaks_the_linked_contacts_language(fx_client: Any, fx_shop: ShopFixture,
                                                                   fx_other_shop: ShopFixture) -> None:
    """Before the chat knows who writes: the browser's language. Once it is linked to a contact who has a language:
    the contact's, for the widget's strings (GET /chat/strings, the socket's frames, POST /contact's answer) and for
    what the server says (a refusal's detail). Another shop's token says nothing about this shop's contact."""
    from app.chat import socket as chat_socket

    base = f"/t/{fx_shop.slug}/chat"
    ru = {"accept-language": "ru-RU,ru;q=0.9"}
    token = (await fx_client.post(f"{base}/sessions", json={"page_url": "https://shop.example/"}, headers=ru)).json()
    auth = {**ru, "X-Chat-Token": token["token"]}
    before = (await fx_client.get(f"{base}/strings", headers=auth)).json()
    assert before["language"] == "ru" and before["messages"]["Chat with us"] == "Напишите нам"
    await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ема", "emails": ["ema@example.bg"],
                                                          "language": "bg"}, headers=fx_shop.auth)
    linked = await fx_client.post(f"{base}/contact", json={"email": "ema@example.bg"}, headers=auth)
    assert linked.status_code == 200 and linked.json()["language"] == "bg", linked.text
    after = (await fx_client.get(f"{base}/strings", headers=auth)).json()
    assert after["language"] == "bg" and after["messages"]["Chat with us"] == "Пишете ни"
    refused = await fx_client.post(f"{base}/messages", json={"body": 5}, headers=auth)
    assert refused.status_code == 400 and refused.json()["errors"][0]["message"].startswith("Очаква се `str`")
    frame, _cursor, _delivered = await chat_socket.sync(fx_shop.tenant, token["session_id"])
    assert b'"language":"bg"' in frame

    other = (await fx_client.get(f"/t/{fx_other_shop.slug}/chat/strings", headers=auth)).json()
    assert other["language"] == "ru"  # the browser's: the token is not the other shop's
