"""Deal rules: stages per tenant, create, move between stages (won/lost with a reason), link orders.
A move locks the deal row, so two people dragging the same card cannot lose one another's move."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import User
from app.audit import services as audit
from app.contacts.tables import Contact
from app.deals.events import DEAL_MOVED
from app.deals.tables import KINDS, Deal, DealOrder, DealStage, DealStageChange
from app.lib import i18n, money
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.orders.tables import Order
from app.timeline import services as timeline
from realtime.publish import emit

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
COLUMNS = (Deal.id, Deal.title, Deal.contact.as_alias("contact_id"), Deal.contact.name.as_alias("contact_name"),
           Deal.owner.as_alias("owner_id"), Deal.owner.name.as_alias("owner_name"), Deal.value, Deal.currency,
           Deal.expected_close, Deal.stage, Deal.position, Deal.reason, Deal.closed_at, Deal.version)


DEFAULT_LABELS: dict[str, str] = {
    "lead": N_("Lead"), "qualified": N_("Qualified"), "proposal": N_("Proposal"), "negotiation": N_("Negotiation"),
    "won": N_("Won"), "lost": N_("Lost"),
}
"""The stages every workspace starts with (deals migration 01_40): shown in the reader's language (`name`) until the
shop renames one; `label` is what is stored, and what the API returns."""


async def stages() -> list[dict[str, Any]]:
    """The stages in order, each with `name`: its label as the viewer reads it."""
    rows = await DealStage.select().order_by(DealStage.position).order_by(DealStage.id)
    return [{**s, "name": i18n.shipped(DEFAULT_LABELS, s["key"], s["label"])} for s in rows]


async def create_stage(actor: Principal, *, key: str, label: str, kind: str, position: int | None) -> dict[str, Any]:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change the sales pipeline.")
    key = (key or "").strip().lower()
    if not KEY_RE.match(key):
        raise Invalid("key must be 2 to 40 characters: lowercase letters, digits and _.", field="key")
    if not (label or "").strip() or len(label) > 100:
        raise Invalid("label must be 1 to 100 characters.", field="label")
    if kind not in KINDS:
        raise Invalid("kind must be one of: %(choices)s.", field="kind", choices=', '.join(KINDS))
    if await DealStage.exists().where(DealStage.key == key):
        raise Conflict("A stage %(key)s exists already.", field="key", key=repr(key))
    if position is None:
        position = len(await stages())
    await DealStage.insert(DealStage(key=key, label=label.strip(), kind=kind, position=position))
    await audit.record("deal_stage.created", actor_id=actor.user_id, actor=actor.label, target_type="deal_stage",
                       target_id=key)
    return next(s for s in await stages() if s["key"] == key)


async def _stage(key: str) -> dict[str, Any]:
    all_stages = await stages()
    for s in all_stages:
        if s["key"] == key:
            return s
    raise Invalid("Unknown stage %(key)s; choose one of: %(choices)s.", field="stage",
                  extra={"allowed": [s["key"] for s in all_stages]}, key=repr(key),
                  choices=', '.join(s['key'] for s in all_stages))


async def create(actor: Principal, data: Any) -> dict[str, Any]:
    title = (data.title or "").strip()
    if not title or len(title) > 200:
        raise Invalid("title must be 1 to 200 characters.", field="title")
    currency = money.check_currency(data.currency)
    value = money.check_amount(data.value, "value")
    if not await Contact.exists().where((Contact.id == data.contact_id) & Contact.deleted_at.is_null()):
        raise Invalid("No contact %(contact_id)s.", field="contact_id", contact_id=data.contact_id)
    if data.owner_id is not None and not await User.exists().where(User.id == data.owner_id):
        raise Invalid("No user %(owner_id)s.", field="owner_id", owner_id=data.owner_id)
    stage = await _stage(data.stage) if data.stage else (await stages())[0]
    for i, oid in enumerate(data.order_ids):
        if not await Order.exists().where((Order.id == oid) & (Order.contact == data.contact_id)):
            raise Invalid("No order %(oid)s of this contact.", field=f"order_ids[{i}]", oid=oid)
    rows = await Deal.insert(Deal(title=title, contact=data.contact_id, owner=data.owner_id or actor.user_id,
                                  value=value, currency=currency, expected_close=data.expected_close,
                                  stage=stage["key"])).returning(Deal.id)
    deal_id = rows[0]["id"]
    if data.order_ids:
        await DealOrder.insert(*[DealOrder(deal=deal_id, shop_order=oid) for oid in dict.fromkeys(data.order_ids)])
    await DealStageChange.insert(DealStageChange(deal=deal_id, to_stage=stage["key"], actor_label=actor.label))
    await timeline.record(data.contact_id, "system", "internal", "Deal “%(title)s” opened in %(stage)s (%(value)s)",
                          params={"title": title, "stage": stage["label"], "value": i18n.money_param(value, currency)},
                          translated=("stage",), links={"deal_id": deal_id}, actor_type="user",
                          actor_id=actor.user_id, actor_label=actor.label,
                          payload={"event": "deal_created", "deal_id": deal_id, "stage": stage["key"]})
    await audit.record("deal.created", actor_id=actor.user_id, actor=actor.label, target_type="deal",
                       target_id=deal_id, detail={"title": title, "value": value, "currency": currency})
    await emit(DEAL_MOVED, deal_id=deal_id, contact_id=data.contact_id)
    return await get(deal_id)


async def move(actor: Principal, deal_id: int, stage_key: str, *, reason: str = "", position: int | None = None,
               version: int | None = None) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        "SELECT id, title, contact, stage, version FROM deal WHERE id = $1 FOR UPDATE", deal_id)
    if row is None:
        raise NotFound("No deal %(deal_id)s.", deal_id=deal_id)
    if version is not None and version != row["version"]:
        raise Conflict("This deal was moved by someone else (version %(version)s); reload the board.",
                       extra={"version": row["version"]}, version=row['version'])
    stage = await _stage((stage_key or "").strip())
    reason = (reason or "").strip()
    if len(reason) > 1000:
        raise Invalid("reason must be at most 1000 characters.", field="reason")
    if stage["kind"] == "lost" and not reason:
        raise Invalid("Say why the deal was lost.", field="reason")
    changes: dict[Any, Any] = {Deal.updated_at: now(), Deal.version: Deal.version + 1}
    if position is not None:
        changes[Deal.position] = max(position, 0)
    if stage["key"] == row["stage"]:
        if position is not None:
            await Deal.update(changes).where(Deal.id == deal_id)
        return await get(deal_id)
    changes.update({Deal.stage: stage["key"], Deal.reason: reason if stage["kind"] != "open" else "",
                    Deal.closed_at: now() if stage["kind"] != "open" else None})
    await Deal.update(changes).where(Deal.id == deal_id)
    await DealStageChange.insert(DealStageChange(deal=deal_id, from_stage=row["stage"], to_stage=stage["key"],
                                                 reason=reason, actor_label=actor.label))
    await timeline.record(row["contact"], "system", "internal",
                          "Deal “%(title)s”: %(from)s → %(to)s (%(reason)s)" if reason
                          else "Deal “%(title)s”: %(from)s → %(to)s",
                          params={"title": row["title"], "from": row["stage"], "to": stage["label"],
                                  **({"reason": reason} if reason else {})}, translated=("to",),
                          links={"deal_id": deal_id}, actor_type="user", actor_id=actor.user_id,
                          actor_label=actor.label, payload={"event": "deal_stage_changed", "deal_id": deal_id,
                                                            "from": row["stage"], "to": stage["key"],
                                                            "reason": reason})
    await audit.record("deal.moved", actor_id=actor.user_id, actor=actor.label, target_type="deal", target_id=deal_id,
                       detail={"from": row["stage"], "to": stage["key"], "reason": reason})
    await emit(DEAL_MOVED, deal_id=deal_id, contact_id=row["contact"], stage=stage["key"])
    return await get(deal_id)


async def get(deal_id: int) -> dict[str, Any]:
    rows = await _details(await Deal.select(*COLUMNS).where(Deal.id == deal_id))
    if not rows:
        raise NotFound("No deal %(deal_id)s.", deal_id=deal_id)
    return rows[0]


async def _details(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    links = await DealOrder.select(DealOrder.deal, DealOrder.shop_order).where(DealOrder.deal.is_in(ids))
    hist = await DealStageChange.select().where(DealStageChange.deal.is_in(ids)).order_by(DealStageChange.id)
    return [{**r, "order_ids": [x["shop_order"] for x in links if x["deal"] == r["id"]],
             "history": [h for h in hist if h["deal"] == r["id"]]} for r in rows]


async def board(contact_id: int | None = None) -> list[dict[str, Any]]:
    """Stages in order, each with its deals."""
    query = Deal.select(*COLUMNS).order_by(Deal.position).order_by(Deal.id)
    if contact_id is not None:
        query = query.where(Deal.contact == contact_id)
    deals = await _details(await query)
    return [{**s, "deals": [d for d in deals if d["stage"] == s["key"]]} for s in await stages()]


async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's deals become the survivor's."""
    moved = await Deal.update({Deal.contact: target}).where(Deal.contact == source).returning(Deal.id)
    return len(moved)


MERGE_STEP = MergeStep("deals", _move_to_contact, tables=("deal",))
