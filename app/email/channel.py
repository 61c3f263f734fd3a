"""Email as a channel (app/channels.py): what the console, the registry and merges need to know."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.channels import Channel
from app.email import live, outbound


async def _reply(actor: Principal, conversation_id: int, body: str, *, subject: str = "") -> dict[str, Any]:
    """Answer an email conversation, threaded onto the customer's latest email in it ("Re: ..." by default)."""
    return await outbound.reply(actor, conversation_id, {"body": body, "subject": subject})


AUTO_REPLY = Principal(user_id=0, email="", name="Auto-reply", role="admin", via="system", credential_id=0)
"""Who sends the shop's automatic emails (no user: `sent_by` stays empty and the timeline says "system")."""


async def _notice(conversation_id: int, body: str, *, subject: str = "") -> dict[str, Any]:
    """An automatic answer (the outside-hours reply), threaded like an operator's reply."""
    return await outbound.reply(AUTO_REPLY, conversation_id, {"body": body, "subject": subject})


EMAIL = Channel(key="email", label="Email", icon="mail", settings_path="settings/email", merge_step="email",
                console_partial="_partials/console_email.html", console_extras=live.console_extras, send=_reply,
                notice=_notice)
