"""Contact file attachments in the JSON API: upload (multipart), list, download (authenticated), delete (admins)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import MultipartBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import files
from app.contacts.schemas import FileOut
from app.contacts.services import to_struct
from app.lib.uploads import download_headers, upload_chunks
from app.lib.wire import PathId
from app.settings import get_settings

Req = Request[Principal, Any, Any]
# Multipart framing (boundaries, part headers, a CSRF field) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def upload_body_limit() -> int:
    """The route-level cap Litestar enforces while it streams the request body (413 past it)."""
    return get_settings().storage.upload_max_mb * 1024 * 1024 + MULTIPART_OVERHEAD


def too_large_response(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[Any]:
    return Response({"detail": files.too_large_message(), "status_code": 413,
                     "errors": [{"field": "file", "message": files.too_large_message()}]}, status_code=413)


async def download_response(row: dict[str, Any], stream: AsyncIterator[bytes]) -> Response[bytes]:
    """The whole file in one response body. Not a `Stream`: TenantMiddleware holds every response message until
    its transaction commits, and Litestar's Stream waits for the client's disconnect before it finishes, which
    only comes after the held messages are sent: it would never end. Held or read, the bytes sit in memory
    either way, bounded by UPLOAD_MAX_MB."""
    headers = download_headers(row["filename"], row["content_type"])
    media_type = headers.pop("Content-Type").split(";")[0]  # Litestar adds `; charset=utf-8` to text/* itself
    body = b"".join([chunk async for chunk in stream])
    return Response(body, media_type=media_type, headers=headers)


@dataclasses.dataclass
class FileUpload:
    file: UploadFile
    """The file, as the `file` field of a multipart/form-data body."""


class ContactFilesApi(Controller):
    path = "/api/v1/contacts/{contact_id:int}/files"
    tags = ["contacts"]
    guards = [signed_in]
    exception_handlers = {RequestEntityTooLarge: too_large_response}

    @get("/", summary="Files attached to a contact, newest first")
    async def list_files(self, contact_id: PathId) -> list[FileOut]:
        return [to_struct(FileOut, r) for r in await files.list_for(contact_id)]

    @post("/", summary="Attach a file (multipart field `file`); the type is sniffed, the name sanitised",
          request_max_body_size=upload_body_limit())
    async def upload(self, request: Req, contact_id: PathId, data: MultipartBody[FileUpload]) -> FileOut:
        try:
            row = await files.upload(request.user, contact_id, data.file.filename, upload_chunks(data.file))
        finally:
            await data.file.close()  # also when the upload was refused before its bytes were read
        return to_struct(FileOut, row)

    @get("/{file_id:int}", summary="Download a file (always as an attachment)", media_type="application/octet-stream")
    async def download(self, contact_id: PathId, file_id: PathId) -> Response[bytes]:
        return await download_response(*await files.open_download(contact_id, file_id))

    @delete("/{file_id:int}", guards=[requires("admin")], summary="Delete a file; its upload stays on the timeline")
    async def remove(self, request: Req, contact_id: PathId, file_id: PathId) -> None:
        await files.delete(request.user, contact_id, file_id)
