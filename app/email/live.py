"""Email in the live console: the latest customer email of each of my email conversations, and the console
refresh when an inbound email arrives (the open card follows through `interaction.created`)."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.conversations.live import console_mine, console_shared, handler_of
from app.lib.db import TenantRef, current_uow
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED, Memo

SNIPPET = 400

_LATEST_INBOUND = """
SELECT DISTINCT ON (conversation) id, conversation, subject, from_address, left(text, $2) AS snippet, created_at
FROM email_message
WHERE conversation = ANY($1::int[]) AND direction = 'in'
ORDER BY conversation, id DESC
"""


async def console_extras(ctx: dict[str, Any]) -> dict[str, Any]:
    """`emails`: conversation id -> the customer's latest email, for the email items of "My conversations"."""
    ids = [c["id"] for c in ctx["mine"] if c["channel"] == "email"]
    if not ids:
        return {"emails": {}}
    rows = await current_uow().connection.fetch(_LATEST_INBOUND, ids, SNIPPET)
    return {"emails": {r["conversation"]: dict(r) for r in rows}}


async def _handler(event: Event, memo: Memo) -> list[int]:
    """The operator handling the email's conversation (only for email: other channels' messages are theirs)."""
    return await handler_of(event, memo) if event.data.get("channel") == "email" else []


@renders("message.received", audience=BY_ROLE)
async def console_on_email(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """A new email in a conversation that is already in the console (a reply in its thread) changes no queue
    event, so the panels are re-rendered here; other channels' messages are left to their own renderers."""
    if event.data.get("channel") != "email":
        return None
    return await console_shared(event, tenant, user)


@renders("message.received", audience=CONCERNED.but(users=_handler))
async def mine_on_email(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The handling operator's "my conversations" shows the new email's snippet."""
    if event.data.get("channel") != "email":
        return None
    return await console_mine(event, tenant, user)

