"""The demo's reporting history: three more weeks of the team's presence (every day: the working day of
app.demo.agents shifted a little per person), then every conversation's facts and rollups projected from the history
the demo wrote, as `switchboard reports rebuild` would. Written once with the rest of the demo's past."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from app.demo.agents import CAPACITY, DAY
from app.lib.db import current_uow
from app.reports import facts, rollups

WEEKS = 3


async def write(users: dict[str, dict[str, Any]], anchor: dt.datetime) -> None:
    conn = current_uow().connection
    agents = sorted((u for u in users.values() if u["role"] in CAPACITY), key=lambda u: u["id"])
    rows = []
    for back in range(2, 7 * WEEKS + 2):  # yesterday's day is app.demo.agents' own
        start = anchor - dt.timedelta(hours=30) - dt.timedelta(days=back - 1)
        for n, user in enumerate(agents):
            shift = dt.timedelta(minutes=7 * n + (back * 11 + n * 5) % 23)
            for (at, state, why), nxt in itertools.pairwise(DAY):
                rows.append((user["id"], state, why, start + shift + dt.timedelta(minutes=at),
                             start + shift + dt.timedelta(minutes=nxt[0])))
    await conn.executemany('INSERT INTO agent_state_interval ("user", state, reason, started_at, ended_at) '
                           "VALUES ($1, $2, $3, $4, $5)", rows)
    for row in await conn.fetch("SELECT id FROM conversation ORDER BY id"):
        await facts.project(row["id"], refresh=False)
    await rollups.rebuild_all()
