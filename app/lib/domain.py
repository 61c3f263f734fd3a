"""The manifest a domain exports: everything the process wires for it, declared in one value.

Each domain package has a `domain.py` with `DOMAIN = Domain(...)`; `app/domains.py` lists them (the only place
that names them) and derives from the list the routes of `app.asgi`, the job registry, the durable listeners, the
live renderers, the merge steps and the Piccolo apps that `switchboard migrate` runs. Nothing registers itself on
import any more: a piece the manifest does not name does not exist for the process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any

from app.lib.crypto import EncryptedColumn
from app.lib.jobs import JobSpec

Reassign = Callable[[int, int], Awaitable[int]]
"""`step(source_contact_id, target_contact_id) -> rows moved`, run inside a contact merge's transaction."""


@dataclasses.dataclass(frozen=True)
class MergeStep:
    """How a domain moves its rows from a merged-away contact to the survivor (app.contacts.merge runs them)."""

    name: str
    """Key of the step in the merge's `moved` answer: "orders"."""
    fn: Reassign
    tables: tuple[str, ...] = ()
    """Tables whose `contact` column the step moves, so a check can tell which links no step covers."""


@dataclasses.dataclass(frozen=True)
class Domain:
    """One domain's contribution to the process. Every field but `name` is optional."""

    name: str
    routes: tuple[Any, ...] = ()
    """Controllers and handlers of the workspace, with paths relative to `/t/{slug}` (the one router adds it)."""
    public_routes: tuple[Any, ...] = ()
    """Controllers and handlers outside any workspace (landing page, signup, health, hold music)."""
    jobs: Mapping[str, JobSpec] = dataclasses.field(default_factory=dict)
    """Background jobs by entrypoint name ("orders.send_portal_sms"); names start with the domain's."""
    listeners: tuple[Any, ...] = ()
    """Durable listeners (realtime.durable.DurableListener) the worker runs per tenant."""
    renderers: tuple[Any, ...] = ()
    """Live renderers (functions marked with realtime.render.renders) for the consoles' websockets."""
    merge_steps: tuple[MergeStep, ...] = ()
    console_extras: tuple[Any, ...] = ()
    """More context for the operator console's panels from a domain that is not a channel (orders: the caller's
    value), `async fn(ctx) -> dict`; a channel declares its own in its `Channel` (app/channels.py)."""
    piccolo_app: str | None = None
    """Dotted path of the Piccolo app with the domain's tables and migrations."""
    events: ModuleType | tuple[ModuleType, ...] | None = None
    """The module (or modules) that declare the domain's events (realtime.events.declare)."""
    assign_checks: tuple[Any, ...] = ()
    """Warnings about a hand assignment, `async fn(user_id, channel) -> str | None` (routing: above capacity;
    app.conversations.actions.register_assign_check)."""
    socket_messages: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Client message keys of the console socket this domain answers: {"typing": fn(tenant, user, value)}
    (realtime.views.register_message)."""
    secrets: tuple[EncryptedColumn, ...] = ()
    """The domain's encrypted columns (app.lib.crypto): `switchboard secrets rotate` re-encrypts exactly these."""
    presence_watchers: tuple[Any, ...] = ()
    """`async fn(user_id, status)` run when a user's first console connects (online) or their last one leaves
    (offline), inside that change's unit of work (realtime.presence.watch)."""
    quota_usage: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """How much of a tenant quota the domain's rows use: {"contacts": async fn() -> int}, read in the caller's unit
    of work (app.lib.quotas.register; counters of one quota add up)."""
