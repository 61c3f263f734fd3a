"""The demo team as agents: capacities per channel, their chosen statuses, yesterday's state intervals (for the
reports that follow), and the first queue's disposition codes with a timed wrap-up. Written once with the rest of
the demo's past (app.demo.shop.seed_shop); idempotent rows (upserts, ON CONFLICT)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib.db import current_uow

CODES: dict[str, tuple[tuple[str, str], ...]] = {
    "en_US": (("resolved", "Resolved"), ("order_placed", "Order placed"), ("callback", "Call back later"),
              ("no_answer", "No answer"), ("spam", "Spam")),
    "ru_RU": (("resolved", "Решено"), ("order_placed", "Оформлен заказ"), ("callback", "Перезвонить позже"),
              ("no_answer", "Нет ответа"), ("spam", "Спам")),
    "bg_BG": (("resolved", "Решено"), ("order_placed", "Направена поръчка"), ("callback", "Обаждане по-късно"),
              ("no_answer", "Няма отговор"), ("spam", "Спам")),
}
WRAPUP_SECONDS = 30
CAPACITY = {"operator": {"call": 1, "chat": 4, "sms": 3, "email": 5}, "supervisor": {"call": 1, "chat": 2, "sms": 2,
                                                                                      "email": 3}}
# One working day, as (minutes from its start, state, reason); the last one is offline. It starts 30 hours before the
# anchor, so two shops grown from one seed at different times hold the same rows relative to their anchors.
DAY = ((0, "available", ""), (25, "busy", "call"), (41, "wrapup", "timer"), (42, "available", ""),
       (180, "away", "lunch"), (225, "available", ""), (300, "busy", "capacity"), (330, "available", ""),
       (420, "away", "training"), (480, "available", ""), (540, "offline", ""))


async def write(users: dict[str, dict[str, Any]], anchor: dt.datetime, locale: str) -> None:
    conn = current_uow().connection
    queue_id = await conn.fetchval("SELECT id FROM queue WHERE NOT archived ORDER BY position, id LIMIT 1")
    if queue_id is not None:
        await conn.execute("UPDATE queue SET wrapup_seconds = $2 WHERE id = $1", queue_id, WRAPUP_SECONDS)
        for position, (code, label) in enumerate(CODES.get(locale, CODES["en_US"])):
            await conn.execute("INSERT INTO queue_disposition (queue, code, label, position) VALUES ($1, $2, $3, $4) "
                               "ON CONFLICT (queue, code) DO NOTHING", queue_id, code, label, position)
    start = anchor - dt.timedelta(hours=30)
    agents = [u for u in users.values() if u["role"] in CAPACITY]
    for n, user in enumerate(sorted(agents, key=lambda u: u["id"])):
        for channel, slots in CAPACITY[user["role"]].items():
            await conn.execute('INSERT INTO agent_capacity ("user", channel, slots) VALUES ($1, $2, $3) '
                               'ON CONFLICT ("user", channel) DO NOTHING', user["id"], channel, slots)
        # One operator chose "away: training" last; their console brings them back to it on connecting.
        chosen, reason = ("away", "training") if n == 1 else ("available", "")
        await conn.execute('INSERT INTO agent_state ("user", state, reason, since, chosen, chosen_reason) '
                           "VALUES ($1, 'offline', '', $2, $3, $4) ON CONFLICT (\"user\") DO NOTHING",
                           user["id"], start + dt.timedelta(minutes=DAY[-1][0]), chosen, reason)
        shift = dt.timedelta(minutes=7 * n)  # not everyone starts at the same minute
        for (at, state, why), nxt in zip(DAY, (*DAY[1:], None), strict=True):
            began = start + shift + dt.timedelta(minutes=at)
            ended = None if nxt is None else start + shift + dt.timedelta(minutes=nxt[0])
            if ended is None:
                await conn.execute('UPDATE agent_state_interval SET ended_at = $2 WHERE "user" = $1 '
                                   "AND ended_at IS NULL", user["id"], began)
            await conn.execute('INSERT INTO agent_state_interval ("user", state, reason, started_at, ended_at) '
                               "VALUES ($1, $2, $3, $4, $5)", user["id"], state, why, began, ended)
