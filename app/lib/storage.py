"""File storage behind a small interface: local disk or memory; keys are minted here, scoped to the current tenant."""

from __future__ import annotations

import abc
import asyncio
import functools
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from app.lib.db import current_tenant
from app.settings import get_settings

CHUNK = 64 * 1024
# `<tenant schema>/<namespace>/<32 hex>`: nothing a caller or a filename can influence reaches a path.
KEY_RE = re.compile(r"^(t_[a-z][a-z0-9_]{2,40})/([a-z][a-z0-9_]{0,19})/([0-9a-f]{32})$")
NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


class StorageError(Exception):
    """Base of storage failures."""


class ObjectNotFound(StorageError):
    """No such object for the current tenant (missing, malformed key, or another tenant's key)."""


def _parse(key: str) -> tuple[str, str, str]:
    """Split a key and check it belongs to the tenant of the current unit of work; foreign keys look missing."""
    match = KEY_RE.match(key or "")
    if match is None:
        raise ObjectNotFound("malformed storage key")
    schema, namespace, ident = match.groups()
    if schema != current_tenant().schema:
        raise ObjectNotFound("storage key of another tenant")
    return schema, namespace, ident


def new_key(namespace: str = "files") -> str:
    if not NAMESPACE_RE.match(namespace):
        raise ValueError(f"bad storage namespace {namespace!r}")
    return f"{current_tenant().schema}/{namespace}/{secrets.token_hex(16)}"


class Storage(abc.ABC):
    """Put a stream, open it again as a stream, delete it. Keys come from `put`, never from callers."""

    name: str = "abstract"

    async def put(self, chunks: AsyncIterable[bytes], *, namespace: str = "files") -> str:
        """Store the bytes `chunks` yields under a new key of the current tenant and return the key.
        If `chunks` raises (e.g. a size limit), nothing is left behind and the error propagates."""
        key = new_key(namespace)
        await self._write(key, chunks)
        return key

    async def open(self, key: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """An iterator over the object's bytes; raises ObjectNotFound at once (not on first read)."""
        _parse(key)
        if not await self._exists(key):
            raise ObjectNotFound("no such object")
        return self._read(key, chunk_size)

    async def read_all(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in await self.open(key)])

    async def exists(self, key: str) -> bool:
        try:
            _parse(key)
        except ObjectNotFound:
            return False
        return await self._exists(key)

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error (deletes run after commit, maybe twice)."""
        _parse(key)
        await self._delete(key)

    @abc.abstractmethod
    async def _write(self, key: str, chunks: AsyncIterable[bytes]) -> None: ...

    @abc.abstractmethod
    def _read(self, key: str, chunk_size: int) -> AsyncIterator[bytes]: ...

    @abc.abstractmethod
    async def _exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def _delete(self, key: str) -> None: ...


class MemoryStorage(Storage):
    """Objects in a dict: tests and throwaway demos (one process, lost at exit)."""

    name = "memory"

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}

    async def _write(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        buf = bytearray()
        async for chunk in chunks:
            buf.extend(chunk)
        self._objects[key] = bytes(buf)

    async def _read(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        data = self._objects.get(key)
        if data is None:
            raise ObjectNotFound("no such object")
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    async def _exists(self, key: str) -> bool:
        return key in self._objects

    async def _delete(self, key: str) -> None:
        self._objects.pop(key, None)


class LocalStorage(Storage):
    """Objects as files under `root/<tenant schema>/<namespace>/<id[:2]>/<id>`; written to a temp name, then renamed."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        schema, namespace, ident = _parse(key)
        path = (self.root / schema / namespace / ident[:2] / ident).resolve()
        if not path.is_relative_to(self.root):  # the key grammar already forbids it; belt and braces
            raise ObjectNotFound("storage key outside the storage root")
        return path

    async def _write(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(key)
        tmp = path.with_name(path.name + ".part")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(open, tmp, "xb")
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, tmp, path)

    async def _read(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound("no such object") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def _exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def _delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


_override: Storage | None = None


@functools.cache
def _configured() -> Storage:
    settings = get_settings()
    if settings.storage.backend == "memory":
        return MemoryStorage()
    return LocalStorage(settings.app.state_dir / "files")


def get_storage() -> Storage:
    """The process's storage backend, chosen by STORAGE_BACKEND."""
    return _override or _configured()


def use_storage(storage: Storage | None) -> None:
    """Swap the backend (tests run the same suite on every backend); None goes back to the configured one."""
    global _override
    _override = storage
