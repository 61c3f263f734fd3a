"""File attachments: the storage backends, upload limits and hygiene, authenticated download, isolation."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.accounts.tables import User
from app.audit.tables import AuditEntry
from app.contacts.tables import StoredFile
from app.lib.db import NoTenantError, TenantRef, tenant_context, tenant_selected
from app.lib.storage import LocalStorage, MemoryStorage, ObjectNotFound, Storage, use_storage
from app.settings import get_settings
from tests.conftest import ShopFixture, browser_login, csrf_from

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + b"\x00" * 64
HTML = b"<!doctype html><html><script>fetch('/t/x/api/v1/me')</script></html>"
ALPHA = TenantRef(id=1, slug="alpha", schema="t_alpha")
BETA = TenantRef(id=2, slug="beta", schema="t_beta")


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


def _objects(storage: Storage) -> list[str]:
    """Every object a backend holds (temp files included), to prove nothing is left behind or written elsewhere."""
    if isinstance(storage, MemoryStorage):
        return list(storage._objects)
    assert isinstance(storage, LocalStorage)
    return [str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file()]


@pytest.fixture(params=["local", "memory"])
def fx_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Each backend in turn, also installed as the app's storage, so API tests run against both."""
    storage: Storage = LocalStorage(tmp_path / "files") if request.param == "local" else MemoryStorage()
    use_storage(storage)
    yield storage
    use_storage(None)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# -- the storage interface, same tests for every backend ------------------------------------------------------

async def test_storage_round_trip_in_chunks(fx_storage: Storage) -> None:
    data = secrets.token_bytes(200_000)
    with tenant_selected(ALPHA):
        key = await fx_storage.put(_chunks(data[:70_000], data[70_000:]))
        other = await fx_storage.put(_chunks(b"x"))
        assert key.startswith("t_alpha/files/") and key != other
        assert await fx_storage.exists(key)
        chunks = [c async for c in await fx_storage.open(key, chunk_size=65536)]
        assert b"".join(chunks) == data and max(len(c) for c in chunks) <= 65536
        await fx_storage.delete(key)
        await fx_storage.delete(key)  # after-commit deletes may run twice
        assert not await fx_storage.exists(key)
        with pytest.raises(ObjectNotFound):
            await fx_storage.open(key)
        assert await fx_storage.read_all(other) == b"x"


async def test_storage_keys_are_bound_to_their_tenant(fx_storage: Storage) -> None:
    with tenant_selected(ALPHA):
        key = await fx_storage.put(_chunks(b"alpha's secret"))
    with tenant_selected(BETA):
        assert not await fx_storage.exists(key)
        with pytest.raises(ObjectNotFound):
            await fx_storage.open(key)
        with pytest.raises(ObjectNotFound):
            await fx_storage.delete(key)
    with tenant_selected(ALPHA):
        assert await fx_storage.read_all(key) == b"alpha's secret"
    with pytest.raises(NoTenantError):
        await fx_storage.put(_chunks(b"nobody's"))


@pytest.mark.parametrize("key", ["../../etc/passwd", "t_alpha/files/../../../etc/passwd", "/etc/passwd",
                                 "t_alpha/files/" + "0" * 31 + "/", "t_alpha/../t_beta/files/" + "0" * 32,
                                 "t_alpha/files/" + "A" * 32, ""])
async def test_storage_refuses_keys_it_did_not_mint(fx_storage: Storage, key: str) -> None:
    with tenant_selected(ALPHA):
        assert not await fx_storage.exists(key)
        with pytest.raises(ObjectNotFound):
            await fx_storage.open(key)


