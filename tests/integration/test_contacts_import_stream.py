"""A big import file never sits in memory whole: the upload goes to storage as it streams in (what it answers is what
the whole file in hand answers), a file past the limit is refused mid-stream and leaves nothing behind, and errors.csv
is streamed from storage, saying how many refused rows it does not list."""

# ruff: noqa: RUF001  (Cyrillic test data on purpose)
from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.contacts import imports
from app.lib import import_csv
from app.lib import imports as import_lib
from app.lib.db import tenant_context
from app.lib.errors import DomainError
from app.lib.imports import ImportActor
from app.lib.storage import LocalStorage, MemoryStorage, get_storage, use_storage
from tests.conftest import ShopFixture

ACTOR = ImportActor(label="test")


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _big_file(encoding: str, size: int = 2 * import_csv.HEAD_BYTES) -> bytes:
    """More than the head an upload keeps (HEAD_BYTES), Cyrillic, with the head's end inside a UTF-8 character."""
    lines = ["ФИО;Телефон;Компания"]
    i = 0
    while sum(len(line) for line in lines) < size:
        lines.append(f'Иванов Пётр {i};+7 912 {i % 1000:03d}-{i % 100:02d}-{i % 97:02d};"ООО ""Ромашка""; филиал"')
        i += 1
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    if encoding == "utf-8":
        try:
            data[:import_csv.HEAD_BYTES].decode("utf-8")
        except UnicodeDecodeError:
            return data
        return b"x" + data  # shift by a byte: the head now ends inside a two-byte letter
    return data


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251"])
async def test_a_streamed_upload_answers_what_the_whole_file_answers(fx_shop: ShopFixture, encoding: str) -> None:
    data = _big_file(encoding)
    async with tenant_context(fx_shop.tenant):
        whole = await imports.upload(ACTOR, "big.csv", data)
        streamed = await imports.upload(ACTOR, "big.csv", _chunks(data, 4099))
        stored = await get_storage().read_all((await imports.KIND.state(streamed["id"]))["storage_key"])
    keys = ("encoding", "delimiter", "header", "fields", "total", "sample")
    assert {k: streamed[k] for k in keys} == {k: whole[k] for k in keys}
    assert (streamed["encoding"], streamed["delimiter"]) == (encoding, ";")
    assert streamed["total"] == data.count(b"\r\n") - 1
    assert stored == data, "storage holds the file as sent"


async def test_a_streamed_upload_goes_to_storage_as_it_arrives(fx_shop: ShopFixture, tmp_path: Any) -> None:
    data = _big_file("utf-8", 4 * import_csv.HEAD_BYTES)
    on_disk: list[int] = []

    async def watched(size: int) -> AsyncIterator[bytes]:
        async for chunk in _chunks(data, size):
            yield chunk
            on_disk.append(sum(p.stat().st_size for p in tmp_path.rglob("*.part")))  # written before the next read

    use_storage(LocalStorage(tmp_path))
    try:
        async with tenant_context(fx_shop.tenant):
            up = await imports.upload(ACTOR, "big.csv", watched(65_536))
    finally:
        use_storage(None)
    assert up["total"] == data.count(b"\r\n") - 1
    assert max(on_disk) >= len(data) - 65_536, "each chunk is in storage before the next one is read"


async def test_a_stream_past_the_limit_is_refused_and_leaves_nothing(fx_shop: ShopFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemoryStorage()
    use_storage(storage)
    monkeypatch.setattr(import_lib, "max_bytes", lambda: 10_000)
    try:
        async with tenant_context(fx_shop.tenant):
            with pytest.raises(DomainError) as refused:
                await imports.upload(ACTOR, "big.csv", _chunks(_big_file("utf-8"), 4099))
            assert refused.value.status_code == 413 and refused.value.field == "file"
            with pytest.raises(DomainError) as empty:
                await imports.upload(ACTOR, "blank.csv", _chunks(b"   \r\n" * 100, 7))
            assert empty.value.status_code == 400 and "empty" in empty.value.detail
    finally:
        use_storage(None)
    assert storage._objects == {}, "a refused upload's bytes are deleted"


async def test_errors_csv_streams_the_refused_rows_and_counts_those_not_kept(
        fx_shop: ShopFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["Name;Phone;Email"]
    for i in range(40):
        lines.append(f"Bad {i};12-34;" if i % 10 == 3 else f"Good {i};+1 415 555 {i:04d};good{i}@example.com")
    data = ("\r\n".join(lines) + "\r\n").encode()
    monkeypatch.setattr(imports, "MAX_ERRORS_KEPT", 3)  # 4 rows refused, 3 kept in detail
    monkeypatch.setattr(import_lib, "MAX_ERRORS_KEPT", 3)
    batches = import_lib._batches
    monkeypatch.setattr(import_lib, "_batches", lambda rows: batches(rows, 7))  # several reads from storage
    async with tenant_context(fx_shop.tenant):
        up = await imports.upload(ACTOR, "people.csv", data)
        await imports.start(ACTOR, up["id"])
    await imports.run(fx_shop.tenant, up["id"], batch_rows=5, processes=0)
    async with tenant_context(fx_shop.tenant):
        done = await imports.get(up["id"])
        name, chunks = await imports.errors_csv(up["id"])
        parts = [chunk async for chunk in chunks]
    assert (done["failed"], done["created"]) == (4, 36)
    assert name == "people-errors.csv" and len(parts) > 2, "one chunk per batch of rows read"
    body = b"".join(parts)
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == ["Name", "Phone", "Email", "error"]
    assert [r[0] for r in table[1:4]] == ["Bad 3", "Bad 13", "Bad 23"]
    assert all(r[3].startswith("phones[0]: ") for r in table[1:4])
    assert table[4][:3] == ["", "", ""] and table[4][3].startswith("1 more refused row is not listed"), table[4]
    assert len(table) == 5


async def test_another_shops_errors_csv_is_out_of_reach(fx_shop: ShopFixture, fx_other_shop: ShopFixture,
                                                        fx_client: Any) -> None:
    async with tenant_context(fx_shop.tenant):
        up = await imports.upload(ACTOR, "people.csv", b"Name;Phone\r\nBad;12-34\r\n")
    resp = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/imports/{up['id']}/errors.csv",
                               headers=fx_other_shop.auth)
    assert resp.status_code == 404
