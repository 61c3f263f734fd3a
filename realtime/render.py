"""What a console receives for an event: HTML fragments for htmx out-of-band swaps, one renderer per concern,
rendered once per *audience*, not once per socket.

A renderer is `async (event, tenant, viewer) -> str | None`; it runs inside the one unit of work the feed opens for
the event, reloads what it shows (never trusts the event payload for state) and may return None when the viewer
should see nothing. Each renderer declares who its fragment differs for (`@renders(..., audience=...)`):

- `EVERYONE`: the same fragment for every socket that hears the event (per language and time zone);
- `BY_ROLE`: one fragment per role (queue visibility and admin-only figures depend on the role and nothing else);
- `CONCERNED`: only the users the event is about (its `user:N` topics, plus what `Audience.users` finds), each
  rendered for themselves: "my conversations", "my status";
- `PER_USER`: one render per user with a socket here (optionally `only` some, e.g. supervisors): the fallback;
- `BATCH`: one call for every user at once returning a small fragment per user (`async (event, tenant, viewers)
  -> {user_id: html}`), for per-user numbers that one query computes for all (unread counts).

A shared render (EVERYONE, BY_ROLE) is given `viewer.as_audience(role)`: the role with no user behind it (user id
0), so a fragment rendered once for many can never carry one user's own items. Language and time zone are always
part of the audience. Every message ends with the `#sb-last-event` marker, so the browser knows its cursor.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import html
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Literal

import msgspec
import structlog

from app.lib import i18n
from app.lib.db import TenantRef, tenant_context
from app.lib.roles import RANK
from realtime.events import Event, Position, check_name
from realtime.viewer import Viewer

log = structlog.get_logger(__name__)

Renderer = Callable[..., Awaitable[Any]]
Kind = Literal["everyone", "role", "concerned", "user", "batch"]
LOWEST_ROLE = min(RANK, key=RANK.__getitem__)


@dataclasses.dataclass(frozen=True)
class Audience:
    """Who a renderer's fragment differs for (see the module's docstring)."""

    kind: Kind
    users: Callable[[Event, Memo], Awaitable[Iterable[int]]] | None = None
    """CONCERNED: more users the event is about than its `user:N` topics (loaded once per event)."""
    only: Callable[[Viewer], bool] | None = None
    """PER_USER, CONCERNED: only these viewers get a render at all."""
    skip: Callable[[Event, Viewer], bool] | None = None
    """Any kind: these sockets get nothing from this renderer (the typist's own "is replying")."""
    surface: str = "console"
    """Which kind of screen the fragment is for: a viewer whose `surface` (default "console") differs never gets
    it. A wallboard's socket gets the wallboard's renderers and nothing of the consoles', and the reverse."""

    def but(self, **changes: Any) -> Audience:
        return dataclasses.replace(self, **changes)


EVERYONE = Audience("everyone")
BY_ROLE = Audience("role")
CONCERNED = Audience("concerned")
PER_USER = Audience("user")
BATCH = Audience("batch")


class Memo:
    """Per-event loads shared by the audiences and renderers of one event (inside its unit of work)."""

    def __init__(self, events: Sequence[Event] = ()) -> None:
        self._values: dict[Hashable, Any] = {}
        self.events = events
        """The events rendered with this memo (a feed's batch, in position order): a load may read the rows of all
        of them at once and `remember` the others'."""
        self.failed = False
        """A renderer raised: a database error leaves the unit of work unusable for the renders after it."""

    async def get(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._values:
            self._values[key] = await load()
        return self._values[key]


_MEMO: contextvars.ContextVar[Memo | None] = contextvars.ContextVar("sb_render_memo", default=None)


def batch() -> Sequence[Event]:
    """The events being rendered together (see `Memo.events`); empty outside a render."""
    memo = _MEMO.get()
    return memo.events if memo is not None else ()


def remember(key: Hashable, value: Any) -> None:
    """What `shared(key, ...)` will return for the rest of this render, unless it has a value already: a load that
    read the rows of several events of the batch keeps each event's under its own key."""
    memo = _MEMO.get()
    if memo is not None:
        memo._values.setdefault(key, value)


def shared(key: Hashable, load: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    """`load()`, once per event while an event is being rendered (every renderer and audience of the event reads
    the same rows in the same unit of work), else every time: for reads many renderers repeat (the queues, the
    waiting list of a role). Never for anything one viewer may see and another not: key it by what it depends on."""
    memo = _MEMO.get()
    return memo.get(key, load) if memo is not None else load()


_RENDERERS: dict[str, list[Renderer]] = {}
RENDERS: collections.Counter[str] = collections.Counter()
"""Renders done in this process, by renderer: what the audience tests count (and a cheap production metric)."""


def _name(fn: Renderer) -> str:
    return f"{fn.__module__}.{getattr(fn, '__qualname__', fn)}"


def audience_of(fn: Renderer) -> Audience:
    return getattr(fn, "audience", PER_USER)


def register_renderer(name: str, fn: Renderer) -> Renderer:
    """Render `fn`'s fragment for every `name` event a console receives (several renderers may share a name)."""
    check_name(name)
    if fn not in _RENDERERS.setdefault(name, []):
        _RENDERERS[name].append(fn)
    return fn


def renders(*names: str, audience: Audience = PER_USER) -> Callable[[Renderer], Renderer]:
    """Mark `fn` as the renderer of `names` events for `audience`: `@renders("queue.item_added", audience=BY_ROLE)`.
    The mark registers nothing: the domain's manifest lists the renderer and start-up registers it
    (`register_marked`)."""

    def decorate(fn: Renderer) -> Renderer:
        fn.event_names = names  # type: ignore[attr-defined]
        fn.audience = audience  # type: ignore[attr-defined]
        return fn

    return decorate


def register_marked(fn: Renderer) -> Renderer:
    """Register a renderer marked with `renders` for each of its events (idempotent)."""
    names = getattr(fn, "event_names", None)
    if not names:
        raise ValueError(f"{getattr(fn, '__qualname__', fn)!r} is not marked with @renders(...)")
    for name in names:
        register_renderer(name, fn)
    return fn


def unregister_renderer(name: str, fn: Renderer) -> None:
    if fn in _RENDERERS.get(name, []):
        _RENDERERS[name].remove(fn)


def marker(position: Position, *, event: Event | None = None, refresh: bool = False, ready: bool = False) -> str:
    """The `#sb-last-event` element: the browser's cursor (a position, `"<tx>.<id>"`, which it echoes back
    as `last_id`), plus a refresh order when it missed too much."""
    attrs = [f'data-event-id="{position}"']
    if event is not None:
        attrs.append(f'data-event="{html.escape(event.name)}"')
        attrs.append(f'data-payload="{html.escape(msgspec.json.encode(event.data).decode())}"')
    if refresh:
        attrs.append('data-refresh="true"')
    if ready:
        attrs.append('data-ready="true"')
    return f'<div id="sb-last-event" hx-swap-oob="true" hidden {" ".join(attrs)}></div>'


def concerned_users(event: Event) -> set[int]:
    """The users an event is about by its topics (`user:N`)."""
    return {int(t[5:]) for t in event.channels if t.startswith("user:")}


async def _call(fn: Renderer, *args: Any) -> Any:
    RENDERS[_name(fn)] += 1
    try:
        return await fn(*args)
    except Exception:  # one broken panel must not cut the console off from every other event
        log.exception("realtime_render_failed", renderer=_name(fn), event_name=args[0].name)
        memo = _MEMO.get()
        if memo is not None:
            memo.failed = True
        return None


async def frames(event: Event, tenant: TenantRef, viewers: Sequence[Viewer]) -> list[str]:
    """The message of `event` for each of `viewers` (same order), each fragment rendered once per audience, all in
    one unit of work of the tenant."""
    return (await frames_of([(event, viewers)], tenant))[0]


async def frames_of(batch: Sequence[tuple[Event, Sequence[Viewer]]], tenant: TenantRef) -> list[list[str]]:
    """`frames` of several events of one tenant (a feed's backlog, in position order), in ONE unit of work with one
    `Memo`: what renderers read as it is now and share by key (the queues, a role's totals, the live calls, the
    owner's figures) is read once for the batch, not once per event. Renderers reload state rather than trust the
    payload, so this is what the consoles would get rendering each event at the same moment. If a renderer fails,
    the batch is rendered again one event per unit of work (a failed statement aborts the transaction for the
    renders after it), so one broken panel costs no other event its fragments."""
    parts: list[list[list[str]]] = [[[] for _ in viewers] for _, viewers in batch]
    if any(_RENDERERS.get(event.name) and viewers for event, viewers in batch):
        memo = Memo([event for event, viewers in batch if viewers])
        token = _MEMO.set(memo)
        try:
            async with tenant_context(tenant):
                for (event, viewers), chosen in zip(batch, parts, strict=True):
                    for fn in _RENDERERS.get(event.name, ()) if viewers else ():
                        await _render_one(fn, event, tenant, viewers, chosen, memo)
        finally:
            _MEMO.reset(token)
        if memo.failed and len(batch) > 1:  # a failed statement aborts the transaction: each event on its own
            return [(await frames_of([one], tenant))[0] for one in batch]
    out = []
    for (event, _), chosen in zip(batch, parts, strict=True):
        tail = marker(event.position, event=event)
        shared: dict[tuple[int, ...], str] = {}
        messages = []
        for fragments in chosen:
            key = tuple(id(p) for p in fragments)
            if key not in shared:
                shared[key] = "".join(fragments) + tail
            messages.append(shared[key])
        out.append(messages)
    return out


async def _render_one(fn: Renderer, event: Event, tenant: TenantRef, viewers: Sequence[Viewer],
                      parts: list[list[str]], memo: Memo) -> None:
    aud = audience_of(fn)
    groups: dict[Hashable, list[int]] = {}
    reps: dict[Hashable, Viewer] = {}
    wanted: set[int] | None = None
    if aud.kind == "concerned":
        wanted = concerned_users(event)
        if aud.users is not None:
            wanted |= set(await aud.users(event, memo))
    for i, v in enumerate(viewers):
        if getattr(v, "surface", "console") != aud.surface:
            continue
        if aud.skip is not None and aud.skip(event, v):
            continue
        lang = (getattr(v, "language", "") or "", getattr(v, "timezone", "") or "")
        if aud.kind == "everyone":
            key: Hashable = lang
        elif aud.kind == "role":
            key = (v.role, *lang)
        else:
            if wanted is not None and v.user_id not in wanted:
                continue
            if aud.only is not None and not aud.only(v):
                continue
            key = (v.user_id, *lang)
        if key not in groups:
            groups[key] = []
            reps[key] = v
        groups[key].append(i)
    if not groups:
        return
    if aud.kind == "batch":
        by_lang: dict[tuple[str, str], list[Hashable]] = {}
        for key in groups:
            by_lang.setdefault(key[1:], []).append(key)  # type: ignore[index]
        for (language, zone), keys in by_lang.items():
            with i18n.viewing(language, zone or None):
                got = await _call(fn, event, tenant, [reps[k] for k in keys]) or {}
            for k in keys:
                fragment = got.get(reps[k].user_id)
                if fragment:
                    for i in groups[k]:
                        parts[i].append(fragment)
        return
    for key, members in groups.items():
        rep = reps[key]
        if aud.kind == "everyone":
            rep = rep.as_audience(LOWEST_ROLE)
        elif aud.kind == "role":
            rep = rep.as_audience(rep.role)
        with i18n.viewing(getattr(rep, "language", "") or "", getattr(rep, "timezone", "") or None):
            fragment = await _call(fn, event, tenant, rep)
        if fragment:
            for i in members:
                parts[i].append(fragment)


async def render(event: Event, tenant: TenantRef, user: Viewer) -> str:
    """The message of `event` for one viewer (replay of one socket)."""
    return (await frames(event, tenant, [user]))[0]
