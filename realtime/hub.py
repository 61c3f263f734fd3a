"""The websocket hub: one ordered feed per tenant per process, fanned out to the sockets its users may see.

Ordering and completeness come from the event log (positions (tx, id) read below the safe horizon, see
realtime.log); the backend only says "something happened". On each batch of notifications the feed reads the log
after its cursor `wm` up to the horizon, in one query for all its sockets, and dispatches what it got; a lost
Redis message is recovered by the next batch or the periodic catch-up, and events held back by an open older
transaction are re-read shortly after. Every socket sees its events once, in position order, whichever process
committed them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import structlog

from app.lib.backoff import Backoff
from app.lib.db import TenantRef, tenant_context
from app.settings import get_settings
from realtime import log as event_log
from realtime import presence as presence_mod
from realtime.backends.base import BroadcastBackend, Subscription
from realtime.channels import base_topics, channel_name
from realtime.events import START, Event, Position, decode
from realtime.presence import PresenceStore
from realtime.render import frames_of, marker, render
from realtime.viewer import Viewer

logger = structlog.get_logger(__name__)

SESSION_CHECK_EVERY = 1.0
"""Seconds between re-validations of every socket's session (revoked, expired, user disabled)."""
CATCH_UP_EVERY = 5.0
"""Seconds between reads of the log that recover notifications lost in transport."""
REPLAY_MAX = 500
"""A console that missed more of its events than this is told to refresh instead."""
INBOX_MAX = 5000
"""A socket this far behind is closed with 1013; it reconnects and catches up from the log."""
COALESCE_MAX = 200
"""At most this many queued messages joined into one websocket frame (see `Connection.pump`)."""
COALESCE_BYTES = 256 * 1024
"""... and at most about this many characters: a frame the browser parses in one go stays small."""
HELD_BACK_RETRY = (0.02, 1.0)
"""Seconds before re-reading the log when notified events are still above the horizon (first, cap; doubling)."""
RENDER_AHEAD = 4
"""Events of one feed rendered at once, each in its own unit of work, their messages still queued in position
order: a render waits mostly on database round trips, so a backlog drains several times faster (the pool has 20
connections; HTTP requests keep the rest)."""
RENDER_PROCESS = 4
"""Renders a process runs at once across all its feeds, as far as each feed's first one allows: a feed may render
up to RENDER_AHEAD batches side by side only while few feeds are busy (`TenantFeed._render_limit`). Measured on the
console bench (10 busy shops, 200 events/s, 2 cores): 4 renders per feed gave p50 312 / p99 611 ms and 2.32 ms of
PostgreSQL CPU per event, 1 per feed 103 / 184 ms and 1.30 ms (bigger batches share their reads; fewer connections
per shop keep their plans, app.lib.db._SchemaAffineQueue); with one busy shop (the chat bench) 4 at once stay better
(p50 168 against 255 ms): its renders overlap their round trips."""
RENDER_BATCH = 16
"""At most this many events of a backlog rendered in one unit of work (realtime.render.frames_of: what the renderers
share by key is read once for them all); a backlog is cut into at least RENDER_AHEAD such batches while it has that
many events, so batches still render side by side."""
STATS: collections.Counter[str] = collections.Counter()
"""This process's feeds: `reads` of the log and the `events` they got; `held` reads after which a notified event was
still above the safe horizon (an older transaction open), `waits` such episodes and `held_ms` how long they lasted
in all (from the read that found it held back to the read that reached it); `timer` reads woken by the held-back
retry rather than by a notification."""
UNREPLAYABLE = Position(-1, -1)
"""What a socket's unreadable cursor becomes: below every floor, so the console is told to refresh."""

CLOSE_SESSION_ENDED = 4401
RECHECK_ON = frozenset({"session.revoked", "user.updated"})
"""Events after which every socket's session is checked at once (not at the next SESSION_CHECK_EVERY)."""

Rendered = list[tuple[list[list["Connection"]], list[str]]]
"""A batch rendered: per event, its audiences (the sockets of each) and each audience's message."""

