"""Call events: the consoles that show the call (telephony.calls decides which, from the conversation)."""

from __future__ import annotations

import msgspec

from realtime.events import EventType, declare


class CallPayload(msgspec.Struct):
    conversation_id: int
    call_id: int


CALL_UPDATED = EventType("call.updated", "A phone call changed: bridged, on hold, resumed, transferred, ended "
                         "(conversation_id, call_id).", CallPayload)
declare(CALL_UPDATED)
