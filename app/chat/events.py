"""Web chat events: the session's own channel (the visitor's widget), and the consoles that may see the
conversation (chat.services._topics decides which, from the conversation row)."""

from __future__ import annotations

import msgspec

from realtime.events import EventType, declare


class ChatMessagePayload(msgspec.Struct):
    session_id: int
    conversation_id: int
    message_id: int
    direction: str
    """`in` from the visitor, `out` from an operator."""


class ChatStatusPayload(msgspec.Struct):
    session_id: int
    conversation_id: int
    upto: int
    status: str
    direction: str
    since: int = 0
    """The lowest message id whose state changed (0: not said, as in events logged before it was added): a console
    redraws the marks of `since`..`upto` alone, not every earlier message of the chat."""


class ChatTypingPayload(msgspec.Struct):
    session_id: int
    conversation_id: int
    who: str


CHAT_MESSAGE = EventType("chat.message", "A web chat message was stored, from the visitor or an operator "
                         "(session_id, message_id).", ChatMessagePayload)
CHAT_TYPING = EventType("chat.typing", "Someone in a web chat is typing: the visitor or the operator (session_id, "
                        "who).", ChatTypingPayload, ephemeral=True)
CHAT_STATUS = EventType("chat.status", "Web chat messages were delivered or read (session_id, upto, status).",
                        ChatStatusPayload)
declare(CHAT_MESSAGE, CHAT_TYPING, CHAT_STATUS)
