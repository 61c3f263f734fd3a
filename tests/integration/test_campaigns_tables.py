"""Campaign tables: created in every shop's schema; a contact merge and an erasure treat recipients right."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow, tenant_context


async def _contact(name: str, phone: str) -> int:
    conn = current_uow().connection
    cid = int(await conn.fetchval("INSERT INTO contact (name) VALUES ($1) RETURNING id", name))
    await conn.execute("INSERT INTO contact_phone (contact, e164) VALUES ($1, $2)", cid, phone)
    return cid


async def _campaign(name: str) -> int:
    return int(await current_uow().connection.fetchval(
        "INSERT INTO campaign (name, channel) VALUES ($1, 'sms') RETURNING id", name))


async def _recipient(campaign: int, contact: int, address: str, status: str = "sent") -> None:
    await current_uow().connection.execute(
        "INSERT INTO campaign_recipient (campaign, contact, address, token, status, sent_at) "
        "VALUES ($1, $2, $3, md5(random()::text), $4, now())", campaign, contact, address, status)


async def test_merge_moves_recipients_keeping_one_row_per_campaign(fx_shop: Any) -> None:
    from app.campaigns.merge import MERGE_STEP

    async with tenant_context(fx_shop.tenant):
        keep, gone = await _contact("Keep", "+15550001001"), await _contact("Gone", "+15550001002")
        both, only = await _campaign("both"), await _campaign("only")
        await _recipient(both, keep, "+15550001001")
        await _recipient(both, gone, "+15550001002")
        await _recipient(only, gone, "+15550001002")
        await MERGE_STEP.fn(gone, keep)
        rows = await current_uow().connection.fetch(
            "SELECT campaign, contact, address FROM campaign_recipient ORDER BY campaign")
    assert [(r["campaign"], r["contact"], r["address"]) for r in rows] == [
        (both, keep, "+15550001001"), (only, keep, "+15550001002")]


async def test_erasure_clears_the_recipient_address(fx_shop: Any) -> None:
    from app.privacy import erase

    async with tenant_context(fx_shop.tenant):
        cid = await _contact("Erin Erased", "+15550002001")
        await _recipient(await _campaign("spring"), cid, "+15550002001")
    async with tenant_context(fx_shop.tenant):
        await erase.erase_contact(cid)
    async with tenant_context(fx_shop.tenant):
        address = await current_uow().connection.fetchval(
            "SELECT address FROM campaign_recipient WHERE contact = $1", cid)
    assert "5550002001" not in address