CredentialCheck = Callable[[list[int]], Awaitable[set[int]]]
"""`check(credential_ids) -> the ids still valid`, for sockets whose credential is not a user session."""
CLOSE_RESTART = 1012
CLOSE_TOO_SLOW = 1013

_SESSION_SQL = """
SELECT s.id FROM user_session s JOIN app_user u ON u.id = s."user"
WHERE s.id = ANY($1::int[]) AND s.revoked_at IS NULL AND u.status = 'active' AND s.expires_at > now()
  AND s.last_seen_at + make_interval(mins => $2) > now()
"""


class JoinMemo:
    """Frames joined lately, shared by the sockets that are caught up alike: the sockets of one audience queue the
    same message objects (one per audience, see realtime.render.frames), so a frame of the same messages is one
    string, joined once (and then deflated once, realtime.sockets.DEFLATE), not once per socket. Keyed by the
    messages' identities; an entry keeps its messages alive, so their ids cannot be reused while it is kept."""

    def __init__(self, budget: int = 4 << 20) -> None:
        self.budget = budget
        self.size = 0
        self._memo: collections.OrderedDict[tuple[int, ...], tuple[list[str], str]] = collections.OrderedDict()
        """Oldest first; an OrderedDict, as `next(iter(...))` on a dict popped from the front walks every slot
        freed before (8 µs an eviction at 20,000 entries, against 0.5 µs for popitem(last=False))."""

    def join(self, messages: list[str]) -> str:
        if len(messages) == 1:
            return messages[0]
        key = tuple(map(id, messages))
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]
        text = "".join(messages)
        if 2 * len(text) <= self.budget:
            self._memo[key] = (messages, text)
            self.size += len(text)
            while self.size > self.budget:
                self.size -= len(self._memo.popitem(last=False)[1][1])
        return text


JOINED = JoinMemo()


