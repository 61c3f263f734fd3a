"""Tenant-schema tables of routing: per-queue settings, agent skills, offers and the stored decisions."""

from __future__ import annotations

from piccolo.columns import JSONB, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.conversations.tables import Conversation, Queue

STRATEGIES = ("manual", "round_robin", "least_busy", "longest_idle")
"""`manual`: nobody is offered anything, operators pick from the queue (the behaviour before routing)."""
OFFER_STATUSES = ("pending", "accepted", "rejected", "timeout", "withdrawn")


class QueueRouting(Table, tablename="queue_routing"):
    """How one queue hands its items out; a queue without a row is `manual`."""

    id: Serial
    queue = ForeignKey(references=Queue, unique=True)
    strategy = Varchar(length=20, default="manual")
    skills = JSONB(default="{}")
    """Required skills with their minimum level: {"french": 3}."""
    sticky_minutes = Integer(default=0)
    """A returning customer goes first to the agent who served them last within this many minutes (0: off)."""
    offer_timeout = Integer(default=20)
    """Seconds an agent has to accept an offer before it goes to the next one."""
    misses_before_away = Integer(default=3)
    """Offers let time out in a row before the agent is set away (reason `missed_offers`); 0: never."""
    overflow_queue = ForeignKey(references=Queue, null=True, default=None)
    overflow_after = Integer(default=0)
    """Seconds an item waits with nobody eligible before it moves to `overflow_queue` (0: never)."""
    rr_last_user = Integer(null=True, default=None)
    """Round robin pointer: the agent offered last; the next turn goes to the next agent id after it."""


class AgentSkill(Table, tablename="agent_skill"):
    id: Serial
    user = ForeignKey(references=User)
    skill = Varchar(length=40)
    level = Integer(default=1)
    """1 (basic) to 10 (expert)."""


class RoutingDecision(Table, tablename="routing_decision"):
    """Why this agent: every candidate the router looked at, with its figures, the winner and the reason it won."""

    id: Serial
    conversation = ForeignKey(references=Conversation)
    queue = ForeignKey(references=Queue)
    strategy = Varchar(length=20)
    winner = ForeignKey(references=User, null=True, default=None)
    reason = Varchar(length=20, default="")
    """skills | stickiness | round_robin | load | idle_time | only_one"""
    candidates = JSONB(default="[]")
    created_at = Timestamptz(default=TimestamptzNow())


class RoutingOffer(Table, tablename="routing_offer"):
    """An item offered to one agent until it is accepted, rejected, let time out or withdrawn."""

    id: Serial
    conversation = ForeignKey(references=Conversation)
    queue = ForeignKey(references=Queue)
    user = ForeignKey(references=User)
    channel = Varchar(length=10)
    decision = ForeignKey(references=RoutingDecision, null=True, default=None)
    status = Varchar(length=10, default="pending")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    reason = Varchar(length=40, default="")
    """Why it closed when not by the agent: `went_away`, `taken`, `moved`, `closed`."""
