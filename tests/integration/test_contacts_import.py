"""Contact CSV import (messy files, mapping, preview, the background job, errors.csv, re-import) and CSV export."""
# ruff: noqa: RUF001  (the Russian test data is Cyrillic on purpose)

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from typing import Any

import pytest

from app.accounts.tables import User
from app.contacts import imports
from app.contacts.tables import Contact, ContactPhone
from app.lib.db import current_uow, tenant_context
from app.lib.imports import max_bytes
from app.lib.jobs import Worker
from tests.conftest import TEST_DSN, ShopFixture, browser_login, csrf_from

HEADER = "ФИО;Телефон;Телефон 2;E-mail;Компания;Теги;Размер;Дата рождения"
MESSY_LINES = [
    HEADER,                                                                                   # row 1
    'Иванов Иван;+7 (912) 345-67-89;;ivan@example.ru;"ООО ""Ромашка""; филиал";vip, опт;M;01.02.1985',  # 2
    "",                                                                                       # 3 (blank)
    "Петрова Анна;89123456780;8 (913) 111-22-33;anna@example.ru;ИП Петрова;;L;",               # 4
    "Сидоров Семён;12345;;;;;;",                                                              # 5 bad phone
    "Кузнецова Ольга;;;not-an-email;;;;",                                                     # 6 bad email
    "Смирнов Пётр;+7 912 000-11-22;;;;;XXL;",                                                 # 7 bad option
    "",                                                                                       # 8
    "   ",                                                                                    # 9 (blank)
    'Козлов Дмитрий;"+7 915 123-45-67, +7 916 765-43-21";;dmitry@example.ru;"Рога и копыта, ЗАО";;S;1990-12-31',  # 10
    "Иванов Иван дубль;+7 912 345 67 89;;;;новый;;",                                         # 11 same phone as row 2
]
MESSY_CP1251 = ("\r\n".join(MESSY_LINES) + "\r\n").encode("cp1251")
EXPECTED_MAPPING = ["name", "phones", "phones", "emails", "company", "tags", "custom.size", "birth_date"]


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _prepare_shop(client: Any, shop: ShopFixture) -> None:
    """Russian shop: local phone formats are read as +7, and a `Размер` (size) select field exists."""
    resp = await client.put(api(shop, "/workspace"), json={"default_region": "RU"}, headers=shop.auth)
    assert resp.status_code == 200
    resp = await client.post(api(shop, "/custom-fields"), headers=shop.auth,
                             json={"key": "size", "label": "Размер", "kind": "select", "options": ["S", "M", "L"]})
    assert resp.status_code == 201, resp.text


async def _upload(client: Any, shop: ShopFixture, data: bytes, name: str = "contacts.csv",
                  headers: dict[str, str] | None = None) -> Any:
    return await client.post(api(shop, "/imports"), files={"file": (name, data, "text/csv")},
                             headers=headers or shop.auth)


async def _wait_done(client: Any, shop: ShopFixture, import_id: int, seconds: float = 30.0) -> dict[str, Any]:
    for _ in range(int(seconds / 0.1)):
        body = (await client.get(api(shop, f"/imports/{import_id}"), headers=shop.auth)).json()
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {import_id} did not finish: {body}")


async def _import_through_queue(client: Any, shop: ShopFixture, data: bytes) -> dict[str, Any]:
    upload = await _upload(client, shop, data)
    assert upload.status_code == 201, upload.text
    import_id = upload.json()["id"]
    started = await client.post(api(shop, f"/imports/{import_id}/start"), headers=shop.auth)
    assert started.status_code == 202 and started.json()["status"] == "queued", started.text
    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    try:
        return await _wait_done(client, shop, import_id)
    finally:
        await worker.stop()


async def _find(client: Any, shop: ShopFixture, q: str) -> list[dict[str, Any]]:
    return (await client.get(api(shop, "/contacts"), params={"q": q}, headers=shop.auth)).json()["items"]


async def _contact_count(shop: ShopFixture) -> int:
    async with tenant_context(shop.tenant):
        return await Contact.count().where(Contact.deleted_at.is_null())


