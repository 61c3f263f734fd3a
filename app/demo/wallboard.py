"""The demo shop's wallboard link: a fixed, public secret like the demo passwords, so `make run` can print a link
that opens the board on a second screen (an admin who revokes it is respected: it is made only once)."""

from __future__ import annotations

from app.lib.db import resolve_active, tenant_context
from app.lib.security import token_hash
from app.wallboard.tables import WallboardToken

DEMO_WALLBOARD_TOKEN = "wb_demo-floor-tv-not-a-secret"  # noqa: S105 - the demo's public link, like its passwords


def demo_wallboard_path(slug: str) -> str:
    return f"/t/{slug}/wallboard?token={DEMO_WALLBOARD_TOKEN}&tv=1"


async def ensure_demo_wallboard(slug: str) -> bool:
    """Add the demo's wallboard link to the shop `slug` once."""
    tenant = await resolve_active(slug)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        digest = token_hash(DEMO_WALLBOARD_TOKEN)
        if await WallboardToken.exists().where(WallboardToken.token_hash == digest):
            return False
        await WallboardToken.insert(WallboardToken(name="Demo: floor TV", prefix=DEMO_WALLBOARD_TOKEN[:12],
                                                   token_hash=digest))
    return True
