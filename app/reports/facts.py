"""Projection of one conversation's history into the reporting facts (queue visits, agent legs, response and
resolution, offers) and their contributions to the rollups: the one function the live listener and the rebuild
both call, so a rebuild equals the live facts.

A conversation's history is its journal of steps (`report_step`, appended by app.reports.listener from the event
spine: queued, taken, assigned, overflowed, removed, closed, hold, resume, ended, callback, snoozed, reopened; the
event log itself is trimmed after a day, the journal is not), its routing offers and its first reply on the
timeline. A conversation from before reporting existed has no journal: `synthesised_steps` reads what its row and
timeline still tell (queued, taken, hold notes, call end, close), which is everything but transfers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from app.lib.db import current_uow
from app.reports import deltas
from app.sla.calendar import calendar_for

LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':reports.facts'))"
"""Projections and rebuilds of one tenant run one at a time (a rebuild while the worker runs stays consistent)."""


@dataclasses.dataclass
class Step:
    kind: str
    at: dt.datetime
    queue: int | None = None
    agent: int | None = None
    detail: str = ""


@dataclasses.dataclass
class Visit:
    queue: int
    entered_at: dt.datetime
    answered_at: dt.datetime | None = None
    answered_by: int | None = None
    left_at: dt.datetime | None = None
    outcome: str = "waiting"
    callback: bool = False

    @property
    def wait_seconds(self) -> int | None:
        return None if self.left_at is None else round((self.left_at - self.entered_at).total_seconds())


@dataclasses.dataclass
class Leg:
    agent: int
    queue: int
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    talk_end: dt.datetime | None = None
    hold: float = 0.0
    hold_since: dt.datetime | None = None
    wrap: float = 0.0
    transferred_out: bool = False
    disposition: str = ""

    def end_hold(self, at: dt.datetime) -> None:
        if self.hold_since is not None:
            self.hold += max(0.0, (at - self.hold_since).total_seconds())
            self.hold_since = None

    @property
    def talk_seconds(self) -> int:
        end = self.talk_end or self.ended_at
        if end is None:
            return 0
        return max(0, round((end - self.started_at).total_seconds() - self.hold))


@dataclasses.dataclass
class Derived:
    visits: list[Visit]
    legs: list[Leg]
    transfers: int
    paused: list[tuple[dt.datetime, dt.datetime]]
    """Snoozed spans (resolution excludes them)."""


def derive(steps: Sequence[Step], now: dt.datetime) -> Derived:
    """Replay a conversation's steps (in order) into its queue visits and agent legs. Pure: unit-tested."""
    visits: list[Visit] = []
    legs: list[Leg] = []
    visit: Visit | None = None
    leg: Leg | None = None
    transfers = 0
    snoozed: dt.datetime | None = None
    paused: list[tuple[dt.datetime, dt.datetime]] = []

    def close_visit(at: dt.datetime, outcome: str) -> None:
        nonlocal visit
        if visit is not None:
            visit.left_at, visit.outcome = at, ("callback" if outcome == "abandoned" and visit.callback else outcome)
            visit = None

    def close_leg(at: dt.datetime, *, transferred: bool = False, disposition: str = "") -> None:
        nonlocal leg
        if leg is not None:
            leg.end_hold(leg.talk_end or at)
            leg.ended_at = at
            if leg.talk_end is not None:
                leg.wrap = max(0.0, (at - leg.talk_end).total_seconds())
            leg.transferred_out, leg.disposition = transferred, disposition
            leg = None

    def open_leg(agent: int, queue: int | None, at: dt.datetime) -> None:
        nonlocal leg
        leg = Leg(agent=agent, queue=queue or 0, started_at=at)
        legs.append(leg)

    def unsnooze(at: dt.datetime) -> None:
        nonlocal snoozed
        if snoozed is not None:
            paused.append((snoozed, at))
            snoozed = None

    for step in steps:
        at = step.at
        if step.kind in ("queued", "assigned") and not (step.kind == "assigned" and step.agent):
            if visit is not None and visit.queue == step.queue:
                continue  # the same wait told twice
            if visit is not None or leg is not None:
                transfers += 1
            close_visit(at, "transferred")
            close_leg(at, transferred=True)
            unsnooze(at)
            visit = Visit(queue=step.queue or 0, entered_at=at)
            visits.append(visit)
        elif step.kind in ("taken", "assigned"):
            if step.agent is None:
                continue
            if visit is not None:
                visit.answered_at, visit.answered_by = at, step.agent
                close_visit(at, "answered")
            if leg is not None and leg.agent != step.agent:
                transfers += 1
                close_leg(at, transferred=True)
            unsnooze(at)
            if leg is None:
                open_leg(step.agent, step.queue, at)
        elif step.kind == "overflowed":
            close_visit(at, "overflowed")
            visit = Visit(queue=step.queue or 0, entered_at=at)
            visits.append(visit)
        elif step.kind == "removed":
            close_visit(at, "callback" if step.detail.startswith("callback") else "abandoned")
            close_leg(at, disposition=step.detail)
            unsnooze(at)
        elif step.kind == "closed":
            close_visit(at, "closed")
            close_leg(at, disposition=step.detail)
            unsnooze(at)
        elif step.kind == "hold":
            if leg is not None and leg.hold_since is None and leg.talk_end is None:
                leg.hold_since = at
        elif step.kind == "resume":
            if leg is not None:
                leg.end_hold(at)
        elif step.kind == "ended":
            if leg is not None and leg.talk_end is None:
                leg.end_hold(at)
                leg.talk_end = at
        elif step.kind == "callback":
            if visit is not None:
                visit.callback = True
        elif step.kind == "snoozed":
            if snoozed is None:
                snoozed = at
        elif step.kind == "reopened":
            unsnooze(at)
    if snoozed is not None:
        paused.append((snoozed, now))
    return Derived(visits=visits, legs=legs, transfers=transfers, paused=paused)