async def _user_key(shop: ShopFixture, role: str) -> dict[str, str]:
    from app.accounts import services as accounts

    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}.{secrets.token_hex(3)}@x.example", name=role.title(), role=role,
                                      password_hash="not-used")).returning(User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    return {"Authorization": f"Bearer {key}"}


# -- the messy file, end to end through the real queue ---------------------------------------------------------

async def test_messy_cp1251_file_lands_good_rows_and_reports_bad_ones(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare_shop(fx_client, fx_shop)
    upload = await _upload(fx_client, fx_shop, MESSY_CP1251, name="выгрузка из 1С.csv")
    assert upload.status_code == 201, upload.text
    up = upload.json()
    assert (up["encoding"], up["delimiter"], up["total"]) == ("cp1251", ";", 7)
    assert up["columns"] == HEADER.split(";")
    assert up["suggested_mapping"] == EXPECTED_MAPPING
    assert up["sample"][0][4] == 'ООО "Ромашка"; филиал'  # quoted, with the separator and doubled quotes inside
    assert {"key": "custom.size", "label": "Размер"} in up["fields"]

    preview = (await fx_client.get(api(fx_shop, f"/imports/{up['id']}/preview"), headers=fx_shop.auth)).json()["rows"]
    assert [(p["row"], p["ok"], p["field"]) for p in preview] == [
        (2, True, None), (4, True, None), (5, False, "phones[0]"), (6, False, "emails[0]"),
        (7, False, "custom.size"), (10, True, None), (11, True, None)]
    assert preview[0]["values"]["phones"] == ["+7 (912) 345-67-89"] and preview[0]["action"] == "create"

    done = await _import_through_queue_started(fx_client, fx_shop, up["id"])
    assert done["status"] == "done", done
    assert (done["total"], done["processed"], done["created"], done["updated"], done["unchanged"], done["failed"]) == (
        7, 7, 3, 1, 0, 3)
    assert [(e["row"], e["field"]) for e in done["errors"]] == [(5, "phones[0]"), (6, "emails[0]"), (7, "custom.size")]
    assert "not a valid phone number" in done["errors"][0]["message"]
    assert "not valid" in done["errors"][1]["message"]
    assert "must be one of: S, M, L" in done["errors"][2]["message"]

    ivan = await _find(fx_client, fx_shop, "иванов")
    assert len(ivan) == 1, "row 11 has row 2's phone: it updates that contact instead of creating another"
    ivan_card = ivan[0]
    assert ivan_card["name"] == "Иванов Иван" and ivan_card["phones"] == ["+79123456789"]
    assert ivan_card["company"] == 'ООО "Ромашка"; филиал' and ivan_card["emails"] == ["ivan@example.ru"]
    assert ivan_card["tags"] == ["vip", "опт", "новый"] and ivan_card["custom"] == {"size": "M"}
    assert ivan_card["birth_date"] == "1985-02-01"
    anna = (await _find(fx_client, fx_shop, "петрова"))[0]
    assert anna["phones"] == ["+79123456780", "+79131112233"] and anna["birth_date"] is None
    dmitry = (await _find(fx_client, fx_shop, "козлов"))[0]
    assert dmitry["phones"] == ["+79151234567", "+79167654321"] and dmitry["company"] == "Рога и копыта, ЗАО"
    assert await _contact_count(fx_shop) == 3

    timeline = (await fx_client.get(api(fx_shop, f"/contacts/{anna['id']}/timeline"), headers=fx_shop.auth)).json()
    assert [i["summary"] for i in timeline["items"]] == ["Contact created (import)"]
    assert f"Import #{up['id']}" in timeline["items"][0]["actor_label"]

    errors = await fx_client.get(api(fx_shop, f"/imports/{up['id']}/errors.csv"), headers=fx_shop.auth)
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    assert "attachment" in errors.headers["content-disposition"]
    assert errors.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == [*HEADER.split(";"), "error"]
    assert [r[0] for r in table[1:]] == ["Сидоров Семён", "Кузнецова Ольга", "Смирнов Пётр"]
    assert table[1][-1].startswith("phones[0]: ") and table[3][-1].startswith("custom.size: ")
    assert table[3][6] == "XXL"

    audit = (await fx_client.get(api(fx_shop, "/audit"), headers=fx_shop.auth)).json()["items"]
    by_action = {e["action"]: e for e in audit}
    assert by_action["contact_import.started"]["detail"]["rows"] == 7
    assert by_action["contact_import.finished"]["detail"] == {"total": 7, "created": 3, "updated": 1,
                                                              "unchanged": 0, "failed": 3}

    # The same file again: every good row finds its contact, nothing is created twice.
    again = await _import_through_queue(fx_client, fx_shop, MESSY_CP1251)
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 4, 3)
    assert await _contact_count(fx_shop) == 3


async def _import_through_queue_started(client: Any, shop: ShopFixture, import_id: int) -> dict[str, Any]:
    started = await client.post(api(shop, f"/imports/{import_id}/start"), headers=shop.auth)
    assert started.status_code == 202, started.text
    again = await client.post(api(shop, f"/imports/{import_id}/start"), headers=shop.auth)
    assert again.status_code == 409, "an import starts once"
    worker = Worker(TEST_DSN, poll_seconds=0.2)
    await worker.start()
    try:
        return await _wait_done(client, shop, import_id)
    finally:
        await worker.stop()


async def test_koi8r_file_and_utf8_bom_file_are_decoded(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare_shop(fx_client, fx_shop)
    koi8 = "Имя,Телефон,Почта\nЁлкина Жанна,+7 921 555-00-11,zhanna@example.ru\nЩукин Эдуард,,edik@example.ru\n"
    upload = await _upload(fx_client, fx_shop, koi8.encode("koi8_r"))
    assert upload.status_code == 201, upload.text
    assert (upload.json()["encoding"], upload.json()["delimiter"]) == ("koi8_r", ",")
    assert upload.json()["sample"][0][0] == "Ёлкина Жанна"
    import_id = upload.json()["id"]
    assert (await fx_client.post(api(fx_shop, f"/imports/{import_id}/start"), headers=fx_shop.auth)).status_code == 202
    await imports.run(fx_shop.tenant, import_id)  # the job body, without the queue
    assert [c["name"] for c in await _find(fx_client, fx_shop, "щукин")] == ["Щукин Эдуард"]

    bom = "\ufeffName\tPhone\tEmail\tTemperature\nMaria Lopez\t+1 415 555 0101\tmaria@example.com\tгорячий\n"
    upload = await _upload(fx_client, fx_shop, bom.encode("utf-8"))
    body = upload.json()
    assert (body["encoding"], body["delimiter"], body["columns"][0]) == ("utf-8-sig", "\t", "Name")
    assert body["suggested_mapping"] == ["name", "phones", "emails", "temperature"]
    assert (await fx_client.post(api(fx_shop, f"/imports/{body['id']}/start"), headers=fx_shop.auth)).status_code == 202
    await imports.run(fx_shop.tenant, body["id"])
    maria = (await _find(fx_client, fx_shop, "maria"))[0]
    assert maria["temperature"] == "hot" and maria["phones"] == ["+14155550101"]


async def test_mapping_is_checked_and_fixed_before_start(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare_shop(fx_client, fx_shop)
    up = (await _upload(fx_client, fx_shop, MESSY_CP1251)).json()
    url = api(fx_shop, f"/imports/{up['id']}/mapping")
    short = await fx_client.put(url, json={"mapping": ["name"]}, headers=fx_shop.auth)
    assert short.status_code == 400 and short.json()["errors"][0]["field"] == "fields"
    unknown = await fx_client.put(url, json={"mapping": ["name", "fax", *EXPECTED_MAPPING[2:]]}, headers=fx_shop.auth)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "fields[1]"
    twice = await fx_client.put(url, json={"mapping": [*EXPECTED_MAPPING[:7], "custom.size"]}, headers=fx_shop.auth)
    assert twice.status_code == 400 and "already mapped" in twice.json()["detail"]
    nothing = await fx_client.put(url, json={"mapping": ["ignore"] * 8}, headers=fx_shop.auth)
    assert nothing.status_code == 400
    # Size ignored: row 7's unknown option no longer matters.
    mapping = [*EXPECTED_MAPPING[:6], "ignore", "birth_date"]
    ok = await fx_client.put(url, json={"mapping": mapping}, headers=fx_shop.auth)
    assert ok.status_code == 200 and ok.json()["mapping"] == mapping
    preview = (await fx_client.get(api(fx_shop, f"/imports/{up['id']}/preview"), headers=fx_shop.auth)).json()["rows"]
    assert [p["ok"] for p in preview] == [True, True, False, False, True, True, True]
    assert (await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)).status_code == 202
    late = await fx_client.put(url, json={"mapping": EXPECTED_MAPPING}, headers=fx_shop.auth)
    assert late.status_code == 409


async def test_a_retried_job_resumes_without_doubling_rows(
    fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["name,phone,email"] + [f"Client {i},+1 415 555 01{i:02d},client{i}@example.com" for i in range(10)]
    up = (await _upload(fx_client, fx_shop, "\n".join(lines).encode())).json()
    assert (await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)).status_code == 202

    real_write = imports._write
    calls = {"n": 0}

    async def flaky_write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch's writes: the worker dies mid-batch
            raise RuntimeError("worker lost its connection")
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(imports, "_write", flaky_write)
    with pytest.raises(RuntimeError):
        await imports.run(fx_shop.tenant, up["id"], batch_rows=3)
    async with tenant_context(fx_shop.tenant):
        state = await imports.get(up["id"])
    assert (state["status"], state["processed"], state["created"]) == ("running", 3, 3)
    assert await _contact_count(fx_shop) == 3, "the interrupted batch rolled back whole"

    monkeypatch.setattr(imports, "_write", real_write)
    await imports.run(fx_shop.tenant, up["id"], batch_rows=3)
    await imports.run(fx_shop.tenant, up["id"], batch_rows=3)  # a duplicate delivery of a finished job: no-op
    done = (await fx_client.get(api(fx_shop, f"/imports/{up['id']}"), headers=fx_shop.auth)).json()
    assert (done["status"], done["processed"], done["created"], done["failed"]) == ("done", 10, 10, 0)
    assert await _contact_count(fx_shop) == 10
    async with tenant_context(fx_shop.tenant):
        assert await ContactPhone.count() == 10


# -- refusing uploads ------------------------------------------------------------------------------------------

async def test_the_job_refreshes_the_planners_statistics_as_it_fills_the_tables(
    fx_client: Any, fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never-analysed tables make the batch's owner lookup hash every contact (a cost growing with the table): the
    job analyses them after its first ANALYZE_FIRST contacts, then each time it has landed as many as the table held."""
    lines = ["name,phone,email"] + [f"Client {i},+1 415 555 01{i:02d},client{i}@example.com" for i in range(10)]
    up = (await _upload(fx_client, fx_shop, "\n".join(lines).encode())).json()
    assert (await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)).status_code == 202
    monkeypatch.setattr(imports, "ANALYZE_FIRST", 3)

    async def sizes() -> list[float]:
        async with tenant_context(fx_shop.tenant):
            return [await current_uow().connection.fetchval(
                "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", table)
                for table in ("contact", "contact_phone", "contact_email")]

    assert await sizes() == [-1, -1, -1], "a new shop's tables are not analysed yet"
    await imports.run(fx_shop.tenant, up["id"], batch_rows=3)
    # batches of 3: analysed after 3 (then due after 3 more), after 6 (due after 6 more: not reached by row 10)
    assert await sizes() == [6, 6, 6]
    assert await _contact_count(fx_shop) == 10


async def test_uploads_that_are_not_csv_or_too_big_are_refused_clearly(fx_client: Any, fx_shop: ShopFixture) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100
    resp = await _upload(fx_client, fx_shop, png, name="photo.csv")
    assert resp.status_code == 400 and "not a CSV file" in resp.json()["detail"]
    assert resp.json()["errors"][0]["field"] == "file"
    xlsx = b"PK\x03\x04" + b"\x14\x00" * 20 + b"[Content_Types].xml" + b"\x00" * 100
    resp = await _upload(fx_client, fx_shop, xlsx, name="clients.xlsx")
    assert resp.status_code == 400 and "save it as CSV" in resp.json()["detail"]
    resp = await _upload(fx_client, fx_shop, b"   \n\n", name="empty.csv")
    assert resp.status_code == 400 and "empty" in resp.json()["detail"]
    resp = await _upload(fx_client, fx_shop, b"name,phone\n", name="header-only.csv")
    assert resp.status_code == 400 and "no rows" in resp.json()["detail"]

    limit = max_bytes()
    row = b"Somebody,+1 415 555 0100,somebody@example.com\n"
    just_over = b"name,phone,email\n" + row * (limit // len(row) + 1)
    resp = await _upload(fx_client, fx_shop, just_over)
    assert resp.status_code == 413 and "20 MB import limit" in resp.json()["detail"]
    way_over = just_over + row * (2 * 1024 * 1024 // len(row))
    resp = await _upload(fx_client, fx_shop, way_over)
    assert resp.status_code == 413 and "20 MB import limit" in resp.json()["detail"]
    async with tenant_context(fx_shop.tenant):
        assert await imports.recent() == []


# -- roles and tenants -----------------------------------------------------------------------------------------

async def test_import_is_for_admins_and_export_for_supervisors(fx_client: Any, fx_shop: ShopFixture) -> None:
    operator = await _user_key(fx_shop, "operator")
    supervisor = await _user_key(fx_shop, "supervisor")
    data = b"name,phone\nAnn,+1 415 555 0100\n"
    for who in (operator, supervisor):
        assert (await _upload(fx_client, fx_shop, data, headers=who)).status_code == 403
    import_id = (await _upload(fx_client, fx_shop, data)).json()["id"]
    for path in ("", "/preview", "/errors.csv"):
        assert (await fx_client.get(api(fx_shop, f"/imports/{import_id}{path}"), headers=operator)).status_code == 403
    assert (await fx_client.post(api(fx_shop, f"/imports/{import_id}/start"), headers=operator)).status_code == 403
    assert (await fx_client.get(api(fx_shop, "/contacts/export.csv"), headers=operator)).status_code == 403
    assert (await fx_client.get(api(fx_shop, "/contacts/export.csv"), headers=supervisor)).status_code == 200


async def test_another_tenant_cannot_reach_imports_or_export(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    await _prepare_shop(fx_client, fx_shop)
    up = (await _upload(fx_client, fx_shop, MESSY_CP1251)).json()
    await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)
    await imports.run(fx_shop.tenant, up["id"])
    b = fx_other_shop
    for path in ("", "/preview", "/errors.csv"):
        # B's key on A's routes, and A's import id on B's routes: both simply not found.
        assert (await fx_client.get(api(fx_shop, f"/imports/{up['id']}{path}"), headers=b.auth)).status_code == 404
        assert (await fx_client.get(api(b, f"/imports/{up['id']}{path}"), headers=b.auth)).status_code == 404
    assert (await fx_client.post(api(b, f"/imports/{up['id']}/start"), headers=b.auth)).status_code == 404
    assert (await fx_client.put(api(b, f"/imports/{up['id']}/mapping"), json={"mapping": EXPECTED_MAPPING},
                                headers=b.auth)).status_code == 404
    assert (await fx_client.get(api(fx_shop, "/contacts/export.csv"), headers=b.auth)).status_code == 404
    own = await fx_client.get(api(b, "/contacts/export.csv"), headers=b.auth)
    assert own.status_code == 200 and "Иванов" not in own.content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(own.content.decode("utf-8-sig"))))) == 1  # the header only


# -- export ----------------------------------------------------------------------------------------------------

async def test_export_returns_exactly_the_filtered_contacts(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await fx_client.post(api(fx_shop, "/custom-fields"), headers=fx_shop.auth,
                                json={"key": "tier", "label": "Tier", "kind": "text"})
    assert resp.status_code == 201
    made = []
    for i, (tags, temp) in enumerate([(["vip"], "hot"), (["vip"], "cold"), ([], "hot"), (["vip", "b2b"], "hot")]):
        body = {"name": f"Exported {i}", "phones": [f"+1 415 555 02{i:02d}"], "emails": [f"e{i}@example.com"],
                "tags": tags, "temperature": temp, "custom": {"tier": f"t{i}"}, "birth_date": "1990-01-0" + str(i + 1)}
        r = await fx_client.post(api(fx_shop, "/contacts"), json=body, headers=fx_shop.auth)
        made.append(r.json())
    danger = await fx_client.post(api(fx_shop, "/contacts"), headers=fx_shop.auth,
                                  json={"name": '=HYPERLINK("http://evil.example","x")', "tags": ["vip"],
                                        "temperature": "hot", "phones": ["+1 415 555 0299"]})
    assert danger.status_code == 201

    params = {"tag": "vip", "temperature": "hot", "sort": "name"}
    listed = (await fx_client.get(api(fx_shop, "/contacts"), params=params, headers=fx_shop.auth)).json()["items"]
    resp = await fx_client.get(api(fx_shop, "/contacts/export.csv"), params=params, headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    assert resp.content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    table = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert table[0] == ["id", "name", "company", "phones", "emails", "tags", "temperature", "owner", "birth_date",
                        "address", "last_contact_at", "created_at", "timezone", "tier"]
    assert [int(r[0]) for r in table[1:]] == [c["id"] for c in listed]
    assert {int(r[0]) for r in table[1:]} == {made[0]["id"], made[3]["id"], danger.json()["id"]}
    row = next(r for r in table[1:] if int(r[0]) == made[3]["id"])
    assert row[3:7] == ["+14155550203", "e3@example.com", "vip, b2b", "hot"] and row[8] == "1990-01-04"
    assert row[13] == "t3" and re.match(r"^\d{4}-\d{2}-\d{2}T", row[11])
    evil = next(r for r in table[1:] if int(r[0]) == danger.json()["id"])
    assert evil[1].startswith("'="), "a formula is neutralised"

    by_phone = await fx_client.get(api(fx_shop, "/contacts/export.csv"), params={"q": "(415) 555-0201"},
                                   headers=fx_shop.auth)
    assert [int(r[0]) for r in list(csv.reader(io.StringIO(by_phone.content.decode("utf-8-sig"))))[1:]] == [
        made[1]["id"]]
    bad = await fx_client.get(api(fx_shop, "/contacts/export.csv"), params={"temperature": "boiling"},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "temperature"

    # An export imported back finds every contact: nothing is created twice.
    everything = await fx_client.get(api(fx_shop, "/contacts/export.csv"), headers=fx_shop.auth)
    up = (await _upload(fx_client, fx_shop, everything.content)).json()
    assert up["suggested_mapping"][:6] == ["ignore", "name", "company", "phones", "emails", "tags"]
    assert (await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)).status_code == 202
    await imports.run(fx_shop.tenant, up["id"])
    done = (await fx_client.get(api(fx_shop, f"/imports/{up['id']}"), headers=fx_shop.auth)).json()
    assert (done["created"], done["failed"], done["unchanged"]) == (0, 0, 5)


# -- the pages -------------------------------------------------------------------------------------------------

async def test_upload_map_preview_and_progress_pages(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _prepare_shop(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/contacts/import"
    contacts_page = await fx_client.get(f"/t/{fx_shop.slug}/contacts/", headers={"accept": "text/html"})
    assert f'href="{base}"' in contacts_page.text and "export.csv" in contacts_page.text
    token = await csrf_from(fx_client, f"{base}/")
    no_token = await fx_client.post(f"{base}/", files={"file": ("c.csv", MESSY_CP1251, "text/csv")})
    assert no_token.status_code == 403
    resp = await fx_client.post(f"{base}/", data={"_csrf": token}, files={"file": ("c.csv", MESSY_CP1251, "text/csv")},
                                headers={"accept": "text/html"})
    assert resp.status_code == 303, resp.text
    page_url = resp.headers["location"]
    import_id = int(page_url.rsplit("/", 1)[1])

    page = await fx_client.get(page_url, headers={"accept": "text/html"})
    assert page.status_code == 200 and "Windows-1251" in page.text and "semicolon" in page.text
    assert 'name="col_6"' in page.text and re.search(r'<option value="custom.size" selected', page.text)
    assert page.text.count('data-testid="preview-row"') == 7 and page.text.count('data-ok="no"') == 3
    assert "not a valid phone number" in page.text

    form = {f"col_{i}": f for i, f in enumerate(EXPECTED_MAPPING)} | {"col_6": "ignore"}
    htmx = {"X-CSRF-Token": token, "HX-Request": "true"}
    fragment = await fx_client.post(f"{base}/{import_id}/preview", data=form, headers=htmx)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count('data-ok="no"') == 2, "with the size column ignored, row 7 is fine"
    twice = {**form, "col_6": "custom.size", "col_7": "custom.size"}
    bad = await fx_client.post(f"{base}/{import_id}/preview", data=twice, headers=htmx)
    assert bad.status_code == 400 and "already mapped" in bad.text

    started = await fx_client.post(f"{base}/{import_id}/start", data={**form, "_csrf": token},
                                   headers={"accept": "text/html"})
    assert started.status_code == 303 and started.headers["location"] == page_url
    running = await fx_client.get(page_url, headers={"accept": "text/html"})
    assert 'hx-trigger="every 1s"' in running.text and 'data-status="queued"' in running.text
    await imports.run(fx_shop.tenant, import_id)
    progress = await fx_client.get(f"{base}/{import_id}/progress", headers=htmx)
    assert 'data-status="done"' in progress.text and "every 1s" not in progress.text
    assert re.search(r'data-testid="count-created">4<', progress.text), "row 7 lands: its size column is ignored"
    assert "emails[0]" in progress.text and f"{base}/{import_id}/errors.csv" in progress.text
    download = await fx_client.get(f"{base}/{import_id}/errors.csv")
    assert download.status_code == 200 and "Кузнецова Ольга" in download.content.decode("utf-8-sig")
    listing = await fx_client.get(f"{base}/", headers={"accept": "text/html"})
    assert "c.csv" in listing.text and 'data-testid="import-list"' in listing.text


async def test_oversized_and_garbage_uploads_on_the_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/contacts/import"
    token = await csrf_from(fx_client, f"{base}/")
    garbage = await fx_client.post(f"{base}/", data={"_csrf": token}, headers={"accept": "text/html"},
                                   files={"file": ("x.csv", b"\x00\x01\x02binary" * 50, "text/csv")})
    assert garbage.status_code == 400 and "not a CSV file" in garbage.text
    huge = b"a,b\n" + b"x" * (max_bytes() + 2 * 1024 * 1024)
    # As a browser sends it: the token in the form, so the CSRF check itself reads the (too big) body.
    resp = await fx_client.post(f"{base}/", data={"_csrf": token}, headers={"accept": "text/html"},
                                files={"file": ("big.csv", huge, "text/csv")})
    assert resp.status_code == 413 and "20 MB import limit" in resp.text


async def test_refused_rows_are_explained_in_the_importers_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The job stores each refusal's reason in the words of whoever started the import (here the workspace's
    Bulgarian: the owner chose no language of their own); the progress page shows them as stored."""
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": "bg"}, headers=fx_shop.auth)
    data = "name,phone,temperature\nИва,+359 88 123 4567,hot\nБоби,12,warm\nДани,+359 88 765 4321,lukewarm\n"
    done = await _import_through_queue(fx_client, fx_shop, data.encode())
    assert done["created"] == 1 and [e["row"] for e in done["errors"]] == [3, 4], done
    assert "не е валиден телефонен номер" in done["errors"][0]["message"]
    assert "temperature трябва да е една от стойностите: hot, warm, cold (или празно)." == done["errors"][1][
        "message"]


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["Телефон(ы)", "Теги (через запятую)", "Температура (горячий / тёплый / холодный)", "— пропустить —"]),
    ("bg", ["Телефон(и)", "Имейл(и)", "Етикети (разделени със запетая)", "Температура (горещ / топъл / студен)"]),
])
async def test_the_mapping_choices_speak_the_readers_language(fx_client: Any, fx_shop: ShopFixture, language: str,
                                                             expected: list[str]) -> None:
    await _prepare_shop(fx_client, fx_shop)
    await fx_client.put(api(fx_shop, "/workspace"), json={"language": language}, headers=fx_shop.auth)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/contacts/import"
    token = await csrf_from(fx_client, f"{base}/")
    resp = await fx_client.post(f"{base}/", data={"_csrf": token}, files={"file": ("c.csv", MESSY_CP1251, "text/csv")},
                                headers={"accept": "text/html"})
    assert resp.status_code == 303, resp.text
    page = (await fx_client.get(resp.headers["location"], headers={"accept": "text/html"})).text
    for label in expected:
        assert f">{label}</option>" in page, label
    assert ">Размер</option>" in page and ">Phone(s)</option>" not in page  # the shop's own field: as typed


