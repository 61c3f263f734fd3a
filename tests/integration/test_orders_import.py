"""Orders by CSV import: a messy 1C export (cp1251, `;`, decimal commas, dd.mm.yyyy), mapping guess, preview, the
background job through the real queue, refused rows with reasons, re-import idempotent on the order id."""
# ruff: noqa: RUF001  (the Russian test data is Cyrillic on purpose)

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from app.lib.jobs import Worker
from app.orders import imports
from tests.conftest import TEST_DSN, ShopFixture, browser_login, csrf_from

HEADER = "Код заказа;Номер;Дата;Покупатель;Телефон;E-mail;Номенклатура;Артикул;Количество;Цена;Валюта;Статус"
LINES = [
    HEADER,                                                                                            # row 1
    "1C-0001;ЗК-101;05.03.2026;Иванов Иван;+7 912 345-67-89;ivan@example.ru;Кофе зерновой 1 кг;CF-1;2;1 234,50;руб.;"
    "new",
    "1C-0001;;;;;;Фильтры бумажные;FL-100;3;99,90;;",                                                  # 3
    "",                                                                                                # 4 blank
    '1C-0002;ЗК-102;06.03.2026 12:30:00;Петрова Анна;89123456780;;"Кофемолка ""Бош""; ручная";GR-2;1;4500;RUB;paid',
    "1C-0003;ЗК-103;31.02.2026;Сидоров;+7 913 000-00-00;;Чай;T-1;1;100;руб.;new",                       # 6 bad date
    ";ЗК-104;07.03.2026;Без кода;+7 913 111-11-11;;Чай;T-1;1;100;руб.;new",                             # 7 no id
    "1C-0005;ЗК-105;07.03.2026;Кузнецова;+7 913 222-22-22;;Сахар;S-1;два;50;руб.;new",                  # 8 bad qty
    "1C-0005;;;;;;Соль;S-2;1;30;;",                                                                    # 9
    "1C-0001;;;;;;Кружка;MG-1;1;350,00;;",                                                             # 10
    "1C-0006;ЗК-106;08.03.2026;Орлов;+7 913 333-33-33;;Мёд;H-1;1;500;руб.;отгружен",                    # 11
]
EXPECTED_MAPPING = ["external_id", "number", "date", "contact_name", "contact_phone", "contact_email", "item_name",
                    "sku", "quantity", "price", "currency", "status"]