class Connection:
    """One socket: who it is, what it listens to, and the messages (rendered once per audience by its feed) waiting
    to be sent to it."""

    def __init__(self, tenant: TenantRef, user: Viewer, send: Callable[[str], Awaitable[None]], *,
                 counts_presence: bool = True, topics: Iterable[str] | None = None,
                 still_valid: CredentialCheck | None = None) -> None:
        self.id = secrets.token_hex(8)
        self.counts_presence = counts_presence
        """False for a page's passive socket (only toasts, `?presence=0`): the user is not online because of it."""
        self.tenant = tenant
        self.user = user
        self.send = send
        self.topics: set[str] = set(base_topics(user) if topics is None else topics)
        """What it listens to: who the user is decides it, unless the socket's endpoint narrows it (a wallboard)."""
        self.still_valid = still_valid
        """For a socket not held by a user session (a wallboard link): which of its credential ids are still valid,
        asked inside the tenant's unit of work with every session re-check; None: a user session."""
        self.view = (user.user_id, user.role, getattr(user, "language", ""), getattr(user, "timezone", ""))
        """Sockets with the same view get the same message: the same user, role, language and zone (what a socket
        listens to decides only whether it hears an event; renderers look at the event's topics, not the socket's)."""
        self.inbox: asyncio.Queue[tuple[Position, str] | None] = asyncio.Queue()
        self.write_now: Callable[[str], bool] | None = getattr(send, "write_now", None)
        """Writes a message at once, without awaiting (realtime.sockets.direct_send), or answers False; None: the
        socket has no such writer, every message goes through `inbox` and `pump`."""
        self.idle = False
        """True while `pump` waits on an empty inbox: nothing of this socket is queued or being sent, so the feed
        may write the next message straight to the socket (`offer`) and keep position order."""
        self.last_sent: Position = START
        self.close_code: int | None = None
        self.frames_sent = 0
        """Websocket frames written by `pump` (a frame may carry several events' messages)."""
        self.messages_sent = 0
        """Events' messages written by `pump`."""

    def offer(self, position: Position, frame: str) -> None:
        """Send one message: written at once when the socket's writer is idle (the common case: a caught-up
        console costs one transport write, no queue, task switch or coroutine per socket), else queued for `pump`,
        which joins what queued into one frame."""
        if self.close_code is not None:
            return
        if self._writable_now():
            if position <= self.last_sent:
                return  # sent already (replay)
            if self._write(frame):
                self._sent(position, 1)
                return
        self._enqueue(((position, frame),))

    def offer_many(self, batch: list[tuple[Position, str]]) -> None:
        """Send several events' messages (position order) as one frame when the writer is idle, else queue them."""
        if len(batch) == 1:
            self.offer(*batch[0])
            return
        if self.close_code is not None:
            return
        if self._writable_now():
            fresh, last = self._fresh(batch)
            if not fresh:
                return
            if self._write(JOINED.join(fresh)):
                self._sent(last, len(fresh))
                return
        self._enqueue(batch)

    def _writable_now(self) -> bool:
        """Nothing of this socket is queued or being sent and it can be written without awaiting."""
        return self.idle and self.write_now is not None and self.inbox.empty()

    def _enqueue(self, items: Sequence[tuple[Position, str]]) -> None:
        """Queue messages for `pump`, or end a socket that fell INBOX_MAX behind (it reconnects and catches up)."""
        if self.inbox.qsize() + len(items) > INBOX_MAX:
            self.kick(CLOSE_TOO_SLOW)
        else:
            for item in items:
                self.inbox.put_nowait(item)

    def _write(self, text: str) -> bool:
        assert self.write_now is not None
        try:
            return self.write_now(text)
        except Exception:  # whatever the transport says, `pump`'s send path says it properly: queue it
            return False

    def kick(self, code: int) -> None:
        """End the socket with `code` (the sender loop closes it)."""
        if self.close_code is None:
            self.close_code = code
            self.inbox.put_nowait(None)

    async def start_from(self, last: Position | None) -> None:
        """Replay what the browser missed after position `last`, or order a refresh; then mark the socket ready."""
        async with tenant_context(self.tenant):
            bounds = await event_log.bounds()
            missed: list[Event] = []
            refresh = False
            if last is None:
                self.last_sent = bounds.last
            elif not await event_log.replayable(last, bounds):
                refresh = True
            else:
                missed = await event_log.read(last, upto=bounds.last, topics=self.topics, limit=REPLAY_MAX + 1)
                refresh = len(missed) > REPLAY_MAX
                self.last_sent = last
        if refresh:
            self.last_sent = bounds.last
            await self.send(marker(bounds.last, refresh=True))
            missed = []
        for event in missed:
            await self.deliver(event.position, await render(event, self.tenant, self.user))
        await self.send(marker(self.last_sent, ready=True))

    async def deliver(self, position: Position, frame: str) -> None:
        if position <= self.last_sent:
            return  # already sent by the replay or by an earlier notification
        await self.send(frame)
        self.last_sent = position

    async def pump(self) -> int | None:
        """Send queued messages until the socket is kicked; returns the close code (None: the client left).

        Natural batching: while the previous frame was being written, what queued up meanwhile is sent as ONE
        frame, the messages joined in position order (htmx's ws extension swaps every out-of-band element of a
        message, and the last `#sb-last-event` marker of the frame is the cursor). An idle socket sends each
        message at once: no timer, no delay."""
        while True:
            self.idle = self.inbox.empty()
            try:
                item = await self.inbox.get()
            finally:
                self.idle = False
            if item is None:
                return self.close_code
            batch = [item]
            size = len(item[1])
            closing = False
            while len(batch) < COALESCE_MAX and size < COALESCE_BYTES and not self.inbox.empty():
                nxt = self.inbox.get_nowait()
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
                size += len(nxt[1])
            await self.deliver_many(batch)
            if closing:
                return self.close_code

    async def deliver_many(self, batch: list[tuple[Position, str]]) -> None:
        """Send the messages of `batch` not sent yet (replay may have sent some) as one frame."""
        fresh, last = self._fresh(batch)
        if not fresh:
            return
        await self.send(JOINED.join(fresh))
        self._sent(last, len(fresh))

    def _fresh(self, batch: list[tuple[Position, str]]) -> tuple[list[str], Position]:
        """The messages of `batch` after `last_sent` (in position order), and the position of the last of them."""
        fresh = []
        last = self.last_sent
        for position, message in batch:
            if position > last:
                fresh.append(message)
                last = position
        return fresh, last

    def _sent(self, last: Position, messages: int) -> None:
        self.last_sent = last
        self.frames_sent += 1
        self.messages_sent += messages


