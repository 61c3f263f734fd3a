"""Workspace events: a teammate is typing in a conversation (live only), a teammate was @mentioned in a note."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class TypingPayload(msgspec.Struct):
    conversation_id: int
    user_id: int


class MentionPayload(msgspec.Struct):
    user_id: int
    """The teammate who was mentioned (the event goes to their own channel only)."""
    conversation_id: int
    by_user_id: int
    mention_id: int


def tenant_wide(data: dict[str, Any]) -> list[str]:
    # Every console of the tenant hears it; the renderer shows it only to those who may see the conversation.
    return [channels.queue()]


def mentioned_user(data: dict[str, Any]) -> list[str]:
    return [channels.user(data["user_id"])]


TYPING = EventType("workspace.typing", "An operator is writing a reply or note in a conversation (conversation_id, "
                   "user_id); live only.", TypingPayload, tenant_wide, ephemeral=True)
MENTIONED = EventType("workspace.mentioned", "A teammate was @mentioned in an internal note of a conversation "
                      "(user_id, conversation_id, by_user_id, mention_id).", MentionPayload, mentioned_user)
declare(TYPING, MENTIONED)
