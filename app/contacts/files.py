"""File attachments of a contact: upload with a size limit, sniffed type and hash; list; download; delete."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from app.audit import services as audit
from app.contacts import events, services
from app.contacts.tables import StoredFile
from app.lib import i18n, quotas
from app.lib.db import current_tenant, current_uow, tenant_selected
from app.lib.errors import DomainError, Forbidden, Invalid, NotFound
from app.lib.storage import ObjectNotFound, get_storage
from app.lib.uploads import SNIFF_BYTES, safe_filename, sniff
from app.settings import get_settings
from app.timeline import services as timeline
from realtime.publish import emit

COLUMNS = (StoredFile.id, StoredFile.contact.as_alias("contact_id"), StoredFile.filename, StoredFile.content_type,
           StoredFile.size, StoredFile.sha256, StoredFile.uploaded_by.as_alias("uploaded_by_id"),
           StoredFile.uploaded_by.name.as_alias("uploaded_by_name"), StoredFile.created_at)


class TooLarge(DomainError):
    status_code = 413


def max_bytes() -> int:
    return get_settings().storage.upload_max_mb * 1024 * 1024


def too_large_message() -> str:
    return i18n.gettext("The file is larger than the %(mb)s MB limit; compress it or share a link instead.",
                        mb=get_settings().storage.upload_max_mb)


class _Measured:
    """Wraps the upload stream: counts, hashes and keeps the first bytes for sniffing; stops at the limit."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int) -> None:
        self.chunks, self.limit = chunks, limit
        self.size = 0
        self.head = bytearray()
        self.hash = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise TooLarge(too_large_message(), field="file")
            if len(self.head) < SNIFF_BYTES:
                self.head.extend(chunk[:SNIFF_BYTES - len(self.head)])
            self.hash.update(chunk)
            yield chunk


async def upload(actor: Any, contact_id: int, filename: str, chunks: AsyncIterable[bytes]) -> dict[str, Any]:
    """Store the bytes, then record the file on the card, the timeline and the audit log."""
    await services.get(contact_id)
    name = safe_filename(filename)
    measured = _Measured(chunks, max_bytes())
    storage = get_storage()
    key = await storage.put(measured)
    try:
        if measured.size == 0:
            raise Invalid("The file is empty.", field="file")
        await quotas.check("storage", measured.size)  # refused: the stored bytes are deleted below
        content_type = sniff(bytes(measured.head), name)
        sha256 = measured.hash.hexdigest()
        rows = await StoredFile.insert(StoredFile(
            contact=contact_id, filename=name, content_type=content_type, size=measured.size, sha256=sha256,
            storage_key=key, uploaded_by=actor.user_id)).returning(StoredFile.id, StoredFile.created_at)
        file_id = int(rows[0]["id"])
        await timeline.record(contact_id, "file", "internal", "File attached: %(name)s", params={"name": name},
                              payload={"filename": name, "size": measured.size, "content_type": content_type,
                                       "sha256": sha256}, links={"file_id": file_id}, actor_type="user",
                              actor_id=actor.user_id, actor_label=actor.name or actor.email,
                              occurred_at=rows[0]["created_at"])
        await audit.record("file.uploaded", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                           target_id=contact_id, detail={"file_id": file_id, "filename": name, "size": measured.size,
                                                         "sha256": sha256})
    except BaseException:
        await storage.delete(key)
        raise
    await emit(events.CONTACT_UPDATED, contact_id=contact_id)
    return await get(contact_id, file_id)


async def quota_used() -> int:
    """Bytes of the contacts' files, as the plan's storage quota counts them."""
    return int(await current_uow().connection.fetchval("SELECT coalesce(sum(size), 0) FROM stored_file"))


async def list_for(contact_id: int) -> list[dict[str, Any]]:
    await services.get(contact_id)
    return await StoredFile.select(*COLUMNS).where(StoredFile.contact == contact_id).order_by(
        StoredFile.created_at, ascending=False).order_by(StoredFile.id, ascending=False)


async def get(contact_id: int, file_id: int) -> dict[str, Any]:
    """One file of one live contact; another contact's or another tenant's file id is simply not found."""
    await services.get(contact_id)
    row = await StoredFile.select(*COLUMNS, StoredFile.storage_key).where(
        (StoredFile.id == file_id) & (StoredFile.contact == contact_id)).first()
    if row is None:
        raise NotFound("No file %(file_id)s on contact %(contact_id)s.", file_id=file_id, contact_id=contact_id)
    return row


async def open_download(contact_id: int, file_id: int) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
    row = await get(contact_id, file_id)
    try:
        stream = await get_storage().open(row["storage_key"])
    except ObjectNotFound:
        raise NotFound("The content of file %(file_id)s is missing from storage.", file_id=file_id) from None
    return row, stream


async def delete(actor: Any, contact_id: int, file_id: int) -> None:
    """Admins only. The row goes now; the bytes go once the transaction commits; the timeline keeps the upload."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins can delete files.")
    row = await get(contact_id, file_id)
    await StoredFile.delete().where(StoredFile.id == file_id)
    await timeline.record(contact_id, "file", "internal", "File deleted: %(name)s",
                          params={"name": row["filename"]},
                          payload={"event": "deleted", "filename": row["filename"], "sha256": row["sha256"]},
                          links={"file_id": file_id}, actor_type="user", actor_id=actor.user_id,
                          actor_label=actor.name or actor.email)
    await audit.record("file.deleted", actor_id=actor.user_id, actor=actor.label, target_type="contact",
                       target_id=contact_id, detail={"file_id": file_id, "filename": row["filename"],
                                                     "sha256": row["sha256"]})
    key, storage, tenant = row["storage_key"], get_storage(), current_tenant()

    async def _remove_bytes() -> None:
        with tenant_selected(tenant):  # after-commit hooks run once the unit of work has let go of the tenant
            await storage.delete(key)

    current_uow().after_commit(_remove_bytes)
    await emit(events.CONTACT_UPDATED, contact_id=contact_id)


async def move_to(source_contact_id: int, target_contact_id: int) -> int:
    """Merge support: the files of one contact become the other's (storage keys do not name contacts)."""
    moved = await StoredFile.update({StoredFile.contact: target_contact_id}).where(
        StoredFile.contact == source_contact_id).returning(StoredFile.id)
    return len(moved)
