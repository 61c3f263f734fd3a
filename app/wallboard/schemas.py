"""What the wallboard API takes and answers (msgspec): the board and the wallboard-only links."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    """Which screen the link is for ("Floor TV")."""


class TokenOut(msgspec.Struct):
    id: int
    name: str
    prefix: str
    owner: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(msgspec.Struct):
    token: TokenOut
    secret: str
    """Shown once; only its hash is stored."""
    url: str
    """The link to open on the screen: `/t/{slug}/wallboard?token=<secret>&tv=1`."""


class StateCount(msgspec.Struct):
    count: int
    names: list[str]


class ServiceToday(msgspec.Struct):
    offered: int
    answered: int
    abandoned: int
    service_level: float | None
    """0..1, by the workspace's formula (the queue service report's); None when nothing was offered."""
    formula: str


class QueueBoard(msgspec.Struct):
    id: int
    key: str
    name: str
    waiting: int
    longest_wait_seconds: int
    agents: dict[str, StateCount]
    """available, busy, wrapup, away, offline: the active staff whose role sees the queue."""
    service: ServiceToday | None
    """Today in the workspace's zone; None until the queue service report can answer."""


class BoardOut(msgspec.Struct):
    waiting: int
    queues: list[QueueBoard]
    team: dict[str, StateCount]


def to_token(row: dict[str, Any]) -> TokenOut:
    return msgspec.convert(row, TokenOut, from_attributes=True)


def to_board(board: dict[str, Any]) -> BoardOut:
    queues = [QueueBoard(id=q["id"], key=q["key"], name=q["name"], waiting=q["waiting"],
                         longest_wait_seconds=q["longest_wait_seconds"],
                         agents={k: StateCount(**v) for k, v in q["agents"].items()},
                         service=None if q["service"] is None else ServiceToday(
                             offered=q["service"]["offered"], answered=q["service"]["answered"],
                             abandoned=q["service"]["abandoned"], service_level=q["service"]["service_level"],
                             formula=q["service"]["formula"]))
              for q in board["queues"]]
    return BoardOut(waiting=board["waiting"], queues=queues,
                    team={k: StateCount(**v) for k, v in board["team"].items()})