# -- set-based batches -----------------------------------------------------------------------------------------

async def test_batches_fill_existing_contacts_as_the_services_would_and_announce_one_event_each(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """An existing card is filled (company, a second phone, a tag) by a row matching its email; a later row of the
    next batch matches the phone that row added; rows repeating each other inside a batch make one contact. Each
    batch writes its audit entries and publishes one progress event, not an event per contact."""
    from app.audit.tables import AuditEntry

    made = await fx_client.post(api(fx_shop, "/contacts"), headers=fx_shop.auth,
                                json={"name": "Old Card", "emails": ["old@example.com"], "tags": ["keep"],
                                      "phones": ["+1 415 555 0300"]})
    assert made.status_code == 201, made.text
    old = made.json()
    lines = ["name,company,phone,email,tags",
             "Ignored Name,Acme,+1 415 555 0301,old@example.com,new",     # fills the old card
             "Twin,,+1 415 555 0310,twin@example.com,a",                 # new
             "Twin again,Twin Co,+1 415 555 0310,,b",                    # same batch: fills the new card
             "Bad,,12,,",                                                # refused
             "Via second phone,,+1 415 555 0301,,later"]                 # next batch: the phone row 2 added
    up = (await _upload(fx_client, fx_shop, "\n".join(lines).encode())).json()
    assert (await fx_client.post(api(fx_shop, f"/imports/{up['id']}/start"), headers=fx_shop.auth)).status_code == 202
    await imports.run(fx_shop.tenant, up["id"], batch_rows=4)
    done = (await fx_client.get(api(fx_shop, f"/imports/{up['id']}"), headers=fx_shop.auth)).json()
    assert (done["status"], done["created"], done["updated"], done["unchanged"], done["failed"]) == (
        "done", 1, 3, 0, 1), done

    card = (await fx_client.get(api(fx_shop, f"/contacts/{old['id']}"), headers=fx_shop.auth)).json()
    assert card["name"] == "Old Card" and card["company"] == "Acme"
    assert card["phones"] == ["+14155550300", "+14155550301"] and card["tags"] == ["keep", "new", "later"]
    assert card["version"] == old["version"] + 2
    assert (await _find(fx_client, fx_shop, "4155550301"))[0]["id"] == old["id"], "search text follows the phone"
    twins = await _find(fx_client, fx_shop, "twin")
    assert len(twins) == 1 and twins[0]["company"] == "Twin Co" and twins[0]["tags"] == ["a", "b"]
    assert twins[0]["emails"] == ["twin@example.com"] and twins[0]["version"] == 2

    async with tenant_context(fx_shop.tenant):
        audited = await AuditEntry.select(AuditEntry.target_id, AuditEntry.detail).where(
            AuditEntry.action == "contact.updated").order_by(AuditEntry.id).output(load_json=True)
        names = {r["name"]: r["n"] for r in await current_uow().connection.fetch(
            "SELECT name, count(*) AS n FROM event_log GROUP BY name")}
    assert [(a["target_id"], a["detail"]["fields"]) for a in audited] == [
        (str(old["id"]), ["company", "phones", "tags"]), (str(twins[0]["id"]), ["company", "tags"]),
        (str(old["id"]), ["tags"])]
    assert names.get("contact_import.progress") == 3, names  # two batches of rows, then the empty one that ends it
    assert names.get("contact.created") == 1 and "contact.updated" not in names, names  # only the card made above
