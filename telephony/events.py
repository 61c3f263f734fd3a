"""Call events: the consoles that show the call (telephony.calls decides which, from the conversation)."""

from __future__ import annotations

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class CallPayload(msgspec.Struct):
    conversation_id: int
    call_id: int
    on_hold: bool | None = None
    """Whether the caller is on hold after this change (reporting counts hold time from it)."""


CALL_UPDATED = EventType("call.updated", "A phone call changed: bridged, on hold, resumed, transferred, ended "
                         "(conversation_id, call_id).", CallPayload)


class CallbackPayload(msgspec.Struct):
    conversation_id: int
    queue_id: int
    contact_id: int
    """0 when the caller is not a known contact."""


CALLBACK_REQUESTED = EventType("call.callback_requested", "A waiting caller asked to be called back, keeping their "
                               "place in the queue (conversation_id, queue_id, contact_id).", CallbackPayload)
CALLBACK_CANCELLED = EventType("call.callback_cancelled", "A supervisor cancelled a waiting callback (conversation_id, "
                               "queue_id, contact_id).", CallbackPayload)


class OfferAnsweredPayload(msgspec.Struct):
    offer_id: int
    conversation_id: int
    call_id: int
    user_id: int


CALL_OFFER_ANSWERED = EventType("call.offer_answered", "An agent answered the phone that rang for a call offered to "
                                "them: routing accepts the offer (offer_id, conversation_id, call_id, user_id).",
                                OfferAnsweredPayload, lambda data: [channels.user(int(data["user_id"]))])
declare(CALL_UPDATED, CALLBACK_REQUESTED, CALLBACK_CANCELLED, CALL_OFFER_ANSWERED)
