"""What a contact merge does with campaign recipients: the survivor inherits them (one row per campaign)."""

from __future__ import annotations

from app.lib.db import current_uow
from app.lib.domain import MergeStep


async def _move_to_contact(source: int, target: int) -> int:
    """A campaign both contacts were in keeps the survivor's row (the UNIQUE (campaign, contact) pair); the merged
    contact's other rows move, so frequency caps and results count them for the survivor."""
    conn = current_uow().connection
    await conn.execute("DELETE FROM campaign_recipient s WHERE s.contact = $1 AND EXISTS "
                       "(SELECT 1 FROM campaign_recipient t WHERE t.campaign = s.campaign AND t.contact = $2)",
                       source, target)
    status = await conn.execute("UPDATE campaign_recipient SET contact = $2 WHERE contact = $1", source, target)
    return int(status.split()[-1])


MERGE_STEP = MergeStep("campaigns", _move_to_contact, tables=("campaign_recipient",))
