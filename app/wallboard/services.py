"""What the wallboard shows and who may see it: the board per queue (reloaded for every render) and the
wallboard-only tokens (created by admins, stored hashed, revocable, audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.numbers import format_percent

from app.accounts import services as accounts
from app.accounts.services import Principal
from app.agents import services as agents
from app.audit import services as audit
from app.conversations import services as conversations
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.lib.roles import RANK
from app.lib.security import new_token, token_hash
from app.reports import queues as queue_report
from app.wallboard.tables import WallboardToken
from realtime.render import shared as render_shared

STATES = ("available", "busy", "wrapup", "away", "offline")
"""The agent states the board counts, in the order it shows them."""
TOKEN_PREFIX = "wb_"  # noqa: S105 - a marker, not a secret
COOKIE = "sb_wallboard"
"""The wallboard-only sign-in: a cookie scoped to `/t/{slug}/wallboard`, so it opens nothing else."""

audit.ACTIONS.update({
    "wallboard_token.created": N_("Wallboard link created"),
    "wallboard_token.revoked": N_("Wallboard link revoked"),
})


# -- the board ---------------------------------------------------------------------------------------------------

async def _service_today(queue_id: int) -> dict[str, Any] | None:
    """Today's service of one queue, as the queue service report defines it (one definition of service level);
    None while that report cannot answer yet."""
    try:
        return await queue_report.service_today(queue_id)
    except NotImplementedError:
        return None


async def board(at: dt.datetime | None = None) -> dict[str, Any]:
    """Per queue (not archived): waiting, the oldest wait's start, agents by state (counts and names: the active
    staff whose role sees the queue), service level and abandons today; plus the whole team by state."""
    t = at or now()
    conn = current_uow().connection
    queues = await conversations.queues()
    rows = await conn.fetch(
        "SELECT queue AS queue_id, count(*) AS waiting, min(created_at) AS oldest FROM conversation "
        "WHERE status = 'waiting' GROUP BY queue")
    waiting = {r["queue_id"]: r for r in rows}
    users = [u for u in await render_shared("users", accounts.list_users) if u["status"] == "active"]
    states = await agents.statuses([u["id"] for u in users])
    people = [{"id": u["id"], "name": u["name"], "role": u["role"], "state": states[u["id"]]["state"],
               "reason": states[u["id"]]["reason"]} for u in users]
    people.sort(key=lambda p: (STATES.index(p["state"]) if p["state"] in STATES else len(STATES), p["name"]))
    out = []
    for q in queues:
        w = waiting.get(q["id"])
        seeing = [p for p in people if conversations.visible(q, _as_role(p["role"]))]
        service = await _service_today(q["id"])
        out.append({
            "id": q["id"], "key": q["key"], "name": q["name"],
            "waiting": w["waiting"] if w else 0,
            "oldest": w["oldest"].timestamp() if w and w["oldest"] else None,
            "longest_wait_seconds": int((t - w["oldest"]).total_seconds()) if w and w["oldest"] else 0,
            "agents": _by_state(seeing),
            "service": service,
        })
    return {"queues": out, "team": _by_state(people), "now": t.timestamp(),
            "waiting": sum(q["waiting"] for q in out)}


def _as_role(role: str) -> Principal:
    return Principal(0, "", "", role, "session", 0)


def _by_state(people: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s: {"count": len(names), "names": names}
            for s in STATES for names in [[p["name"] for p in people if p["state"] == s]]}


# -- wallboard-only tokens ---------------------------------------------------------------------------------------

COLUMNS = (WallboardToken.id, WallboardToken.name, WallboardToken.prefix, WallboardToken.created_at,
           WallboardToken.last_used_at, WallboardToken.revoked_at, WallboardToken.created_by.email.as_alias("owner"))


def _require_admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only admins and the owner manage wallboard links.")


async def create_token(actor: Principal, name: str) -> tuple[dict[str, Any], str]:
    """A new wallboard link; the secret is returned once, only its hash is kept."""
    _require_admin(actor)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("Give the wallboard link a name of 1 to 100 characters (which screen is it for?).",
                      field="name")
    secret = TOKEN_PREFIX + new_token(32)
    rows = await WallboardToken.insert(WallboardToken(
        name=name, prefix=secret[:12], token_hash=token_hash(secret), created_by=actor.user_id or None,
    )).returning(WallboardToken.id)
    token_id = rows[0]["id"]
    await audit.record("wallboard_token.created", actor_id=actor.user_id, actor=actor.label,
                       target_type="wallboard_token", target_id=token_id, detail={"name": name})
    return await token_row(token_id), secret


async def token_row(token_id: int) -> dict[str, Any]:
    row = await WallboardToken.select(*COLUMNS).where(WallboardToken.id == token_id).first()
    if row is None:
        raise NotFound("No wallboard link %(token_id)s.", token_id=token_id)
    return row


async def list_tokens(actor: Principal) -> list[dict[str, Any]]:
    _require_admin(actor)
    return await WallboardToken.select(*COLUMNS).order_by(WallboardToken.id)


async def revoke_token(actor: Principal, token_id: int) -> dict[str, Any]:
    """Revoke a link: its screens stop at once (the hub re-checks open sockets every second)."""
    _require_admin(actor)
    row = await token_row(token_id)
    if row["revoked_at"] is None:
        await WallboardToken.update({WallboardToken.revoked_at: now()}).where(WallboardToken.id == token_id)
        await audit.record("wallboard_token.revoked", actor_id=actor.user_id, actor=actor.label,
                           target_type="wallboard_token", target_id=token_id, detail={"name": row["name"]})
    return await token_row(token_id)


async def resolve_token(secret: str) -> int | None:
    """The id of the live token behind `secret` (None: unknown, revoked or malformed)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    conn = current_uow().connection
    row = await conn.fetchrow("SELECT id, last_used_at FROM wallboard_token WHERE token_hash = $1 "
                              "AND revoked_at IS NULL", token_hash(secret))
    if row is None:
        return None
    t = now()
    if row["last_used_at"] is None or t - row["last_used_at"] > dt.timedelta(minutes=1):
        await conn.execute("UPDATE wallboard_token SET last_used_at = $1 WHERE id = $2", t, row["id"])
    return int(row["id"])