# -- reading a conversation's history ---------------------------------------------------------------------------

async def conversation(conversation_id: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow(
        "SELECT id, contact, channel, queue, status, created_at, taken_at, ended_at, closed_at, wrapup_code, "
        "assigned_to, merged_into FROM conversation WHERE id = $1", conversation_id)
    return dict(row) if row else None


async def steps_of(conversation_id: int) -> list[Step]:
    rows = await current_uow().connection.fetch(
        "SELECT kind, at, queue, agent, detail FROM report_step WHERE conversation = $1 ORDER BY at, event_id, id",
        conversation_id)
    return [Step(r["kind"], r["at"], r["queue"], r["agent"], r["detail"]) for r in rows]


async def synthesised_steps(conv: dict[str, Any]) -> list[Step]:
    """What a conversation from before the journal still tells: it waited in its queue from created_at, was taken at
    taken_at by its operator, the hold notes of its call, the call's end, its close with the wrap-up code."""
    steps = [Step("queued", conv["created_at"], conv["queue"])]
    if conv["taken_at"] is not None and conv["assigned_to"] is not None:
        steps.append(Step("taken", conv["taken_at"], conv["queue"], conv["assigned_to"]))
    for row in await current_uow().connection.fetch(
            "SELECT occurred_at, payload ->> 'event' AS event FROM interaction "
            "WHERE links ->> 'conversation_id' = $1 AND channel = 'call' "
            "AND payload ->> 'event' IN ('hold', 'resumed') ORDER BY occurred_at, id", str(conv["id"])):
        steps.append(Step("hold" if row["event"] == "hold" else "resume", row["occurred_at"]))
    if conv["channel"] == "call" and conv["ended_at"] is not None and conv["taken_at"] is not None:
        steps.append(Step("ended", conv["ended_at"]))
    if conv["status"] == "closed" and conv["closed_at"] is not None:
        steps.append(Step("removed", conv["closed_at"], conv["queue"], detail=conv["wrapup_code"] or ""))
    steps.sort(key=lambda s: s.at)
    return steps


async def first_reply(conv: dict[str, Any], legs: Sequence[Leg]) -> tuple[dt.datetime | None, int | None]:
    """When and by whom the customer was first answered: a call when an agent took it; other channels at the first
    outbound message of a user on the conversation's timeline."""
    if conv["channel"] == "call":
        return (legs[0].started_at, legs[0].agent) if legs else (None, None)
    row = await current_uow().connection.fetchrow(
        "SELECT occurred_at, actor_id FROM interaction WHERE links ->> 'conversation_id' = $1 "
        "AND direction = 'out' AND actor_type = 'user' ORDER BY occurred_at, id LIMIT 1", str(conv["id"]))
    if row is None:
        return None, None
    return row["occurred_at"], row["actor_id"]


# -- writing ----------------------------------------------------------------------------------------------------

async def project(conversation_id: int, *, refresh: bool = True) -> deltas.Contributions:
    """Replace the facts of `conversation_id` with what its history says now, and (with `refresh`) add the change
    of its contributions to the rollups (app.reports.deltas: what its facts counted before, taken away; what they
    count now, added). Returns that change (empty without `refresh`, or when nothing counted changed). A
    conversation that no longer exists loses its facts."""
    conn = current_uow().connection
    await conn.execute(LOCK)
    before = await deltas.contributions(conversation_id) if refresh else {}
    for table in ("report_queue_visit", "report_agent_leg", "report_conversation", "report_offer"):
        await conn.execute(f"DELETE FROM {table} WHERE conversation = $1", conversation_id)  # noqa: S608
    conv = await conversation(conversation_id)
    if conv is not None:
        await _write(conv)
    if not refresh:
        return {}
    delta = deltas.difference(before, await deltas.contributions(conversation_id))
    await deltas.apply(delta)
    return delta


async def _write(conv: dict[str, Any]) -> None:
    conn = current_uow().connection
    steps = await steps_of(conv["id"]) or await synthesised_steps(conv)
    now = await conn.fetchval("SELECT now()")
    derived = derive(steps, now)
    cid, channel = conv["id"], conv["channel"]
    if derived.visits:
        await conn.executemany(
            "INSERT INTO report_queue_visit (conversation, contact, channel, queue, entered_at, answered_at, "
            "answered_by, left_at, outcome, wait_seconds, callback) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "$10, $11)",
            [(cid, conv["contact"], channel, v.queue, v.entered_at, v.answered_at, v.answered_by, v.left_at,
              v.outcome, v.wait_seconds, v.callback) for v in derived.visits])
    if derived.legs:
        await conn.executemany(
            "INSERT INTO report_agent_leg (conversation, channel, queue, agent, started_at, ended_at, talk_seconds, "
            "hold_seconds, wrap_seconds, transferred_out, disposition) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "$10, $11)",
            [(cid, channel, g.queue or conv["queue"], g.agent, g.started_at, g.ended_at, g.talk_seconds,
              round(g.hold), round(g.wrap), g.transferred_out, g.disposition[:50]) for g in derived.legs])
    await conn.execute(
        "INSERT INTO report_offer (id, conversation, queue, channel, agent, offered_at, closed_at, outcome) "
        "SELECT id, conversation, queue, channel, \"user\", created_at, closed_at, status FROM routing_offer "
        "WHERE conversation = $1", cid)
    await _write_conversation(conv, derived)


