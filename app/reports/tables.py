"""Tenant-schema fact tables of reporting (written by app.reports.listener from the event spine, rebuilt by
`switchboard reports rebuild`), the 15-minute rollups the reports read, and the KPI targets.

Facts keep plain ids (no foreign keys): a deleted user or contact leaves its history countable. Times are UTC.
The column lists are the contract other report modules read (R2 queues, R3 revenue, R4 wallboard and digest)."""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Boolean, Date, DoublePrecision, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

VISIT_OUTCOMES = ("waiting", "answered", "abandoned", "callback", "overflowed", "transferred", "closed")
"""How a wait in a queue ended; `waiting` while it has not."""
OFFER_OUTCOMES = ("pending", "accepted", "rejected", "timeout", "withdrawn")


class QueueVisit(Table, tablename="report_queue_visit"):
    """One wait of a conversation in a queue: enqueued -> answered | abandoned | callback | overflowed |
    transferred | closed."""

    id: Serial
    conversation = Integer()
    contact = Integer(null=True, default=None)
    channel = Varchar(length=10)
    queue = Integer()
    entered_at = Timestamptz()
    answered_at = Timestamptz(null=True, default=None)
    answered_by = Integer(null=True, default=None)
    left_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=12, default="waiting")
    wait_seconds = Integer(null=True, default=None)
    """left_at - entered_at in whole seconds (answered: the speed of answer); null while waiting."""
    callback = Boolean(default=False)
    """The caller asked to be called back while waiting (kept apart from abandons)."""


class Step(Table, tablename="report_step"):
    """The journal of a conversation's steps as the event spine told them (the event log is trimmed after a day;
    this is kept): queued, taken, assigned, overflowed, removed, closed, hold, resume, ended, callback, snoozed,
    reopened. The facts are projected from it (app.reports.facts)."""

    id = BigInt(primary_key=True)
    conversation = Integer()
    event_id = BigInt()
    kind = Varchar(length=12)
    at = Timestamptz()
    queue = Integer(null=True, default=None)
    agent = Integer(null=True, default=None)
    detail = Varchar(length=50, default="")


class AgentLeg(Table, tablename="report_agent_leg"):
    """One agent's handling of a conversation, from taking it until it was closed or handed on."""

    id: Serial
    conversation = Integer()
    channel = Varchar(length=10)
    queue = Integer()
    agent = Integer()
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    """When the agent's work on it ended (closed, wrapped up or transferred); null while handling."""
    talk_seconds = Integer(default=0)
    """From taking it until the call ended (other channels: until closed or handed on), minus hold."""
    hold_seconds = Integer(default=0)
    wrap_seconds = Integer(default=0)
    """From the end of the call until the wrap-up was saved (calls only; other channels have none)."""
    transferred_out = Boolean(default=False)
    disposition = Varchar(length=50, default="")


class ConversationFact(Table, tablename="report_conversation"):
    """Response and resolution of one conversation (one row per conversation)."""

    conversation = Integer(primary_key=True)
    contact = Integer(null=True, default=None)
    channel = Varchar(length=10)
    queue = Integer()
    agent = Integer(null=True, default=None)
    """Who resolved it (the last agent), else who handled it last."""
    responder = Integer(null=True, default=None)
    """Who answered first (calls: who took it; other channels: the first outbound message's author)."""
    created_at = Timestamptz()
    first_response_at = Timestamptz(null=True, default=None)
    first_response_seconds = Integer(null=True, default=None)
    first_response_bh_seconds = Integer(null=True, default=None)
    """The same in the queue's business hours (app.hours); around the clock when the queue has no calendar."""
    resolved_at = Timestamptz(null=True, default=None)
    resolution_seconds = Integer(null=True, default=None)
    """created_at -> resolved_at minus paused time the SLA resolution clock counted (snoozed, awaiting customer)."""
    resolution_bh_seconds = Integer(null=True, default=None)
    transfers = Integer(default=0)


class OfferFact(Table, tablename="report_offer"):
    """A routing offer to an agent and how it closed."""

    id = Integer(primary_key=True)
    """The routing_offer's id."""
    conversation = Integer()
    queue = Integer()
    channel = Varchar(length=10)
    agent = Integer()
    offered_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=10, default="pending")


class Rollup(Table, tablename="report_rollup"):
    """Counts, sums and histograms per 15-minute bucket x queue x agent x channel x metric (0 = none)."""

    bucket = Timestamptz()
    queue = Integer(default=0)
    agent = Integer(default=0)
    channel = Varchar(length=10, default="")
    metric = Varchar(length=30)
    count = BigInt(default=0)
    sum = DoublePrecision(default=0.0)
    hist = JSONB(default={})
    """{bin: count}: 1-second bins under 5 min, 10 s under 30 min, 60 s beyond (app.reports.rollups.bin_of)."""


class RollupDay(Table, tablename="report_rollup_day"):
    """The 15-minute rollups summed per UTC day (the whole days of a long period are read from here)."""

    day = Date()
    queue = Integer(default=0)
    agent = Integer(default=0)
    channel = Varchar(length=10, default="")
    metric = Varchar(length=30)
    count = BigInt(default=0)
    sum = DoublePrecision(default=0.0)
    hist = JSONB(default={})


class RollupMonth(Table, tablename="report_rollup_month"):
    """The daily rollups summed per UTC month (`month`: its first day); the whole months of a long period are read
    from here (app.reports.rollups.LEVELS)."""

    month = Date()
    queue = Integer(default=0)
    agent = Integer(default=0)
    channel = Varchar(length=10, default="")
    metric = Varchar(length=30)
    count = BigInt(default=0)
    sum = DoublePrecision(default=0.0)
    hist = JSONB(default={})


class Target(Table, tablename="report_target"):
    """A KPI target: for one agent, or the team default (agent null)."""

    id: Serial
    metric = Varchar(length=30)
    agent = Integer(null=True, default=None)
    value = DoublePrecision()
    updated_at = Timestamptz(default=TimestamptzNow())


class ReportSettings(Table, tablename="report_settings"):
    """How the queue service report computes service level (app.reports.service_level); one row (id 1), absent
    until an admin saves: the defaults apply."""

    id = Integer(primary_key=True, default=1)
    service_level_formula = Varchar(length=30, default="offered_minus_short")
    service_level_seconds = Integer(default=20)
    short_abandon_seconds = Integer(default=5)
    updated_at = Timestamptz(default=TimestamptzNow())


class RevenueSetting(Table, tablename="report_revenue_setting"):
    """The revenue reports' rules (app.reports.revenue_facts.RevenueSettings): one row per tenant, id 1."""

    id = Integer(primary_key=True, default=1)
    touch_days = Integer(default=7)
    """The last touch before an order counts when it is at most this many days older than the order."""
    lapsed_factor = DoublePrecision(default=2.0)
    lapsed_days = Integer(default=180)
    updated_at = Timestamptz(default=TimestamptzNow())
