"""emit(): record a declared event in the unit of work and send it through the backend only after commit.

`emit(TYPE, **data)` is what domains call; `publish(name, data, channels=...)` is the step under it (the name
checked against the catalogue, the row written, the send scheduled) and is not called from domain code.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import structlog

from app.lib.db import TenantRef, current_tenant, current_uow, stateless, tenant_context
from realtime import log
from realtime.channels import channel_name, check_topic
from realtime.events import Event, EventType, check_data, check_name, encode

logger = structlog.get_logger(__name__)

DEPTH_KEY = "_depth"
"""Key in an event's data of its causation depth: how many automated reactions led to it (absent: a person or an
outside system caused it). Reactions that emit set `causation_depth` for the events they cause."""
causation_depth: contextvars.ContextVar[int] = contextvars.ContextVar("sb_causation_depth", default=0)
"""The causation depth of the events emitted in this context: a reaction to an event of depth d runs with d + 1
(app.automation), so a chain of reactions can be stopped before it loops."""


def depth_of(data: dict[str, Any]) -> int:
    """The causation depth an event's data carries (0: caused by a person or an outside system)."""
    value = data.get(DEPTH_KEY, 0)
    return value if isinstance(value, int) else 0


async def emit(event_type: EventType, /, *, channels: Iterable[str] | None = None, **data: Any) -> Event:
    """Announce a change of the current tenant, as the last write of its unit of work: `data` is checked against
    the declaration's payload (missing or mistyped fields raise), topics come from the declaration unless given."""
    return await publish(event_type.name, data, channels=_channels_of(event_type, channels, data))


def _channels_of(event_type: EventType, channels: Iterable[str] | None, data: dict[str, Any]) -> Iterable[str]:
    """`data` checked against the declaration's payload; the channels given, else the declaration's topics."""
    try:
        msgspec.convert(data, event_type.payload)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{event_type.name}: {exc}") from None
    if channels is not None:
        return channels
    if event_type.topics is None:
        raise ValueError(f"{event_type.name} declares no default topics: pass channels=")
    return event_type.topics(data)


async def publish(name: str, data: dict[str, Any] | None = None, *, channels: Iterable[str]) -> Event:
    """Announce a change of the current tenant on `channels` (topics from realtime.channels: queue(),
    role("supervisor"), user(id), contact(id), order(id)).

    Call it inside the unit of work that made the change, as its last write: the event row is part of the
    transaction, so a rollback publishes nothing, and it is sent to consoles only once the commit succeeded.
    """
    event = await log.append(*_prepared(name, data, channels))
    _send_after_commit([event])
    return event


def _send_after_commit(events: list[Event]) -> None:
    """Send `events` (just written to the log) once the open unit of work commits, and wake the durable listeners."""
    uow = current_uow()
    tenant = current_tenant()
    uow.after_commit(functools.partial(_send_many, tenant, events))
    uow.after_commit_once(Wake(tenant.schema))


def _prepared(name: str, data: dict[str, Any] | None, channels: Iterable[str]
              ) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """What the log stores of an event: its checked name, its data (with this context's causation depth) checked,
    and its distinct checked topics (at least one)."""
    check_name(name)
    data = dict(data or {})
    depth = causation_depth.get()
    if depth:
        data[DEPTH_KEY] = depth
    data = check_data(data)
    topics = tuple(dict.fromkeys(check_topic(t) for t in channels))
    if not topics:
        raise ValueError("publish needs at least one channel")
    return name, data, topics


@dataclasses.dataclass(frozen=True)
class Wake:
    """`NOTIFY sb_events, '<schema>'` after the commit of a unit of work that published (equal instances: registered
    once per unit of work): the durable listeners' runner (realtime.durable) visits the tenant. Sent after the
    commit, not in it (see realtime.log), and off the request path: the schemas of all commits meanwhile go in one
    statement. One lost with a crashed process is made up by the runner's periodic sweep."""

    schema: str

    async def __call__(self) -> None:
        _waker.add(self.schema)


WAKE_EVERY = 0.05
"""Seconds between two wake-up statements of one process: the first wake-up after a quiet spell goes at once, those
meanwhile wait for the next one (every schema in it). Under load a wake-up per commit was a statement and a pooled
connection per chat message; the durable listeners (webhooks, automations) start at most this much later."""


class _Waker:
    """Coalesces wake-ups: one task per event loop sends every schema collected while it ran, at most one statement
    every WAKE_EVERY seconds."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, schema: str) -> None:
        self.pending.add(schema)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._flush(), name="realtime-wake")

    async def _flush(self) -> None:
        while self.pending:
            schemas, self.pending = sorted(self.pending), set()
            await self._send(schemas)
            await asyncio.sleep(WAKE_EVERY)  # wake-ups meanwhile join the next statement

    async def _send(self, schemas: list[str]) -> None:
        try:
            async with stateless() as conn:  # pg_notify leaves nothing behind: no reset on release
                await conn.execute("SELECT pg_notify($1, s) FROM unnest($2::text[]) AS s", log.WAKE_CHANNEL, schemas)
        except Exception:  # the runner's sweep catches up; a wake-up must never fail a request
            logger.warning("realtime_wake_failed", schemas=len(schemas), exc_info=True)


_waker = _Waker()


async def _runtime() -> Any:
    # deferred import: a real cycle, realtime.runtime -> hub -> presence -> publish (the hub announces presence
    # through emit); sending after commit needs the running runtime, which a worker starts here on first use.
    from realtime.runtime import ensure_started

    return await ensure_started()


async def emit_many(events: Sequence[tuple[EventType, Iterable[str] | None, dict[str, Any]]]) -> list[Event]:
    """`emit` for many events of the current tenant with ONE insert into the log (a group commit's events: each
    checked as `emit` checks it), in the order given; each is sent after commit like one from `emit`."""
    prepared = [_prepared(event_type.name, given, _channels_of(event_type, channels, given))
                for event_type, channels, given in events]
    if not prepared:
        return []
    out = await log.append_many(prepared)
    _send_after_commit(out)
    return out


async def _send_many(tenant: TenantRef, events: list[Event]) -> None:
    """Send events of one commit, all in one go (Redis: one pipeline): each channel's events in order."""
    rt = await _runtime()
    messages = []
    for event in events:
        payload = encode(event)
        messages += [(channel_name(tenant, topic), payload) for topic in event.channels]
    await rt.backend.publish_many(messages)
    if any(event.id % log.TRIM_EVERY == 0 for event in events):
        async with tenant_context(tenant):
            await log.trim()