async def _write_conversation(conv: dict[str, Any], derived: Derived) -> None:
    responded_at, responder = await first_reply(conv, derived.legs)
    calendar = await calendar_for(conv["queue"], True)
    created = conv["created_at"]
    first = first_bh = None
    if responded_at is not None and responded_at >= created:
        first = round((responded_at - created).total_seconds())
        first_bh = round(calendar.elapsed(created, responded_at))
    resolved_at = resolution = resolution_bh = None
    if conv["status"] == "closed" and conv["closed_at"] is not None and derived.legs:
        resolved_at = conv["closed_at"]
        paused = sum((end - start).total_seconds() for start, end in derived.paused if end <= resolved_at)
        paused_bh = sum(calendar.elapsed(start, end) for start, end in derived.paused if end <= resolved_at)
        resolution = max(0, round((resolved_at - created).total_seconds() - paused))
        resolution_bh = max(0, round(calendar.elapsed(created, resolved_at) - paused_bh))
    agent = derived.legs[-1].agent if derived.legs else conv["assigned_to"]
    await current_uow().connection.execute(
        "INSERT INTO report_conversation (conversation, contact, channel, queue, agent, responder, created_at, "
        "first_response_at, first_response_seconds, first_response_bh_seconds, resolved_at, resolution_seconds, "
        "resolution_bh_seconds, transfers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        conv["id"], conv["contact"], conv["channel"], conv["queue"], agent, responder, created,
        responded_at if first is not None else None, first, first_bh, resolved_at, resolution, resolution_bh,
        derived.transfers)


async def record(conversation_id: int, event_id: int, steps: Iterable[Step]) -> None:
    """Append an event's steps to the conversation's journal (an event seen twice adds nothing)."""
    rows = [(conversation_id, event_id, s.kind, s.at, s.queue, s.agent, s.detail[:50]) for s in steps]
    if rows:
        await current_uow().connection.executemany(
            "INSERT INTO report_step (conversation, event_id, kind, at, queue, agent, detail) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (conversation, event_id, kind) DO NOTHING", rows)
