"""Tenant-schema tables of agents: the one state routing trusts, its history, and capacity per channel."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.channels import KEYS

STATES = ("available", "busy", "wrapup", "away", "offline")
CHOSEN = ("available", "away")
"""The states a person picks; busy and wrap-up follow from what they do, offline from their sockets."""
WORKING = ("available", "busy")
"""The states in which an agent has room for work at all (app.agents.load.room)."""
CHANNELS = KEYS
"""Capacity is set per channel of the registry (app.channels)."""


class AgentState(Table, tablename="agent_state"):
    """One row per agent: the state routing reads. `reason` says why (away: break, lunch, missed_offers...);
    `chosen`/`chosen_reason` keep what the agent picked themselves, restored when a console connects or work ends."""

    id: Serial
    user = ForeignKey(references=User, null=False, unique=True)
    state = Varchar(length=12, default="offline")
    reason = Varchar(length=40, default="")
    since = Timestamptz(default=TimestamptzNow())
    wrapup_until = Timestamptz(null=True, default=None)
    chosen = Varchar(length=12, default="available")
    chosen_reason = Varchar(length=40, default="")
    call_blocks = Boolean(default=True)
    """While on a call the agent gets no new chats or SMS (load.BLOCKED_BY_CALL); off: they may take them."""


class AgentStateInterval(Table, tablename="agent_state_interval"):
    """Every state an agent was in, from `started_at` to `ended_at` (null while it lasts): for reports."""

    id: Serial
    user = ForeignKey(references=User, null=False, index=True)
    state = Varchar(length=12)
    reason = Varchar(length=40, default="")
    started_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)


class AgentCapacity(Table, tablename="agent_capacity"):
    """How many items of `channel` an agent handles at once (a row overrides load.DEFAULT_CAPACITY)."""

    id: Serial
    user = ForeignKey(references=User, null=False)
    channel = Varchar(length=10)
    slots = Integer(default=1)