async def live_tokens(token_ids: list[int]) -> set[int]:
    """Which of `token_ids` are still live (not revoked): the hub's re-check of open wallboard sockets."""
    rows = await current_uow().connection.fetch(
        "SELECT id FROM wallboard_token WHERE id = ANY($1::int[]) AND revoked_at IS NULL", token_ids)
    return {r["id"] for r in rows}


async def live_supervisor_sessions(session_ids: list[int], idle_minutes: int) -> set[int]:
    """Which of `session_ids` are live sessions of active staff of supervisor rank or higher: a supervisor's board
    closes when their session ends or they are moved to a lower role."""
    rows = await current_uow().connection.fetch(
        'SELECT s.id FROM user_session s JOIN app_user u ON u.id = s."user" WHERE s.id = ANY($1::int[]) '
        "AND s.revoked_at IS NULL AND u.status = 'active' AND s.expires_at > now() "
        "AND s.last_seen_at + make_interval(mins => $2) > now() AND u.role = ANY($3::text[])",
        session_ids, idle_minutes, [r for r, rank in RANK.items() if rank >= RANK["supervisor"]])
    return {r["id"] for r in rows}


def service_level_text(service: dict[str, Any] | None) -> str:
    """The service level as the board prints it ("—" when it is not known)."""
    if not service or service.get("service_level") is None:
        return "—"
    return format_percent(service["service_level"], locale=i18n.babel_locale(i18n.current().language))


def link(slug: str, secret: str) -> str:
    """The path a wall screen opens (full-screen layout): it signs the screen in and shows the board."""
    return f"/t/{slug}/wallboard?token={secret}&tv=1"
