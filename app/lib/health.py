"""Health of the parts this process runs: the database and Redis it uses, plus what it registered at start-up (the
job worker, the inbound mail listener). Every part says `ok` or what is wrong; `report()` lists the failing ones,
and /health (web) or the worker's and mail-in's health port (`serve`) answer 503 while any fails, so a process
manager can restart or take the process out of rotation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.lib.db import platform_context
from app.lib.engine import DB
from app.lib.jobs import depth
from app.settings import get_settings

log = structlog.get_logger(__name__)

OK = "ok"
NOT_CONFIGURED = "not configured (in-memory)"
NOT_HERE = "not run in this process"
HEALTHY = {OK, NOT_CONFIGURED, NOT_HERE}

_parts: dict[str, Callable[[], str]] = {}


def register(name: str, probe: Callable[[], str]) -> None:
    """This process runs `name`; `probe()` says `ok` or what is wrong (it must not block)."""
    _parts[name] = probe


def unregister(name: str) -> None:
    _parts.pop(name, None)


async def check() -> tuple[str, str]:
    """(database, redis) status."""
    db = OK
    try:
        if DB.pool is None:
            db = "not started"
        else:
            async with DB.pool.acquire() as conn:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=2)
    except Exception as exc:  # report, don't crash: this is the health page
        db = f"error: {type(exc).__name__}"
    url = get_settings().redis.url
    if not url:
        return db, NOT_CONFIGURED
    try:
        client = aioredis.from_url(url)
        try:
            await asyncio.wait_for(client.ping(), timeout=2)
        finally:
            await client.aclose()
        return db, OK
    except Exception as exc:
        return db, f"error: {type(exc).__name__}"


async def _queue_depth() -> dict[str, int] | None:
    try:
        async with platform_context():
            return await asyncio.wait_for(depth(), timeout=2)
    except Exception:
        return None


async def report() -> dict[str, Any]:
    """Every part with its status, the job queue's depth, and which parts fail (empty: healthy)."""
    db, redis = await check()
    parts = {"db": db, "redis": redis}
    for name, probe in sorted(_parts.items()):
        try:
            parts[name] = probe()
        except Exception as exc:
            parts[name] = f"error: {type(exc).__name__}"
    for name in ("worker", "listeners"):
        parts.setdefault(name, NOT_HERE)
    failing = [name for name, state in parts.items() if state not in HEALTHY]
    out: dict[str, Any] = {"status": "degraded" if failing else "ok", **parts,
                           "jobs": await _queue_depth() if db == OK else None, "failing": failing}
    return out


# -- a health port for processes without a web server (`switchboard worker`, `switchboard mail-in`) ---------------

async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request = await asyncio.wait_for(reader.readline(), 5)
        with contextlib.suppress(TimeoutError):  # skip the headers; nothing in them matters here
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
        parts = request.decode("latin-1").split()
        if len(parts) >= 2 and parts[0] in ("GET", "HEAD") and parts[1].split("?")[0] == "/health":
            body = await report()
            status = "200 OK" if not body["failing"] else "503 Service Unavailable"
            payload = json.dumps(body).encode()
        else:
            status, payload = "404 Not Found", b'{"detail": "GET /health is all this port answers"}'
        head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n").encode()
        writer.write(head + (b"" if parts and parts[0] == "HEAD" else payload))
        await writer.drain()
    except (OSError, TimeoutError, UnicodeDecodeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def serve(port: int, host: str = "127.0.0.1") -> asyncio.Server:
    """Answer `GET /health` on host:port with `report()` (200 or 503), for a process manager's probe."""
    server = await asyncio.start_server(_answer, host, port)
    log.info("health_port_listening", host=host, port=port)
    return server
