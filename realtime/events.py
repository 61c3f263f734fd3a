"""The event envelope and the one registry of event types: each domain declares its events in its own
`events.py` (an EventType with a typed payload and default topics) and registers them here with `declare()`;
app/events_catalogue.py imports every domain's declarations in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

Topics = Callable[[dict[str, Any]], list[str]]


class EventType(msgspec.Struct, frozen=True):
    """One kind of event, declared by the domain that emits it in its own `events.py` and emitted with
    `realtime.publish.emit(TYPE, **data)`. Payloads carry ids and short codes; consumers reload what they need."""

    name: str
    """Dotted, `domain.what_happened`: the name consoles, listeners and integrators see."""
    doc: str
    """What it announces, in one sentence (the catalogue in /schema and GET /api/v1/events/catalogue)."""
    payload: type[msgspec.Struct]
    """The fields every emit must carry, with their types (extra ids may ride along)."""
    topics: Topics | None = None
    """Default channel topics from the payload (the caller may give others for a case the default does not cover)."""
    ephemeral: bool = False
    """Only for live consoles (typing indicators): durable listeners may not subscribe to it and the pull API
    leaves it out. It still takes a row in the log: sockets replay their live events from there."""


CATALOGUE: dict[str, EventType] = {}
"""Every declared event by name, filled by `declare()` as the domains' events modules are imported
(app/events_catalogue.py imports them all in one place)."""
EVENTS: dict[str, str] = {}
"""name -> what it announces: the catalogue as documentation."""


def declare(*types: EventType) -> None:
    for event_type in types:
        known = CATALOGUE.get(event_type.name)
        if known is not None and known != event_type:
            raise ValueError(f"event {event_type.name!r} is declared twice")
        CATALOGUE[event_type.name] = event_type
        EVENTS[event_type.name] = event_type.doc


class UserPayload(msgspec.Struct):
    user_id: int


class PresencePayload(msgspec.Struct):
    user_id: int
    status: str


class SessionPayload(msgspec.Struct):
    user_id: int
    session_id: int


# The realtime layer's own events (who is online; sessions that end).
PRESENCE_CHANGED = EventType("presence.changed", "A user's first console connected or their last one left "
                             "(user_id, status: online | offline); agent.state_changed says what they are doing.",
                             PresencePayload, ephemeral=True)
USER_UPDATED = EventType("user.updated", "A user's role, status or profile changed (user_id).", UserPayload)
SESSION_REVOKED = EventType("session.revoked", "A session was ended; its sockets close (user_id, session_id).",
                            SessionPayload)
declare(PRESENCE_CHANGED, USER_UPDATED, SESSION_REVOKED)

MAX_DATA_BYTES = 2048
_SCALARS = (int, str, bool, type(None))


class UnknownEvent(ValueError):
    """An event name nobody declared: declare it in its domain's events.py (realtime.events.declare)."""


_MAX_XID8 = 2**63 - 1


class BadPosition(ValueError):
    """A cursor string that is not a position this server hands out (`<tx>.<id>`, both decimal)."""


class Position(NamedTuple):
    """Where an event sits in its tenant's log: (transaction id, event id), totally ordered as a tuple.

    Ids come from a sequence, so they are unique but not in commit order; the writing transaction's id (`xid8`)
    comes first, and readers only read below the safe horizon (realtime.log), so the order of what a reader has
    seen never changes afterwards. On the wire it is `"<tx>.<id>"`; `"0.0"` is the start of the log."""

    tx: int
    id: int

    def __str__(self) -> str:
        return f"{self.tx}.{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Position:
        """The position of `"<tx>.<id>"`; anything else (an old integer cursor, garbage) raises BadPosition."""
        tx, dot, seq = raw.partition(".")
        if (not dot or not (tx.isascii() and tx.isdigit() and seq.isascii() and seq.isdigit())
                or len(tx) > 19 or len(seq) > 19):
            raise BadPosition(raw)
        position = cls(int(tx), int(seq))
        if position.tx > _MAX_XID8 or position.id > _MAX_XID8:
            raise BadPosition(raw)
        return position


START = Position(0, 0)
"""Before every event: replaying after it means the whole log (possible only while nothing was trimmed)."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One committed change, as consoles and other listeners receive it."""

    id: int
    """Per-tenant and unique (a sequence: not in commit order, and rolled-back writes leave gaps)."""
    tx: int = 0
    """The writing transaction's id (`xid8`): (tx, id) is the event's position, the replay cursor."""
    name: str
    tenant: str
    at: dt.datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    channels: tuple[str, ...] = ()
    """Tenant-relative topics (`queue`, `user:7`, ...) the event was published on."""

    @property
    def position(self) -> Position:
        return Position(self.tx, self.id)


def check_name(name: str) -> str:
    if name not in EVENTS:
        raise UnknownEvent(f"unknown event {name!r}: declare it in its domain's events.py")
    return name


def check_data(data: dict[str, Any]) -> dict[str, Any]:
    """Payloads are small maps of ids and short codes; anything bigger belongs in the database."""
    for key, value in data.items():
        if not isinstance(key, str):
            raise ValueError(f"event data keys must be strings, got {key!r}")
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, _SCALARS) for v in items):
            raise ValueError(f"event data {key!r} must be ids or short codes, not {type(value).__name__}")
    if len(msgspec.json.encode(data)) > MAX_DATA_BYTES:
        raise ValueError(f"event data is over {MAX_DATA_BYTES} bytes: send ids, consumers reload")
    return data


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(raw: bytes | str) -> Event:
    return _decoder.decode(raw)