def cp1251(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _prepare(client: Any, shop: ShopFixture) -> None:
    resp = await client.put(api(shop, "/workspace"), json={"default_region": "RU"}, headers=shop.auth)
    assert resp.status_code == 200, resp.text


async def _upload(client: Any, shop: ShopFixture, data: bytes) -> dict[str, Any]:
    resp = await client.post(api(shop, "/order-imports"), files={"file": ("zakazy.csv", data, "text/csv")},
                             headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def _run(client: Any, shop: ShopFixture, import_id: int) -> dict[str, Any]:
    started = await client.post(api(shop, f"/order-imports/{import_id}/start"), headers=shop.auth)
    assert started.status_code == 202 and started.json()["status"] == "queued", started.text
    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    try:
        for _ in range(300):
            body = (await client.get(api(shop, f"/order-imports/{import_id}"), headers=shop.auth)).json()
            if body["status"] in ("done", "failed"):
                return dict(body)
            await asyncio.sleep(0.1)
    finally:
        await worker.stop()
    raise AssertionError(f"order import {import_id} did not finish")


async def _orders(client: Any, shop: ShopFixture) -> dict[str, dict[str, Any]]:
    items = (await client.get(api(shop, "/orders"), headers=shop.auth)).json()["items"]
    return {o["external_id"]: o for o in items}


async def test_messy_1c_export_imports_orders_and_lists_bad_rows(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare(fx_client, fx_shop)
    up = await _upload(fx_client, fx_shop, cp1251(LINES))
    assert (up["encoding"], up["delimiter"], up["total"]) == ("cp1251", ";", 9)
    assert up["columns"][0] == "Код заказа" and up["suggested_mapping"] == EXPECTED_MAPPING
    import_id = up["id"]

    wrong = await fx_client.put(api(fx_shop, f"/order-imports/{import_id}/mapping"), headers=fx_shop.auth,
                                json={"mapping": ["ignore"] * 12})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "mapping"
    bad_cur = await fx_client.put(api(fx_shop, f"/order-imports/{import_id}/mapping"), headers=fx_shop.auth,
                                  json={"mapping": EXPECTED_MAPPING, "currency": "rubles"})
    assert bad_cur.status_code == 400 and bad_cur.json()["errors"][0]["field"] == "currency"
    ok = await fx_client.put(api(fx_shop, f"/order-imports/{import_id}/mapping"), headers=fx_shop.auth,
                             json={"mapping": EXPECTED_MAPPING, "currency": "RUB"})
    assert ok.status_code == 200 and ok.json()["currency"] == "RUB"

    preview = (await fx_client.get(api(fx_shop, f"/order-imports/{import_id}/preview"), headers=fx_shop.auth)).json()
    by_id = {p["external_id"]: p for p in preview["orders"]}
    assert by_id["1C-0001"]["ok"] and by_id["1C-0001"]["rows"] == [2, 3, 10]
    assert by_id["1C-0001"]["total"] == "3,118.70 RUB" and by_id["1C-0001"]["action"] == "create"
    assert not by_id["1C-0003"]["ok"] and by_id["1C-0003"]["errors"][0]["field"] == "date"
    assert not by_id["1C-0006"]["ok"] and "new" in by_id["1C-0006"]["errors"][0]["message"]

    done = await _run(fx_client, fx_shop, import_id)
    assert done["status"] == "done", done
    assert (done["created"], done["updated"], done["unchanged"], done["failed"]) == (2, 0, 0, 4)
    assert done["processed"] == 9 and done["percent"] == 100
    errors = {(e["row"], e["field"]) for e in done["errors"]}
    assert {(6, "date"), (7, "external_id"), (8, "quantity"), (9, ""), (11, "status")} == errors
    assert next(e for e in done["errors"] if e["row"] == 8)["external_id"] == "1C-0005"
    refused = await fx_client.get(api(fx_shop, f"/order-imports/{import_id}/errors.csv"), headers=fx_shop.auth)
    assert refused.status_code == 200 and refused.headers["content-type"].startswith("text/csv")
    assert "attachment" in refused.headers["content-disposition"] and "zakazy-errors.csv" in refused.headers[
        "content-disposition"]
    assert refused.content.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads the UTF-8"
    table = list(csv.reader(io.StringIO(refused.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == [*HEADER.split(";"), "error"]
    assert [r[:-1] for r in table[1:]] == [next(csv.reader([LINES[n - 1]], delimiter=";")) for n in (6, 7, 8, 9, 11)]
    reasons = [r[-1] for r in table[1:]]
    assert reasons[0].startswith("date: ") and reasons[2].startswith("quantity: ")
    assert reasons[3] == "Not imported: another row of order 1C-0005 was refused." and reasons[4].startswith("status: ")

    orders = await _orders(fx_client, fx_shop)
    assert set(orders) == {"1C-0001", "1C-0002"}
    first = orders["1C-0001"]
    assert first["number"] == "ЗК-101" and first["currency"] == "RUB" and first["total"] == 311870
    assert [(i["name"], i["sku"], i["quantity"], i["unit_price"]) for i in first["items"]] == [
        ("Кофе зерновой 1 кг", "CF-1", 2, 123450), ("Фильтры бумажные", "FL-100", 3, 9990),
        ("Кружка", "MG-1", 1, 35000)]
    assert first["placed_at"].startswith("2026-03-05") and first["status"] == "new"
    second = orders["1C-0002"]
    assert second["status"] == "paid" and second["total"] == 450000
    assert second["items"][0]["name"] == 'Кофемолка "Бош"; ручная'
    assert second["placed_at"].startswith("2026-03-06T12:30")
    buyer = (await fx_client.get(api(fx_shop, f"/contacts/{second['contact_id']}"), headers=fx_shop.auth)).json()
    assert buyer["name"] == "Петрова Анна" and buyer["phones"] == ["+79123456780"]
    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{first['contact_id']}/timeline"),
                                    headers=fx_shop.auth)).json()
    assert any(i["payload"].get("event") == "created" for i in timeline["items"])

    # The same file again: nothing new, nothing duplicated.
    again = await _upload(fx_client, fx_shop, cp1251(LINES))
    await fx_client.put(api(fx_shop, f"/order-imports/{again['id']}/mapping"), headers=fx_shop.auth,
                        json={"mapping": EXPECTED_MAPPING, "currency": "RUB"})
    twice = await _run(fx_client, fx_shop, again["id"])
    assert (twice["created"], twice["updated"], twice["unchanged"], twice["failed"]) == (0, 0, 2, 4)
    assert len(await _orders(fx_client, fx_shop)) == 2

    # A later export: the status moved on and an item changed -> the same orders are updated.
    changed = [ln.replace(";paid", ";packed") if ln.startswith("1C-0002") else ln for ln in LINES]
    changed = [ln.replace("Кружка;MG-1;1;", "Кружка;MG-1;2;") for ln in changed]
    later = await _upload(fx_client, fx_shop, cp1251(changed))
    await fx_client.put(api(fx_shop, f"/order-imports/{later['id']}/mapping"), headers=fx_shop.auth,
                        json={"mapping": EXPECTED_MAPPING, "currency": "RUB"})
    preview = (await fx_client.get(api(fx_shop, f"/order-imports/{later['id']}/preview"),
                                   headers=fx_shop.auth)).json()
    assert {p["external_id"]: p["action"] for p in preview["orders"]}["1C-0001"] == "update"
    third = await _run(fx_client, fx_shop, later["id"])
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 2, 0)
    orders = await _orders(fx_client, fx_shop)
    assert len(orders) == 2 and orders["1C-0002"]["status"] == "packed" and orders["1C-0001"]["total"] == 346870
    started_twice = await fx_client.post(api(fx_shop, f"/order-imports/{later['id']}/start"), headers=fx_shop.auth)
    assert started_twice.status_code == 409


async def test_import_pages_upload_map_preview_progress(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/orders/import"
    token = await csrf_from(fx_client, base + "/")
    resp = await fx_client.post(base + "/", data={"_csrf": token}, files={"file": ("z.csv", cp1251(LINES), "text/csv")},
                                headers={"accept": "text/html"})
    assert resp.status_code == 303, resp.text
    page = await fx_client.get(resp.headers["location"], headers={"accept": "text/html"})
    assert page.status_code == 200 and "Windows-1251" in page.text and 'data-testid="preview-row"' in page.text
    import_id = int(resp.headers["location"].rstrip("/").rsplit("/", 1)[1])
    form = {"_csrf": token, "currency": "RUB", **{f"col_{i}": f for i, f in enumerate(EXPECTED_MAPPING)}}
    frag = await fx_client.post(f"{base}/{import_id}/preview", data=form,
                                headers={"accept": "text/html", "hx-request": "true"})
    assert frag.status_code == 200 and frag.text.lstrip().startswith("<div id=\"order-import-preview\"")
    assert "3,118.70 RUB" in frag.text and 'data-ok="no"' in frag.text
    started = await fx_client.post(f"{base}/{import_id}/start", data=form, headers={"accept": "text/html"})
    assert started.status_code == 303
    status = await fx_client.get(f"{base}/{import_id}", headers={"accept": "text/html"})
    assert 'data-status="queued"' in status.text and "/progress" in status.text
    await imports.run(fx_shop.tenant, import_id)
    progress = await fx_client.get(f"{base}/{import_id}/progress",
                                   headers={"accept": "text/html", "hx-request": "true"})
    assert 'data-status="done"' in progress.text and 'data-testid="import-errors"' in progress.text
    assert f'href="{base}/{import_id}/errors.csv"' in progress.text, "the refused rows are offered as a download"
    download = await fx_client.get(f"{base}/{import_id}/errors.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    lines = download.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 6 and lines[1].startswith("1C-0003;") and "Сидоров" in lines[1]
    listing = await fx_client.get(base + "/", headers={"accept": "text/html"})
    assert "z.csv" in listing.text


async def test_orders_without_a_currency_take_the_workspaces(fx_client: Any, fx_shop: ShopFixture,
                                                             fx_other_shop: ShopFixture) -> None:
    """API, the card's form and the import: an order that names no currency is in the workspace's, not USD."""
    assert (await fx_client.put(api(fx_shop, "/workspace"), json={"currency": "BGN"},
                                headers=fx_shop.auth)).status_code == 200
    contact = (await fx_client.post(api(fx_shop, "/contacts"), json={"name": "Ива"}, headers=fx_shop.auth)).json()
    made = await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
        "contact_id": contact["id"], "items": [{"name": "Чай", "quantity": 1, "unit_price": 500}]})
    assert made.status_code == 201 and made.json()["currency"] == "BGN", made.text
    named = await fx_client.post(api(fx_shop, "/orders"), headers=fx_shop.auth, json={
        "contact_id": contact["id"], "currency": "eur", "items": [{"name": "Чай", "quantity": 1, "unit_price": 500}]})
    assert named.json()["currency"] == "EUR"  # a currency given is kept
    other = await fx_client.post(api(fx_other_shop, "/orders"), headers=fx_other_shop.auth, json={
        "customer": {"name": "Ann"}, "items": [{"name": "Tea", "quantity": 1, "unit_price": 500}]})
    assert other.status_code == 201 and other.json()["currency"] == "USD"  # the other workspace's own

    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    panel = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{contact['id']}/orders-panel",
                                headers={"accept": "text/html"})
    assert 'name="currency" value="BGN"' in panel.text
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/contacts/{contact['id']}")
    posted = await fx_client.post(f"/t/{fx_shop.slug}/contacts/{contact['id']}/orders", headers={
        "accept": "text/html"}, data={"_csrf": token, "currency": "", "item_name": "Мед", "item_qty": "1",
                                      "item_price": "12.50"})
    assert posted.status_code == 200, posted.text
    orders = (await fx_client.get(api(fx_shop, "/orders"), params={"contact_id": contact["id"]},
                                  headers=fx_shop.auth)).json()["items"]
    assert sorted(o["currency"] for o in orders) == ["BGN", "BGN", "EUR"]

    up = await _upload(fx_client, fx_shop, "id,name,item,price\nW-1,Ива,Мед,12.50\n".encode())
    mapped = await fx_client.put(api(fx_shop, f"/order-imports/{up['id']}/mapping"), headers=fx_shop.auth,
                                 json={"mapping": ["external_id", "contact_name", "item_name", "price"]})
    assert mapped.status_code == 200, mapped.text
    preview = (await fx_client.get(api(fx_shop, f"/order-imports/{up['id']}/preview"), headers=fx_shop.auth)).json()
    assert preview["orders"][0]["ok"] and "BGN" in preview["orders"][0]["total"], preview["orders"][0]["errors"]
    done = await _run(fx_client, fx_shop, up["id"])
    assert done["created"] == 1, done
    assert (await _orders(fx_client, fx_shop))["W-1"]["currency"] == "BGN"
