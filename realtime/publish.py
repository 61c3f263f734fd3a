"""publish(): record an event in the unit of work and send it through the backend only after commit."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from app.lib.db import TenantRef, current_tenant, current_uow, tenant_context
from realtime import log
from realtime.channels import channel_name, check_topic
from realtime.events import Event, check_data, check_name, encode


async def publish(name: str, data: dict[str, Any] | None = None, *, channels: Iterable[str]) -> Event:
    """Announce a change of the current tenant on `channels` (topics from realtime.channels: queue(),
    role("supervisor"), user(id), contact(id), order(id)).

    Call it inside the unit of work that made the change, as its last write: the event row is part of the
    transaction, so a rollback publishes nothing, and it is sent to consoles only once the commit succeeded.
    """
    check_name(name)
    data = check_data(dict(data or {}))
    topics = tuple(dict.fromkeys(check_topic(t) for t in channels))
    if not topics:
        raise ValueError("publish needs at least one channel")
    uow = current_uow()
    tenant = current_tenant()
    event = await log.append(name, data, topics)
    uow.after_commit(functools.partial(_send, tenant, event))
    return event


async def _send(tenant: TenantRef, event: Event) -> None:
    from realtime.runtime import ensure_started

    rt = await ensure_started()
    payload = encode(event)
    for topic in event.channels:
        await rt.backend.publish(channel_name(tenant, topic), payload)
    if event.id % log.TRIM_EVERY == 0:
        async with tenant_context(tenant):
            await log.trim()
