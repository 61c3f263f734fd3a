"""The tenant's order pipeline: statuses in order, and which status may follow which. Admins edit it."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.lib import i18n
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.orders.tables import Order, OrderStatus

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

DEFAULT_LABELS: dict[str, str] = {
    "new": N_("New"), "paid": N_("Paid"), "packed": N_("Packed"), "shipped": N_("Shipped"),
    "delivered": N_("Delivered"), "cancelled": N_("Cancelled"), "returned": N_("Returned"),
}
"""The pipeline every workspace starts with (orders migration 01_27): shown in the reader's language until the shop
renames a status (`name`); `label` is what is stored, and what the API returns."""


def named(status: dict[str, Any]) -> dict[str, Any]:
    return {**status, "name": i18n.shipped(DEFAULT_LABELS, status["key"], status["label"])}


async def statuses(include_archived: bool = False) -> list[dict[str, Any]]:
    """The statuses in order, each with `name`: its label as the viewer reads it."""
    query = OrderStatus.select().order_by(OrderStatus.position).order_by(OrderStatus.id)
    if not include_archived:
        query = query.where(OrderStatus.archived == False)  # noqa: E712
    return [named(s) for s in await query]


def spellings(status: dict[str, Any]) -> set[str]:
    """How a file may write this status (lower case): its key, its label and, while it is a default, the default's
    name in each of our languages (a Russian 1C export says «Оплачен»)."""
    found = {status["key"], status["label"]}
    default = DEFAULT_LABELS.get(status["key"])
    if default == status["label"]:
        found |= {i18n.translations(language).gettext(default) for language in i18n.LANGUAGES}
    return {s.strip().lower() for s in found}


async def names() -> dict[str, str]:
    """Status key -> the name the viewer reads (archived ones too: old orders still carry them)."""
    return {k: s["name"] for k, s in (await by_key()).items()}


async def by_key() -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in await statuses(include_archived=True)}


async def initial_status() -> str:
    rows = await statuses()
    if not rows:
        raise Conflict("This workspace has no order statuses; an admin must define the pipeline first.")
    return str(rows[0]["key"])


async def check_transition(current: str | None, target: str) -> dict[str, Any]:
    """The target status's definition, or a 400 naming the statuses allowed from `current`."""
    defs = await by_key()
    live = [k for k, s in defs.items() if not s["archived"]]
    allowed = [k for k in (defs[current]["allowed"] if current in defs else live) if k in live]
    if target not in live:
        raise Invalid("Unknown status %(target)s; allowed here: %(allowed)s.", field="status",
                      extra={"allowed": allowed}, target=repr(target),
                      allowed=", ".join(allowed) or i18n.gettext("none (final status)"))
    if current is not None and target not in allowed:
        raise Invalid("An order that is %(current)s cannot become %(target)s; allowed: %(allowed)s.",
                      field="status", extra={"allowed": allowed}, current=current, target=target,
                      allowed=", ".join(allowed) or i18n.gettext("none (final status)"))
    return defs[target]


def _require_admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change the order pipeline.")


async def _check_allowed(allowed: list[str], own_key: str) -> list[str]:
    defs = await by_key()
    out: list[str] = []
    for i, key in enumerate(allowed):
        if key not in defs and key != own_key:
            raise Invalid("allowed[%(i)s]: no status %(key)s; define it first.", field=f"allowed[{i}]", i=i,
                          key=repr(key))
        if key not in out and key != own_key:
            out.append(key)
    return out


async def create(actor: Principal, *, key: str, label: str, allowed: list[str], position: int | None,
                 final: bool, counts_as_sale: bool) -> dict[str, Any]:
    _require_admin(actor)
    key = (key or "").strip().lower()
    if not KEY_RE.match(key):
        raise Invalid("key must be 2 to 40 characters: lowercase letters, digits and _.", field="key")
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise Invalid("label must be 1 to 100 characters.", field="label")
    if await OrderStatus.exists().where(OrderStatus.key == key):
        raise Conflict("A status %(key)s exists already.", field="key", key=repr(key))
    allowed = await _check_allowed(allowed, key)
    if position is None:
        last = await OrderStatus.select(OrderStatus.position).order_by(OrderStatus.position, ascending=False).first()
        position = (last["position"] + 1) if last else 0
    await OrderStatus.insert(OrderStatus(key=key, label=label, allowed=allowed, position=position, final=final,
                                         counts_as_sale=counts_as_sale))
    await audit.record("order_status.created", actor_id=actor.user_id, actor=actor.label, target_type="order_status",
                       target_id=key, detail={"allowed": allowed, "position": position})
    return (await by_key())[key]


async def update(actor: Principal, key: str, changes: dict[str, Any]) -> dict[str, Any]:
    _require_admin(actor)
    defs = await by_key()
    if key not in defs:
        raise NotFound("No order status %(key)s.", key=repr(key))
    values: dict[Any, Any] = {}
    if "label" in changes:
        label = str(changes["label"] or "").strip()
        if not label or len(label) > 100:
            raise Invalid("label must be 1 to 100 characters.", field="label")
        values[OrderStatus.label] = i18n.unshipped(DEFAULT_LABELS, key, label)
    if "allowed" in changes:
        values[OrderStatus.allowed] = await _check_allowed(list(changes["allowed"]), key)
    for name in ("position", "final", "counts_as_sale", "archived"):
        if name in changes:
            values[getattr(OrderStatus, name)] = changes[name]
    if changes.get("archived") and await OrderStatus.count().where(OrderStatus.archived == False) <= 1:  # noqa: E712
        raise Conflict("The pipeline needs at least one status.")
    if values:
        await OrderStatus.update(values).where(OrderStatus.key == key)
        await audit.record("order_status.updated", actor_id=actor.user_id, actor=actor.label,
                           target_type="order_status", target_id=key,
                           detail={c._meta.name: v for c, v in values.items()})
    return (await by_key())[key]


async def in_use(key: str) -> int:
    return await Order.count().where(Order.status == key)