class TenantFeed:
    """All sockets of one tenant in this process, one backend subscription, one cursor `wm` over the log."""

    def __init__(self, hub: Hub, tenant: TenantRef) -> None:
        self.hub = hub
        self.tenant = tenant
        self.conns: set[Connection] = set()
        self._refs: collections.Counter[str] = collections.Counter()
        self._sub: Subscription | None = None
        self.wm: Position = START
        """The newest position whose messages are queued on the sockets."""
        self.read_to: Position = START
        """The newest position read from the log: ahead of `wm` while its batches render (see `_catch_up`)."""
        self._held_back: Position = START
        """The newest position notified but not yet readable (above the horizon): re-read until `read_to` reaches
        it."""
        self._held_since: float | None = None
        """When a read first left a notified event above the horizon (for STATS)."""
        self._rendering: collections.deque[tuple[list[Event], asyncio.Task[Rendered]]] = collections.deque()
        """Batches read and rendering (or rendered), oldest first: `_deliver` queues their messages in this order."""
        self._gate = asyncio.Semaphore(RENDER_AHEAD)
        busy = getattr(hub, "rendering", None)
        self._busy: set[TenantFeed] = busy if busy is not None else set()
        """The process's feeds with a batch rendering (the hub's `rendering`; a feed without a hub counts alone)."""
        self._changed = asyncio.Event()
        """Set when a batch is scheduled or delivered (wakes `_deliver`, and a read waiting for room)."""
        self.restarts = 0
        """Times a batch failed outside the render's own fallback and the feed read again from `wm`."""
        self._tasks: list[asyncio.Task[None]] = []
        self._check_now = asyncio.Event()
        self._lock = asyncio.Lock()
        self.members = 0
        """Sockets joined or joining; the feed stops when it drops to zero."""
        self._audiences: dict[tuple[str, ...], list[list[Connection]]] = {}
        """The sockets that hear an event on these channels, grouped by view (see `_audiences_of`); forgotten
        whenever a socket joins, leaves or changes what it listens to."""

    async def start(self) -> None:
        self._sub = await self.hub.backend.subscribe()
        async with tenant_context(self.tenant):
            self.wm = self.read_to = await event_log.current_id()
            self._held_back = await event_log.newest()  # above wm: committed, not final yet; read again shortly
        self._tasks = [asyncio.create_task(self._run(), name=f"realtime-feed-{self.tenant.slug}"),
                       asyncio.create_task(self._deliver(), name=f"realtime-deliver-{self.tenant.slug}"),
                       asyncio.create_task(self._tick(), name=f"realtime-tick-{self.tenant.slug}")]

    async def stop(self, code: int | None = None) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._drop_rendering()
        self._busy.discard(self)
        if code is not None:
            for conn in self.conns:
                conn.kick(code)
        if self._sub is not None:
            await self._sub.close()

    async def add_topics(self, conn: Connection, topics: set[str]) -> None:
        """Listen to `topics` for `conn`; returns once events published from now on will reach it."""
        assert self._sub is not None
        new = topics - conn.topics
        conn.topics |= new
        self._audiences.clear()
        fresh = [t for t in new if self._refs[t] == 0]
        self._refs.update(new)
        await self._sub.add(channel_name(self.tenant, t) for t in fresh)

    async def remove_topics(self, conn: Connection, topics: set[str]) -> None:
        assert self._sub is not None
        gone = topics & conn.topics
        conn.topics -= gone
        self._audiences.clear()
        self._refs.subtract(gone)
        stale = [t for t in gone if self._refs[t] <= 0]
        for t in stale:
            del self._refs[t]
        await self._sub.remove(channel_name(self.tenant, t) for t in stale)

    async def join(self, conn: Connection) -> None:
        topics, conn.topics = set(conn.topics), set()
        await self.add_topics(conn, topics)
        self.conns.add(conn)
        self._audiences.clear()
        if not conn.counts_presence:
            return
        changed = await self.hub.presence.connect(self.tenant.slug, conn.user.user_id, conn.id)
        if changed:
            await presence_mod.announce(self.tenant, conn.user.user_id, changed)

    async def leave(self, conn: Connection) -> None:
        self.conns.discard(conn)
        self._audiences.clear()
        await self.remove_topics(conn, set(conn.topics))
        if not conn.counts_presence:
            return
        changed = await self.hub.presence.disconnect(self.tenant.slug, conn.user.user_id, conn.id)
        if changed:
            await presence_mod.announce(self.tenant, conn.user.user_id, changed)

    async def _run(self) -> None:
        assert self._sub is not None
        retry = HELD_BACK_RETRY[0]
        while True:
            batch: list[tuple[str, bytes]] = []
            if self._held_back > self.read_to:  # notified events wait above the horizon: look again soon
                with contextlib.suppress(TimeoutError):
                    batch.append(await asyncio.wait_for(self._sub.get(), retry))
                STATS["timer"] += not batch
                retry = min(retry * 2, HELD_BACK_RETRY[1])
            else:
                batch.append(await self._sub.get())
                retry = HELD_BACK_RETRY[0]
            with contextlib.suppress(asyncio.QueueEmpty):
                while len(batch) < 1000:
                    batch.append(self._sub.get_nowait())
            newest: Position | None = None
            for _channel, payload in batch:
                try:
                    event = decode(payload)
                except Exception:
                    logger.warning("realtime_bad_payload", tenant=self.tenant.slug)
                    continue
                if event.tenant == self.tenant.slug and event.position > self.read_to:
                    newest = event.position if newest is None else max(newest, event.position)
            if newest is None and self._held_back <= self.read_to:
                continue
            try:
                await self._advance(newest)
            except Exception:
                logger.exception("realtime_feed_failed", tenant=self.tenant.slug)

    async def _advance(self, newest: Position | None) -> None:
        """Read what the log holds after `read_to` up to the horizon (one query per batch, whatever the number of
        sockets) and set it rendering; remember `newest` if it is not readable yet."""
        async with self._lock:
            if newest is not None:
                self._held_back = max(self._held_back, newest)
            await self._catch_up()

    async def _catch_up(self) -> None:
        """Read everything final after `read_to` from the log and set it rendering; caller holds the lock. Returns
        once it is scheduled, not rendered: the feed reads the next events while these render (pipelined), so an
        event that arrives mid-render waits for a free render slot, not for the whole backlog to be delivered.

        A read is cut into batches of up to RENDER_BATCH events (one unit of work each), as many as there are
        free render slots while it has that many events; at most RENDER_AHEAD batches render at once, and the next
        read waits until one of them is rendered, so what arrives meanwhile is read at once, in one query, and
        rendered in batches (a batch rendered but waiting for an earlier one to be queued holds no slot).
        `_deliver` queues each event's messages only after every earlier event's (position order), each event
        once."""
        while True:
            while (busy := self._unrendered()) >= (limit := self._render_limit()):
                self._changed.clear()
                await self._changed.wait()
            restarts = self.restarts
            async with tenant_context(self.tenant):
                rows = await event_log.read(self.read_to, limit=1000)
            if self.restarts != restarts:  # a batch failed meanwhile and read_to went back: read again from there
                continue
            self._count(rows)
            if not rows:
                return
            self.read_to = rows[-1].position
            size = min(RENDER_BATCH, max(1, -(-len(rows) // (limit - busy))))
            for i in range(0, len(rows), size):
                batch = rows[i:i + size]
                task = asyncio.create_task(self._render(batch, self._gate))
                task.add_done_callback(self._rendered)
                self._rendering.append((batch, task))
                self._busy.add(self)
            self._changed.set()
            if len(rows) < 1000:
                return

    def _unrendered(self) -> int:
        return sum(not task.done() for _, task in self._rendering)

    def _rendered(self, _task: asyncio.Task[Rendered]) -> None:
        if not self._unrendered():
            self._busy.discard(self)
        self._changed.set()

    def _render_limit(self) -> int:
        """Batches this feed may render at once: RENDER_AHEAD while it is the only busy feed, fewer as more feeds of
        the process render (RENDER_PROCESS shared out, at least one each: no feed waits for another)."""
        feeds = len(self._busy) + (self not in self._busy)
        return max(1, min(RENDER_AHEAD, RENDER_PROCESS // feeds))

    def _count(self, rows: list[Event]) -> None:
        STATS["reads"] += 1
        STATS["events"] += len(rows)
        now = asyncio.get_running_loop().time()
        if self._held_back > (rows[-1].position if rows else self.read_to):
            STATS["held"] += 1
            if self._held_since is None:
                self._held_since = now
        elif self._held_since is not None:
            STATS["waits"] += 1
            STATS["held_ms"] += round((now - self._held_since) * 1000)
            self._held_since = None

    async def _deliver(self) -> None:
        """Queue the rendered batches' messages on the sockets, oldest batch first (position order)."""
        while True:
            if not self._rendering:
                self._changed.clear()
                await self._changed.wait()
                continue
            batch, task = self._rendering[0]
            try:
                rendered = await task
            except Exception:  # not the database (the render falls back to markers): read again from wm
                logger.exception("realtime_deliver_failed", tenant=self.tenant.slug, events=len(batch))
                self.restarts += 1
                self._drop_rendering()
                self.read_to = self.wm
                self._changed.set()
                continue
            self._rendering.popleft()
            if len(batch) == 1:
                self._offer(batch[0], *rendered[0])
            else:
                self._offer_batch(batch, rendered)
            self._changed.set()

    def _drop_rendering(self) -> None:
        while self._rendering:
            self._rendering.popleft()[1].cancel()

    async def _render(self, batch: list[Event], gate: asyncio.Semaphore | None = None) -> Rendered:
        """Each event's message for each audience among the sockets that hear it (rendered once per audience, the
        batch in one unit of work)."""
        audiences = [self._audiences_of(event.channels) for event in batch]
        if not any(audiences):
            return [([], []) for _ in batch]
        try:
            async with gate or contextlib.nullcontext():
                messages = await frames_of([(event, [g[0].user for g in groups])
                                            for event, groups in zip(batch, audiences, strict=True)], self.tenant)
        except Exception:  # the database is away: the marker alone keeps cursors moving; a refresh heals
            logger.exception("realtime_render_batch_failed", tenant=self.tenant.slug, events=len(batch))
            messages = [[marker(event.position, event=event)] * len(groups)
                        for event, groups in zip(batch, audiences, strict=True)]
        return list(zip(audiences, messages, strict=True))

    def _audiences_of(self, channels: tuple[str, ...]) -> list[list[Connection]]:
        """The sockets that hear an event on `channels`, one group per view, worked out once for every event on the
        same channels until a socket joins, leaves or changes its topics (not once per socket per event). A socket
        kicked meanwhile may still be in a group: `Connection.offer` sends it nothing. The groups are shared: read
        them, never change them."""
        groups = self._audiences.get(channels)
        if groups is None:
            viewers: dict[tuple[Any, ...], list[Connection]] = {}
            for conn in self.conns:
                if conn.close_code is None and not conn.topics.isdisjoint(channels):
                    viewers.setdefault(conn.view, []).append(conn)
            groups = list(viewers.values())
            if len(self._audiences) >= 256:  # channels vary by conversation, contact, user: keep the recent ones
                self._audiences.clear()
            self._audiences[channels] = groups
        return groups

    def _offer(self, event: Event, groups: list[list[Connection]], messages: list[str]) -> None:
        """Queue each socket its audience's message of `event` (in position order: the caller's loop)."""
        position = event.position  # a new tuple on every read: once per event, not once per socket
        self.wm = max(self.wm, position)
        for group, message in zip(groups, messages, strict=True):
            for conn in group:
                conn.offer(position, message)
        if event.name in RECHECK_ON:
            self._check_now.set()

    def _offer_batch(self, batch: list[Event], rendered: Rendered) -> None:
        """`_offer` for several events at once: each socket is handed all its messages of the batch together (one
        frame when its writer is idle; the sockets of one audience get the same messages, joined once: JoinMemo)."""
        per_conn: dict[Connection, list[tuple[Position, str]]] = {}
        check = False
        for event, (groups, messages) in zip(batch, rendered, strict=True):
            position = event.position
            self.wm = max(self.wm, position)
            for group, message in zip(groups, messages, strict=True):
                for conn in group:
                    items = per_conn.get(conn)
                    if items is None:
                        per_conn[conn] = [(position, message)]
                    else:
                        items.append((position, message))
            check = check or event.name in RECHECK_ON
        for conn, items in per_conn.items():
            conn.offer_many(items)
        if check:
            self._check_now.set()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = next_catch_up = loop.time()
        backoff = Backoff(f"realtime_tick_{self.tenant.slug}", first=1.0, cap=10.0)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._check_now.wait(), SESSION_CHECK_EVERY)
            self._check_now.clear()
            try:
                await self._check_sessions()
                now = loop.time()
                if now >= next_beat:
                    next_beat = now + presence_mod.HEARTBEAT_EVERY
                    await self.hub.presence.heartbeat(self.tenant.slug, [(c.user.user_id, c.id) for c in self.conns
                                                                         if c.counts_presence])
                    for user_id in await self.hub.presence.sweep(self.tenant.slug):
                        await presence_mod.announce(self.tenant, user_id, "offline")
                if now >= next_catch_up:
                    next_catch_up = now + CATCH_UP_EVERY
                    async with self._lock:
                        await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or Redis is away: keep ticking, less often, until it is back
                if not backoff.down:
                    logger.exception("realtime_tick_failed", tenant=self.tenant.slug)
                await backoff.wait(exc)
            else:
                backoff.recovered()

    async def _check_sessions(self) -> None:
        conns = [c for c in self.conns if c.close_code is None]
        if not conns:
            return
        idle = get_settings().security.session_idle_minutes
        sessions = [c for c in conns if c.still_valid is None]
        others: dict[CredentialCheck, list[Connection]] = {}
        for conn in conns:
            if conn.still_valid is not None:
                others.setdefault(conn.still_valid, []).append(conn)
        async with tenant_context(self.tenant) as uow:
            if sessions:
                rows = await uow.connection.fetch(_SESSION_SQL, list({c.user.credential_id for c in sessions}), idle)
                alive = {r["id"] for r in rows}
                for conn in sessions:
                    if conn.user.credential_id not in alive:
                        conn.kick(CLOSE_SESSION_ENDED)
            for check, group in others.items():
                valid = await check(sorted({c.user.credential_id for c in group}))
                for conn in group:
                    if conn.user.credential_id not in valid:
                        conn.kick(CLOSE_SESSION_ENDED)


class Hub:
    """This process's feeds, one per tenant with sockets here."""

    def __init__(self, backend: BroadcastBackend, presence: PresenceStore) -> None:
        self.backend = backend
        self.presence = presence
        self.feeds: dict[str, TenantFeed] = {}
        self.rendering: set[TenantFeed] = set()
        """Feeds with a batch rendering now (see `TenantFeed._render_limit`)."""
        self._lock = asyncio.Lock()

    async def attach(self, conn: Connection) -> TenantFeed:
        async with self._lock:
            feed = self.feeds.get(conn.tenant.slug)
            if feed is None:
                feed = TenantFeed(self, conn.tenant)
                await feed.start()
                self.feeds[conn.tenant.slug] = feed
            feed.members += 1
        try:
            await feed.join(conn)
        except BaseException:
            await self._release(feed)
            raise
        return feed

    async def detach(self, conn: Connection) -> None:
        feed = self.feeds.get(conn.tenant.slug)
        if feed is None or conn not in feed.conns:
            return
        try:
            await feed.leave(conn)
        finally:
            await self._release(feed)

    async def _release(self, feed: TenantFeed) -> None:
        async with self._lock:
            feed.members -= 1
            if feed.members > 0 or self.feeds.get(feed.tenant.slug) is not feed:
                return
            del self.feeds[feed.tenant.slug]
        await feed.stop()

    async def stop(self) -> None:
        async with self._lock:
            feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            await feed.stop(CLOSE_RESTART)