async def test_a_failing_stream_leaves_nothing_behind(fx_storage: Storage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"half of it"
        raise RuntimeError("client went away")

    with tenant_selected(ALPHA), pytest.raises(RuntimeError):
        await fx_storage.put(broken())
    assert _objects(fx_storage) == []


# -- upload and download through the API ------------------------------------------------------------------------

async def _contact(client: Any, shop: ShopFixture, name: str = "Files Person") -> int:
    resp = await client.post(api(shop, "/contacts"), json={"name": name}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _upload(client: Any, shop: ShopFixture, contact_id: int, name: str, data: bytes,
                  content_type: str = "application/octet-stream") -> Any:
    return await client.post(api(shop, f"/contacts/{contact_id}/files"), files={"file": (name, data, content_type)},
                             headers=shop.auth)


async def _user_key(shop: ShopFixture, role: str) -> dict[str, str]:
    from app.accounts import services as accounts

    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}.{secrets.token_hex(3)}@x.example", name=role.title(), role=role,
                                      password_hash="not-used")).returning(User.id)
        _, key = await accounts._insert_api_key(rows[0]["id"], "test")
    return {"Authorization": f"Bearer {key}"}


async def test_upload_list_download_on_the_timeline_and_audited(
    fx_client: Any, fx_shop: ShopFixture, fx_storage: Storage
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    resp = await _upload(fx_client, fx_shop, contact_id, "Фото паспорта.png", PNG, "text/html")
    assert resp.status_code == 201, resp.text
    f = resp.json()
    assert f["content_type"] == "image/png" and f["size"] == len(PNG)
    assert f["sha256"] == hashlib.sha256(PNG).hexdigest() and f["filename"] == "Фото паспорта.png"

    listed = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files"), headers=fx_shop.auth)
    assert [x["id"] for x in listed.json()] == [f["id"]]

    down = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files/{f['id']}"), headers=fx_shop.auth)
    assert down.status_code == 200 and down.content == PNG
    assert down.headers["content-type"] == "image/png"
    assert down.headers["x-content-type-options"] == "nosniff"
    assert down.headers["content-disposition"] == (
        "attachment; filename=\"____ ________.png\"; "
        "filename*=UTF-8''%D0%A4%D0%BE%D1%82%D0%BE%20%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82%D0%B0.png")

    tl = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), params={"channel": "file"},
                              headers=fx_shop.auth)).json()["items"]
    assert tl[0]["links"] == {"file_id": f["id"]} and tl[0]["direction"] == "internal"
    assert tl[0]["payload"]["sha256"] == f["sha256"]
    async with tenant_context(fx_shop.tenant):
        assert await AuditEntry.exists().where((AuditEntry.action == "file.uploaded")
                                               & (AuditEntry.target_id == str(contact_id)))
        key = (await StoredFile.select(StoredFile.storage_key).where(StoredFile.id == f["id"]).first())["storage_key"]
    assert key.startswith(f"{fx_shop.tenant.schema}/files/") and _objects(fx_storage)


async def test_admin_deletes_a_file_the_timeline_keeps_it(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_storage: Storage) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    f = (await _upload(fx_client, fx_shop, contact_id, "a.txt", b"hello")).json()
    operator = await _user_key(fx_shop, "operator")
    url = api(fx_shop, f"/contacts/{contact_id}/files/{f['id']}")
    assert (await fx_client.delete(url, headers=operator)).status_code == 403
    assert (await fx_client.get(url, headers=operator)).status_code == 200  # operators may read
    assert (await fx_client.delete(url, headers=fx_shop.auth)).status_code == 204
    assert (await fx_client.get(url, headers=fx_shop.auth)).status_code == 404
    assert _objects(fx_storage) == []  # the bytes went after commit
    tl = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), params={"channel": "file"},
                              headers=fx_shop.auth)).json()["items"]
    assert [i["summary"] for i in tl] == ["File deleted: a.txt", "File attached: a.txt"]


async def test_size_limit_is_413_with_a_clear_message_and_stores_nothing(
    fx_client: Any, fx_shop: ShopFixture, fx_storage: Storage
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    limit = get_settings().storage.upload_max_mb * 1024 * 1024
    just_over = await _upload(fx_client, fx_shop, contact_id, "big.bin", b"\0" * (limit + 1))
    assert just_over.status_code == 413
    assert just_over.json()["detail"].startswith(f"The file is larger than the {limit // 2**20} MB limit")
    way_over = await _upload(fx_client, fx_shop, contact_id, "huge.bin", b"\0" * (limit + 512 * 1024))
    assert way_over.status_code == 413 and "MB limit" in way_over.json()["detail"]
    empty = await _upload(fx_client, fx_shop, contact_id, "empty.txt", b"")
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "file"
    missing = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/files"), data={"x": "1"},
                                   files={"other": ("a", b"a")}, headers=fx_shop.auth)
    assert missing.status_code == 400
    listed = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files"), headers=fx_shop.auth)
    assert listed.json() == [] and _objects(fx_storage) == []
    exact = await _upload(fx_client, fx_shop, contact_id, "exact.bin", b"\1" * limit)
    assert exact.status_code == 201 and exact.json()["size"] == limit


