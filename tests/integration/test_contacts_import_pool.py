"""Contact import at speed: batches prepared ahead in worker processes land exactly what preparing in-process lands
(messy phones and emails, duplicates inside the file and against the shop's contacts); `switchboard contacts import`
runs the same service with a progress bar; another shop's contacts and imports stay out of reach."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from app.contacts import imports, imports_prepare
from app.contacts.tables import Contact, ContactEmail, ContactPhone
from app.lib.db import tenant_context
from app.lib.imports import ImportActor
from tests.conftest import ShopFixture

REPO = Path(__file__).resolve().parents[2]
MESSY = "\r\n".join([
    "Name,Phone,Email,Tags",
    "Anna Petrova,8 (912) 345-67-89,ANNA@Example.RU,vip",    # 2: 8-prefixed local number, email in capitals
    "Boris,+7 912 000 11 22,,",                               # 3
    "Anna again,+79123456789,,new",                           # 4: Anna's phone in E.164: a new tag for Anna
    "Bad phone,12-34,,",                                      # 5: refused
    "Bad email,,not-an-email,",                               # 6: refused
    "Existing,+7 (913) 111-22-33,,",                          # 7: the shop's contact, nothing to add
    "Dup email,,anna@example.ru,",                            # 8: Anna by email, nothing to add
    'Vera,"89161234567; +7 916 765-43-21",vera@example.com,',  # 9: two phones in one cell
    "Vera twin,+7 916 765 43 21,,twin",                       # 10: Vera's second phone: a tag for Vera
]).encode() + b"\r\n"
EXPECTED = [
    ("Anna Petrova", ["+79123456789"], ["anna@example.ru"], ["vip", "new"]),
    ("Boris", ["+79120001122"], [], []),
    ("Existing Person", ["+79131112233"], [], []),
    ("Vera", ["+79161234567", "+79167654321"], ["vera@example.com"], ["twin"]),
]


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _russian_shop_with_a_contact(client: Any, shop: ShopFixture, name: str, phone: str) -> int:
    resp = await client.put(api(shop, "/workspace"), json={"default_region": "RU"}, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    made = await client.post(api(shop, "/contacts"), json={"name": name, "phones": [phone]}, headers=shop.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _snapshot(shop: ShopFixture) -> list[tuple[str, list[str], list[str], list[str]]]:
    async with tenant_context(shop.tenant):
        contacts = await Contact.select(Contact.id, Contact.name, Contact.tags).where(Contact.deleted_at.is_null())
        phones = await ContactPhone.select(ContactPhone.contact, ContactPhone.e164).order_by(ContactPhone.position)
        emails = await ContactEmail.select(ContactEmail.contact, ContactEmail.email).order_by(ContactEmail.position)
    return sorted((c["name"], [p["e164"] for p in phones if p["contact"] == c["id"]],
                   [e["email"] for e in emails if e["contact"] == c["id"]], c["tags"]) for c in contacts)


async def _import(shop: ShopFixture, data: bytes, *, processes: int) -> dict[str, Any]:
    actor = ImportActor(label="test")
    async with tenant_context(shop.tenant):
        up = await imports.upload(actor, "messy.csv", data)
        assert up["fields"] == ["name", "phones", "emails", "tags"]
        await imports.start(actor, up["id"])
    await imports.run(shop.tenant, up["id"], batch_rows=2, processes=processes)  # the job body, batch after batch
    async with tenant_context(shop.tenant):
        return await imports.get(up["id"])


async def test_rows_prepared_in_worker_processes_land_as_rows_prepared_in_process(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    for shop in (fx_shop, fx_other_shop):
        await _russian_shop_with_a_contact(fx_client, shop, "Existing Person", "+79131112233")
    in_process = await _import(fx_shop, MESSY, processes=0)
    pooled_batches: list[int] = []
    real = imports_prepare.Preparer._pooled

    async def pooled_spy(self: imports_prepare.Preparer, *args: Any) -> Any:
        pooled_batches.append(len(args[-1]))
        return await real(self, *args)

    monkeypatch.setattr(imports_prepare.Preparer, "_pooled", pooled_spy)
    pooled = await _import(fx_other_shop, MESSY, processes=1)
    assert sum(pooled_batches) == 7, "every batch after the first was prepared by the worker process"
    for done in (in_process, pooled):
        assert done["status"] == "done"
        assert (done["processed"], done["created"], done["updated"], done["unchanged"], done["failed"]) == (
            9, 3, 2, 2, 2), done
    assert await _snapshot(fx_shop) == await _snapshot(fx_other_shop) == EXPECTED
    async with tenant_context(fx_other_shop.tenant):
        errors = await imports.errors(pooled["id"])
    assert [(e["row"], e["field"]) for e in errors] == [(5, "phones[0]"), (6, "emails[0]")]

    # One shop's key reads nothing of the other's imports.
    other = await fx_client.get(api(fx_shop, f"/imports/{in_process['id']}"), headers=fx_other_shop.auth)
    assert other.status_code in (401, 403, 404), other.text


async def test_cli_imports_a_file_into_one_shop_only(fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture,
                                                     tmp_path: Path) -> None:
    theirs = await _russian_shop_with_a_contact(fx_client, fx_other_shop, "Other shop's customer", "+79161234567")
    await _russian_shop_with_a_contact(fx_client, fx_shop, "Existing Person", "+79131112233")
    path = tmp_path / "contacts.csv"
    path.write_bytes(MESSY)
    errors = tmp_path / "refused.csv"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "contacts", "import", str(path), "--tenant", fx_shop.slug, "--errors-csv",
        str(errors), cwd=REPO, env={**os.environ, "COLUMNS": "200"}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "3 created, 2 updated, 2 unchanged, 2 refused" in text, text
    assert await _snapshot(fx_shop) == EXPECTED
    refused = list(csv.reader(io.StringIO(errors.read_bytes().decode("utf-8-sig"))))
    assert [r[0] for r in refused] == ["Name", "Bad phone", "Bad email"]

    # Vera's phone belongs to a contact of the other shop: that one is neither matched nor touched.
    assert await _snapshot(fx_other_shop) == [("Other shop's customer", ["+79161234567"], [], [])]
    async with tenant_context(fx_other_shop.tenant):
        assert (await Contact.select(Contact.version).where(Contact.id == theirs).first())["version"] == 1

    unknown = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "contacts", "import", str(path), "--tenant", "no_such_shop", cwd=REPO,
        env=dict(os.environ), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(unknown.communicate(), 120)
    assert unknown.returncode != 0 and "no_such_shop" in out.decode(errors="replace")
