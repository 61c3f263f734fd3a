"""Voice and SMS as channels (app/channels.py): what the console, the registry and merges need to know."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.channels import Channel
from app.conversations import services as conversations
from app.lib.errors import Invalid
from telephony import controls, ringing, sms


async def _send_sms(actor: Principal, conversation_id: int, body: str) -> dict[str, Any]:
    """Answer an SMS conversation: a text to the number that wrote, on the conversation's timeline."""
    conv = await conversations.get(conversation_id)
    if conv["contact_id"] is None:
        raise Invalid("This conversation has no contact to write to.", field="conversation_id")
    return await sms.send(actor, conv["contact_id"], body, conv["from_address"] or None,
                          links={"conversation_id": conversation_id})


VOICE = Channel(key="call", label="Call", icon="phone", settings_path="settings/twilio", merge_step="telephony",
                console_partial="_partials/console_call.html", console_extras=controls.console_extras,
                take=controls.accept_from_console, ring=ringing.ring, stop_ringing=ringing.stop)
SMS = Channel(key="sms", label="SMS", icon="message", settings_path="settings/twilio", merge_step="telephony",
              send=_send_sms)
