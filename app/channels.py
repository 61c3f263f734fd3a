"""Every channel a customer reaches the shop through, declared once: one line per channel below.

A channel is a package (`telephony/` for voice and SMS, `app/email`, `app/chat`) that exports one `Channel`
object. This registry is what the timeline's channel list, the conversations' live channels, the console's
per-channel extras and the console's Take read. Lines are "module:attribute" strings, loaded on first use, so the
low layers (timeline, conversations) can read the keys without importing the channel packages above them
(the same way Piccolo's APP_REGISTRY names apps).

Adding a channel: write the package (tables, services, the inbound path through
`conversations.services.receive_inbound`, a `Channel` object), then add its line here.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

CHANNELS: dict[str, str] = {
    "call": "telephony.channels:VOICE",
    "sms": "telephony.channels:SMS",
    "email": "app.email.channel:EMAIL",
    "chat": "app.chat.channel:CHAT",
}
KEYS: tuple[str, ...] = tuple(CHANNELS)
"""The channel keys, in the order the product lists them (timeline filter, conversation.channel values)."""

ConsoleExtra = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Take = Callable[[Any, int], Awaitable[dict[str, Any]]]
Send = Callable[..., Awaitable[dict[str, Any]]]
Notice = Callable[..., Awaitable[dict[str, Any]]]
Ring = Callable[[int, int, int, int], Awaitable[None]]
StopRing = Callable[[int, int], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Channel:
    """What every channel declares. Functions take the acting `Principal` and a conversation id."""

    key: str
    """The value of `conversation.channel` and `interaction.channel` (at most 10 characters)."""
    label: str
    """What people read: "Call", "SMS", "Email", "Chat"."""
    icon: str
    """Name of the icon shown beside the channel's items."""
    settings_path: str
    """The channel's settings page, under /t/{slug}/ (e.g. "settings/email")."""
    merge_step: str
    """The contacts.merge step (its MergeStep name) that moves this channel's rows to a surviving contact."""
    console_partial: str = ""
    """The `_partials/` template the console shows for this channel's conversations ("" when none)."""
    console_extras: ConsoleExtra | None = None
    """More context for the console panels (reloaded on every render), e.g. the call's state or the chat log."""
    send: Send | None = None
    """Answer the customer in a conversation: send(actor, conversation_id, body, **options), where options are the
    channel's own extras (email: subject). Every "answer the customer" goes through it, from the console and the API.
    None: the channel is not written to (a call is placed, not sent)."""
    take: Take | None = None
    """The console's Take when the channel needs more than `conversations.services.take` (a call is bridged)."""
    notice: Notice | None = None
    """An automatic message from the shop to the customer, with no operator behind it (the outside-hours auto-reply
    of app.hours): notice(conversation_id, body, subject="") -> the stored message. The conversation keeps its
    status and place in the queue. None: the channel cannot send one (a call)."""
    ring: Ring | None = None
    """An item of this channel was offered to an agent (app.routing): ring(offer_id, conversation_id, user_id,
    timeout_seconds) alerts them beyond the console (a call rings their phone). It only queues work: it runs inside
    the router's transaction. None: the console's offer is the only alert."""
    stop_ringing: StopRing | None = None
    """The offer closed without an accept (rejected, timed out, withdrawn): stop_ringing(offer_id,
    conversation_id) ends what `ring` started (queues work only)."""


@functools.cache
def implementations() -> dict[str, Channel]:
    """Every registered channel, loaded (imported once, on first use)."""
    loaded: dict[str, Channel] = {}
    for key, target in CHANNELS.items():
        module, _, attribute = target.partition(":")
        channel = getattr(importlib.import_module(module), attribute)
        if not isinstance(channel, Channel) or channel.key != key:
            raise TypeError(f"{target} is not the Channel {key!r}")
        loaded[key] = channel
    return loaded


def get(key: str) -> Channel:
    """The channel with this key (KeyError for one that is not registered)."""
    return implementations()[key]