@pytest.mark.parametrize(
    ("name", "stored"),
    [("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("/etc/cron.d/evil", "evil"),
     ("..", "file"), ("....//....//x.txt", "x.txt"), ("CON.txt", "_CON.txt")],
)
async def test_path_traversal_names_never_reach_the_disk(
    fx_client: Any, fx_shop: ShopFixture, tmp_path: Path, name: str, stored: str
) -> None:
    storage = LocalStorage(tmp_path / "root" / "files")
    use_storage(storage)
    try:
        contact_id = await _contact(fx_client, fx_shop)
        resp = await _upload(fx_client, fx_shop, contact_id, name, b"root:x:0:0")
        assert resp.status_code == 201, resp.text
        assert resp.json()["filename"] == stored
        down = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files/{resp.json()['id']}"),
                                   headers=fx_shop.auth)
        assert f"filename*=UTF-8''{stored}" in down.headers["content-disposition"]
        files_on_disk = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert len(files_on_disk) == 1
        assert files_on_disk[0].is_relative_to(storage.root / fx_shop.tenant.schema / "files")
        assert re.fullmatch(r"[0-9a-f]{32}", files_on_disk[0].name)  # named by a random id, never by the user
    finally:
        use_storage(None)


async def test_control_characters_in_a_raw_multipart_filename(fx_client: Any, fx_shop: ShopFixture) -> None:
    """httpx percent-encodes control characters in filenames; a hostile client sends them raw."""
    contact_id = await _contact(fx_client, fx_shop)
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="../a\x00\x1b[31m.txt\x00.png"\r\n'
            b"Content-Type: image/png\r\n\r\nhello\r\n--XyZ--\r\n")
    resp = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/files"), content=body,
                                headers={**fx_shop.auth, "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["filename"] == "a[31m.txt.png"  # NUL and ESC gone, directories gone
    assert resp.json()["content_type"] == "text/plain; charset=utf-8"  # not the claimed image/png


@pytest.mark.parametrize(
    ("name", "data", "claimed", "expected"),
    [
        ("cat.png", HTML, "image/png", "text/plain; charset=utf-8"),
        ("page.html", HTML, "text/html", "text/plain; charset=utf-8"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml",
         "text/plain; charset=utf-8"),
        ("doc.pdf", b"MZ\x90\x00" + bytes(range(256)), "application/pdf", "application/octet-stream"),
        ("real.txt", PNG, "text/html", "image/png"),
    ],
    ids=["html-as-png", "html", "svg", "exe-as-pdf", "png-as-html"],
)
async def test_content_type_comes_from_the_bytes_not_the_client(
    fx_client: Any, fx_shop: ShopFixture, name: str, data: bytes, claimed: str, expected: str
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    resp = await _upload(fx_client, fx_shop, contact_id, name, data, claimed)
    assert resp.status_code == 201 and resp.json()["content_type"] == expected
    down = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files/{resp.json()['id']}"),
                               headers=fx_shop.auth)
    assert down.headers["content-type"] == expected
    assert down.headers["content-disposition"].startswith("attachment;")
    assert down.headers["x-content-type-options"] == "nosniff"


async def test_download_needs_credentials_of_this_tenant(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    f = (await _upload(fx_client, fx_shop, contact_id, "secret.txt", b"top secret")).json()
    url = api(fx_shop, f"/contacts/{contact_id}/files/{f['id']}")
    assert (await fx_client.get(url)).status_code == 401
    assert (await fx_client.get(url, headers={"Authorization": "Bearer sbk_made_up"})).status_code == 404
    assert (await fx_client.get(url, headers=fx_other_shop.auth)).status_code == 404
    theirs = await fx_client.get(api(fx_other_shop, f"/contacts/{contact_id}/files/{f['id']}"),
                                 headers=fx_other_shop.auth)
    assert theirs.status_code == 404 and "secret" not in theirs.text
    # Same tenant, another contact: the file id alone opens nothing.
    other_contact = await _contact(fx_client, fx_shop, "Someone Else")
    wrong = await fx_client.get(api(fx_shop, f"/contacts/{other_contact}/files/{f['id']}"), headers=fx_shop.auth)
    assert wrong.status_code == 404
    # The card's link: anonymous browsers go to the login page, a signed-in session downloads.
    page_url = f"/t/{fx_shop.slug}/contacts/{contact_id}/files/{f['id']}"
    anon = await fx_client.get(page_url, headers={"accept": "text/html"})
    assert anon.status_code == 303 and "/login" in anon.headers["location"]
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    down = await fx_client.get(page_url, headers={"accept": "text/html"})
    assert down.status_code == 200 and down.content == b"top secret"
    assert down.headers["content-type"] == "text/plain; charset=utf-8"
    assert down.headers["content-disposition"].startswith("attachment;")


async def test_card_fragment_uploads_and_deletes_with_session_and_csrf(fx_client: Any, fx_shop: ShopFixture) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/contacts/")
    base = f"/t/{fx_shop.slug}/contacts/{contact_id}/files"
    no_csrf = await fx_client.post(base, files={"file": ("a.txt", b"hello")}, headers={"HX-Request": "true"})
    assert no_csrf.status_code == 403
    frag = await fx_client.post(base, data={"_csrf": token}, files={"file": ("notes.txt", b"hello")},
                                headers={"HX-Request": "true"})
    assert frag.status_code == 200 and 'id="contact-files"' in frag.text and "notes.txt" in frag.text
    file_id = int(frag.text.split('data-file-id="', 1)[1].split('"', 1)[0])
    empty = await fx_client.post(base, data={"_csrf": token}, files={"file": ("e.txt", b"")},
                                 headers={"HX-Request": "true"})
    assert empty.status_code == 400 and "The file is empty." in empty.text
    listing = await fx_client.get(base, headers={"HX-Request": "true"})
    assert "notes.txt" in listing.text and 'data-testid="delete-file"' in listing.text
    gone = await fx_client.post(f"{base}/{file_id}/delete", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert gone.status_code == 200 and "No files yet." in gone.text


FILE_ROUTES = [
    ("GET", "/api/v1/contacts/{cid}/files"),
    ("POST", "/api/v1/contacts/{cid}/files"),
    ("GET", "/api/v1/contacts/{cid}/files/{fid}"),
    ("DELETE", "/api/v1/contacts/{cid}/files/{fid}"),
    ("GET", "/contacts/{cid}/files"),
    ("GET", "/contacts/{cid}/files/{fid}"),
    ("POST", "/contacts/{cid}/files/{fid}/delete"),
]


@pytest.mark.parametrize(("method", "path"), FILE_ROUTES)
async def test_file_routes_with_another_tenants_ids_and_keys_are_404(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, method: str, path: str
) -> None:
    contact_id = await _contact(fx_client, fx_shop, "Secret Customer")
    f = (await _upload(fx_client, fx_shop, contact_id, "secret.txt", b"secret")).json()
    kwargs: dict[str, Any] = {"files": {"file": ("x.txt", b"x")}} if method == "POST" and "delete" not in path else {}
    rel = path.format(cid=contact_id, fid=f["id"])
    foreign_key = await fx_client.request(method, f"/t/{fx_shop.slug}{rel}", headers=fx_other_shop.auth, **kwargs)
    assert foreign_key.status_code == 404
    foreign_id = await fx_client.request(method, f"/t/{fx_other_shop.slug}{rel}", headers=fx_other_shop.auth,
                                         **kwargs)
    assert foreign_id.status_code == 404 and "secret" not in foreign_id.text.lower()
    still = await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/files/{f['id']}"), headers=fx_shop.auth)
    assert still.content == b"secret"
