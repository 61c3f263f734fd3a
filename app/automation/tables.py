"""Tenant-schema tables of automation: rules (the current version), every version saved, and the run log.

Created in SQL by the migration (automation_2026_12_01t01_20): the run log's one-run-per-(rule, event) index."""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User

TRIGGERS = ("event", "delay", "schedule")
STATUSES = ("not_matched", "done", "waiting", "failed", "stopped", "rate_limited", "depth_limit", "partial")


class Rule(Table, tablename="automation_rule"):
    """A rule as it is now: `version` names the row of automation_rule_version that holds the same definition."""

    id: Serial
    name = Varchar(length=200)
    position = Integer(default=0)
    enabled = Boolean(default=False)
    version = Integer(default=1)
    trigger = Varchar(length=10, default="event")
    """event (on each matching event) | delay (a delay after the event) | schedule (cron, over contacts)."""
    event = Varchar(length=64, default="")
    delay_minutes = Integer(default=0)
    schedule = Varchar(length=100, default="")
    """A cron expression (five fields) in the workspace's zone, for trigger = schedule."""
    conditions = JSONB(default={"all": []})
    actions = JSONB(default=[])
    rate_limit = Integer(default=0)
    """At most this many runs per hour per record (contact); 0: no limit."""
    starter = Varchar(length=40, default="")
    """The starter rule it was made from (one click), or empty."""
    next_run_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class RuleVersion(Table, tablename="automation_rule_version"):
    id: Serial
    rule = ForeignKey(references=Rule, null=False, index=True)
    version = Integer()
    definition = JSONB(default={})
    created_by_label = Varchar(length=254, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Run(Table, tablename="automation_run"):
    """One evaluation of one rule version: the event, each leaf with its value and result, each action's outcome."""

    id = BigInt(primary_key=True)
    rule = ForeignKey(references=Rule, null=False)
    version = Integer()
    event_id = BigInt(null=True, default=None)
    event_name = Varchar(length=64, default="")
    depth = Integer(default=0)
    contact_id = Integer(null=True, default=None, index=True)
    conversation_id = Integer(null=True, default=None)
    order_id = Integer(null=True, default=None)
    ids = JSONB(default={})
    """The ids the event carried (contact, conversation, order, message...): a wait or a retry reloads from them."""
    status = Varchar(length=16)
    matched = Boolean(default=False)
    leaves = JSONB(default=[])
    actions = JSONB(default=[])
    """[{"type", "params", "status": done|failed|pending|skipped|waiting, "result", "error", "attempts"}]"""
    next_step = Integer(default=0)
    """Index of the next action to run (a wait or a retry resumes here)."""
    note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
