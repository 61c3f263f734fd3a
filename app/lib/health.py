"""Health probes of the services the app depends on."""

from __future__ import annotations

import asyncio

from app.piccolo_conf import DB
from app.settings import get_settings


async def check() -> tuple[str, str]:
    db = "ok"
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
        return db, "not configured (in-memory)"
    try:
        import redis.asyncio as aioredis

        client = aioredis.from_url(url)
        try:
            await asyncio.wait_for(client.ping(), timeout=2)
        finally:
            await client.aclose()
        return db, "ok"
    except Exception as exc:
        return db, f"error: {type(exc).__name__}"
