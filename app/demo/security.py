"""The demo shop's security console: a few refused requests of the last days (a webhook signed with an old token,
another Twilio account's callback, a replay, a chat embedded on a copycat site), so the page is not empty."""

from __future__ import annotations

import datetime as dt

from app.lib.db import resolve_active, tenant_context
from app.security import rejections

# (hours ago, reason, source, path, detail, how many that minute)
_LOG: list[tuple[int, str, str, str, str, int]] = [
    (70, rejections.BAD_SIGNATURE, "203.0.113.24", "webhooks/twilio/status", "", 3),
    (46, rejections.FOREIGN_SIGNATURE, "198.51.100.61", "webhooks/twilio/voice", "AccountSid AC0000demo0other", 1),
    (20, rejections.REPLAYED, "203.0.113.77", "webhooks/twilio/sms", "SM5f0demo", 1),
    (3, rejections.FOREIGN_ORIGIN, "192.0.2.15", "chat/sessions", "Origin https://copycat-shop.example", 2),
]


async def ensure_demo_security(slug: str) -> bool:
    """Add the demo rejections to the shop `slug` once (when its console is still empty)."""
    tenant = await resolve_active(slug)
    if tenant is None:
        return False
    async with tenant_context(tenant) as uow:
        conn = uow.connection
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM security_rejection_minute)"):
            return False
        for hours, reason, source, path, detail, times in _LOG:
            at = dt.timedelta(hours=hours)
            await conn.execute(
                "INSERT INTO security_rejection_minute (reason, source, minute, recorded, dropped) "
                "VALUES ($1, $2, date_trunc('minute', now() - $3::interval), $4, 0)", reason, source, at, times)
            await conn.executemany(
                "INSERT INTO security_rejection (reason, source, path, detail, at) "
                "VALUES ($1, $2, $3, $4, now() - $5::interval)",
                [(reason, source, f"/t/{slug}/{path}", detail, at)] * times)
    return True
