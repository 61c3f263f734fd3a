"""Group commit of visitors' chat messages: one writer per tenant per process files the messages that arrive while
its previous batch commits, from any number of chats, in ONE transaction (services.visitor_messages: a statement
per kind of row, not per message), and answers each sender only after that commit.

Nothing acknowledged is lost: a sender's future resolves after the commit (or with the error that refused its own
message). If the batch fails as a whole (a broken row, a deadlock, the database going away), each of its messages is
retried alone in its own transaction, so one bad message cannot sink the others. A sender that goes away before
its answer does not withdraw its message: once handed over it is filed.

The widget's socket hands its messages here (app.chat.socket), and its delivery marks ("the frame showed the
operator's messages up to N"): `deliver` collects them per tenant and files what arrived meanwhile, from any number
of chats, in one transaction (services.delivered_many), without the socket waiting for it.

The HTTP `POST /chat/messages` keeps its own unit of work: a request already holds a pooled connection, and requests
waiting on the writer's connection could exhaust the pool the writer needs.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
from typing import Any

import structlog

from app.chat import services
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError

log = structlog.get_logger(__name__)

MAX_BATCH = 500
"""Messages in one transaction at most (a larger backlog commits in several, one after the other)."""

STATS: dict[str, int] = {"batches": 0, "messages": 0, "retried": 0, "deliveries": 0}
"""This process's counts: transactions, messages filed through them, messages retried alone after a failed batch,
transactions of delivery marks."""


@dataclasses.dataclass(slots=True)
class _Pending:
    session_id: int
    text: str
    done: asyncio.Future[dict[str, Any]]


class ChatWriter:
    """The writer of one tenant in this process: at most one batch committing; what arrives meanwhile is the next."""

    def __init__(self, tenant: TenantRef) -> None:
        self.tenant = tenant
        self.pending: list[_Pending] = []
        self.task: asyncio.Task[None] | None = None
        self.more: asyncio.Future[None] | None = None
        """Set by `submit` while a drained writer waits for its last broadcasts."""

    def submit(self, session_id: int, text: str) -> asyncio.Future[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        item = _Pending(session_id, text, loop.create_future())
        self.pending.append(item)
        if self.more is not None:
            _set(self.more)
        if self.task is None or self.task.done():
            # A fresh context: the writer's transactions are its own, never the unit of work of whoever woke it.
            self.task = loop.create_task(self._drain(), name=f"chat-writer-{self.tenant.slug}",
                                         context=contextvars.Context())
        return item.done

    async def _drain(self) -> None:
        """Commit batch after batch. The next batch starts as soon as the previous one has committed (its senders
        answered), while the previous one's events are still being broadcast; once drained, the writer waits for
        those broadcasts before it goes (so it is gone only when everything it filed went out)."""
        loop = asyncio.get_running_loop()
        broadcasting: list[asyncio.Task[None]] = []
        try:
            while True:
                broadcasting = [t for t in broadcasting if not t.done()]
                if self.pending:
                    batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                    committed: asyncio.Future[None] = loop.create_future()
                    task = loop.create_task(self._commit(batch, committed))
                    task.add_done_callback(functools.partial(_set, committed))
                    broadcasting.append(task)
                    await committed
                elif broadcasting:  # until they are out, or a message arrives (it starts the next batch at once)
                    self.more = loop.create_future()
                    await asyncio.wait([*broadcasting, self.more], return_when=asyncio.FIRST_COMPLETED)
                    self.more = None
                else:
                    break
        finally:
            if not self.pending and _writers.get(self.tenant.schema) is self:
                del _writers[self.tenant.schema]

    async def _commit(self, batch: list[_Pending], committed: asyncio.Future[None]) -> None:
        results: list[dict[str, Any] | DomainError] = []
        try:
            async with tenant_context(self.tenant) as uow:
                # The senders are answered first thing after the commit, before the batch's events go out (the
                # hooks run in order, and the events' are added below): an answer never waits on the broadcast,
                # and neither does the next batch (`committed`).
                uow.after_commit(functools.partial(_settle_all, batch, results, committed))
                results += await services.visitor_messages([(p.session_id, p.text) for p in batch])
        except Exception:
            log.warning("chat_batch_failed", tenant=self.tenant.slug, size=len(batch), exc_info=True)
            STATS["retried"] += len(batch)
            for p in batch:
                await self._alone(p)
            return
        STATS["batches"] += 1
        STATS["messages"] += len(batch)

    async def _alone(self, p: _Pending) -> None:
        try:
            async with tenant_context(self.tenant):
                result: dict[str, Any] | BaseException = await services.visitor_message(p.session_id, p.text)
        except Exception as exc:  # this message's own failure, told to its sender alone
            result = exc
        _settle(p.done, result)


async def _settle_all(batch: list[_Pending], results: list[dict[str, Any] | DomainError],
                      committed: asyncio.Future[None]) -> None:
    for p, result in zip(batch, results, strict=True):
        _settle(p.done, result)
    _set(committed)


def _set(committed: asyncio.Future[None], *_: Any) -> None:
    if not committed.done():
        committed.set_result(None)


def _settle(done: asyncio.Future[dict[str, Any]], result: dict[str, Any] | BaseException) -> None:
    if done.done():
        return
    if isinstance(result, BaseException):
        done.set_exception(result)
    else:
        done.set_result(result)


_writers: dict[str, ChatWriter] = {}
"""Writers with work, by tenant schema; a writer leaves once drained (a process serving many shops keeps none idle)."""


async def send(tenant: TenantRef, session_id: int, body: Any) -> dict[str, Any]:
    """A visitor's message through the tenant's writer: its stored row once committed. Invalid text is refused
    here, before it joins a batch."""
    text = services.check_body(body)
    writer = _writers.get(tenant.schema)
    if writer is None:
        writer = _writers[tenant.schema] = ChatWriter(tenant)
    # Shielded: a sender that is cancelled (its socket closed) still has its message filed.
    return await asyncio.shield(writer.submit(session_id, text))





class Deliveries:
    """The delivery marks of one tenant in this process: at most one transaction marking; what arrives meanwhile (the
    newest mark per chat) is the next. A failed batch is retried chat by chat."""

    def __init__(self, tenant: TenantRef) -> None:
        self.tenant = tenant
        self.pending: dict[int, int] = {}
        self.task: asyncio.Task[None] | None = None

    def submit(self, session_id: int, upto: int) -> None:
        self.pending[session_id] = max(upto, self.pending.get(session_id, 0))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(
                self._drain(), name=f"chat-deliveries-{self.tenant.slug}", context=contextvars.Context())

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, {}
                try:
                    async with tenant_context(self.tenant):
                        await services.delivered_many(batch)
                    STATS["deliveries"] += 1
                except Exception:
                    log.warning("chat_deliveries_failed", tenant=self.tenant.slug, size=len(batch), exc_info=True)
                    for session_id, upto in batch.items():
                        try:
                            async with tenant_context(self.tenant):
                                await services.delivered_many({session_id: upto})
                        except Exception:
                            log.exception("chat_delivery_not_marked", tenant=self.tenant.slug, session_id=session_id)
        finally:
            if not self.pending and _deliveries.get(self.tenant.schema) is self:
                del _deliveries[self.tenant.schema]


_deliveries: dict[str, Deliveries] = {}
"""Delivery batchers with work, by tenant schema (gone once drained, like the writers)."""


def deliver(tenant: TenantRef, session_id: int, upto: int) -> None:
    """The widget showed the operator's messages of the chat up to `upto`: marked "delivered" (and the operator
    told) by the tenant's next delivery batch. Returns at once."""
    if upto <= 0:
        return
    batcher = _deliveries.get(tenant.schema)
    if batcher is None:
        batcher = _deliveries[tenant.schema] = Deliveries(tenant)
    batcher.submit(session_id, upto)


async def delivered(tenant: TenantRef) -> None:
    """Wait until the tenant's delivery marks handed over so far are filed (tests, shutdown)."""
    while (batcher := _deliveries.get(tenant.schema)) is not None and batcher.task is not None:
        await asyncio.shield(batcher.task)
