"""Tenant-schema tables of SLA policies and the clocks they start on conversations."""

from __future__ import annotations

from piccolo.columns import Array, Boolean, DoublePrecision, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.conversations.tables import Conversation, Queue
from app.lib.i18n import N_

METRICS = ("first_response", "next_response", "resolution")
METRIC_LABELS = {"first_response": N_("First response"), "next_response": N_("Next response"),
                 "resolution": N_("Resolution")}
MAX_TARGET = 366 * 24 * 3600
PAUSE_STATUSES = ("snoozed", "awaiting_customer")
"""What may pause a policy's clocks: the conversation's `snoozed` status, and `awaiting_customer`, the pseudo-status
"the last message is ours" (an agent replied and the customer has not written since; it pauses resolution only)."""


class SlaPolicy(Table, tablename="sla_policy"):
    """Targets for the conversations it matches (queue, channel, priority: empty = any; the most specific wins).
    A target left empty starts no clock for that metric."""

    id: Serial
    name = Varchar(length=100)
    queue = ForeignKey(references=Queue, null=True, on_delete=OnDelete.cascade)
    channel = Varchar(length=10, null=True, default=None)
    priority = Integer(null=True, default=None)
    first_response_seconds = Integer(null=True, default=None)
    next_response_seconds = Integer(null=True, default=None)
    resolution_seconds = Integer(null=True, default=None)
    business_hours = Boolean(default=False)
    """Count only the open hours of the queue's calendar (app.hours); a queue without one is always open."""
    pause_statuses = Array(base_column=Varchar(length=20), default=list)
    warn_percent = Integer(default=80)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class SlaClock(Table, tablename="sla_clock"):
    """One promise on one conversation. It copies the policy's terms when it starts (target, warning share, business
    hours, pause statuses), so editing or deleting the policy never moves a running clock."""

    id: Serial
    conversation = ForeignKey(references=Conversation, on_delete=OnDelete.cascade)
    metric = Varchar(length=20)
    cycle = Integer(default=0)
    """0 for first response and resolution; next response counts 1, 2, ... (one per customer message after a reply)."""
    policy = ForeignKey(references=SlaPolicy, null=True, on_delete=OnDelete.set_null)
    queue = Integer(null=True, default=None)
    """The queue whose calendar the clock counts in (the conversation's queue when it started)."""
    target_seconds = Integer()
    warn_percent = Integer()
    business_hours = Boolean(default=False)
    pause_statuses = Array(base_column=Varchar(length=20), default=list)
    started_at = Timestamptz()
    warn_at = Timestamptz()
    due_at = Timestamptz()
    paused_at = Timestamptz(null=True, default=None)
    paused_by = Varchar(length=20, null=True, default=None)
    """The pause status that paused it; only that status ending resumes it."""
    paused_seconds = DoublePrecision(default=0.0)
    """Paused time so far, counted like the target (open seconds for a business-hours clock)."""
    warned_at = Timestamptz(null=True, default=None)
    met_at = Timestamptz(null=True, default=None)
    breached_at = Timestamptz(null=True, default=None)
    stopped_at = Timestamptz(null=True, default=None)
    """Ended without being met: the conversation closed while a response was still owed."""


class SlaConversation(Table, tablename="sla_conversation"):
    """Who spoke last in a conversation, as the clocks saw it."""

    conversation = ForeignKey(references=Conversation, primary_key=True, on_delete=OnDelete.cascade)
    last_agent_reply_at = Timestamptz(null=True, default=None)
    last_customer_at = Timestamptz(null=True, default=None)
