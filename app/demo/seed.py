"""Write a demo story into the current tenant: bulk inserts into the domains' own tables, and every timeline item
through `timeline.record` (the one way to write it), oldest first. All in the caller's unit of work.

Rows are inserted with ids taken from their tables' sequences first, so rows can point at each other without a
round trip per row; in a fresh shop the ids, like everything else but the anchor, depend only on the seed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.contacts import fields
from app.contacts import services as contacts
from app.contacts.tables import Contact, ContactEmail, ContactPhone, Note
from app.deals.tables import Deal, DealStageChange
from app.demo.story import Story
from app.lib import i18n
from app.lib.db import current_uow
from app.orders.tables import Order, OrderItem, OrderPayment, OrderStatusChange
from app.timeline import services as timeline

# The tenant's own custom fields the demo fills in (birth date and preferences are columns of every card).
CUSTOM_FIELDS = (
    {"key": "car_brand", "label": "Car brand", "kind": "select"},
    {"key": "children", "label": "Children", "kind": "number"},
)

# A message row keeps the id of its timeline item (as the channels do when they record one).
BACKREF_SQL = {
    table: f"UPDATE {table} t SET interaction_id = v.interaction "  # noqa: S608 (a constant table name)
           "FROM unnest($1::int[], $2::int[]) AS v(id, interaction) WHERE t.id = v.id"
    for table in ("sms_message", "email_message")
}


class Writer:
    """Writes a story's contacts, orders, deals and notes, and collects every timeline item to record at the end."""

    def __init__(self, story: Story, anchor: dt.datetime, users: dict[str, dict[str, Any]], slug: str) -> None:
        self.story, self.anchor, self.users, self.slug = story, anchor, users, slug
        self.contact_ids: list[int] = []
        self.phones: list[str] = []  # each contact's first phone and email (None when it has none)
        self.emails: list[str | None] = []
        self.order_ids: list[int] = []
        # (seconds before anchor, order, record's arguments, the (table, id) whose interaction_id it is)
        self.items: list[tuple[int, int, dict[str, Any], tuple[str, int] | None]] = []

    def at(self, seconds: int) -> dt.datetime:
        return self.anchor - dt.timedelta(seconds=seconds)

    def user(self, email: str | None) -> dict[str, Any] | None:
        return self.users[email] if email else None

    def uid(self, email: str | None) -> int | None:
        return self.users[email]["id"] if email else None

    def label(self, email: str | None) -> str:
        return (self.users[email]["name"] or email) if email else "system"

    def later(self, seconds: int, contact: int, channel: str, direction: str, summary: str, *,
              backref: tuple[str, int] | None = None, **kw: Any) -> None:
        """A timeline item to record once every row exists (all of them are recorded in time order); `backref`
        names the message row that keeps the item's id, as the channels do."""
        self.items.append((seconds, len(self.items), dict(contact_id=self.contact_ids[contact], channel=channel,
                                                          direction=direction, summary=summary, **kw), backref))

    async def ids(self, table: str, n: int) -> list[int]:
        rows = await current_uow().connection.fetch(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)", table, n)
        return [int(r["id"]) for r in rows]

    # -- contacts ---------------------------------------------------------------------------------------------------

    async def custom_fields(self, owner: Any) -> None:
        have = {f["key"] for f in await fields.definitions(include_archived=True)}
        for position, spec in enumerate(CUSTOM_FIELDS):
            if spec["key"] not in have:
                options = sorted(self.story.locale.car_brands) if spec["kind"] == "select" else []
                await fields.create(owner, **spec, options=options, required=False, unique=False, position=position)

    async def contacts(self) -> None:
        rows, phones, emails = [], [], []
        self.contact_ids = await self.ids("contact", len(self.story.contacts))
        for cid, c in zip(self.contact_ids, self.story.contacts, strict=True):
            clean = await contacts.validate(c["values"])  # the card's own rules: normalised phones, checked fields
            p, e = clean.pop("phones", []), clean.pop("emails", [])
            rows.append(Contact(id=cid, **clean, owner=self.uid(c["owner"]), created_at=self.at(c["created"]),
                                updated_at=self.at(c["created"]),
                                search_text=contacts._search_text(clean["name"], clean.get("company", ""), e, p)))
            phones += [ContactPhone(contact=cid, e164=x, position=i) for i, x in enumerate(p)]
            emails += [ContactEmail(contact=cid, email=x, position=i) for i, x in enumerate(e)]
            self.phones.append(p[0])
            self.emails.append(e[0] if e else None)
        await Contact.insert(*rows)
        await ContactPhone.insert(*phones)
        await ContactEmail.insert(*emails)
        for i, c in enumerate(self.story.contacts):
            self.later(c["created"], i, "system", "internal",
                       "Contact created (%(source)s)" if c["source"] != "manual" else "Contact created",
                       params={"source": c["source"]} if c["source"] != "manual" else {},
                       payload={"event": "created", "source": c["source"]})

    # -- orders -----------------------------------------------------------------------------------------------------

    async def orders(self, labels: dict[str, str]) -> None:
        story = self.story.orders
        self.order_ids = await self.ids("shop_order", len(story))
        orders, items, pays, changes = [], [], [], []
        for oid, o in zip(self.order_ids, story, strict=True):
            paid = sum(p["amount"] for p in o["payments"] if p["kind"] == "payment")
            refunded = sum(p["amount"] for p in o["payments"] if p["kind"] == "refund")
            last = min([o["placed"], *(h["at"] for h in o["history"]), *(p["at"] for p in o["payments"])])
            number = f"SB-{oid:06d}"
            address = self.story.contacts[o["contact"]]["values"]["address"]
            orders.append(Order(id=oid, contact=self.contact_ids[o["contact"]], number=number,
                                external_id=o["external_id"], currency=o["currency"], status=o["status"],
                                subtotal=o["subtotal"], shipping=o["shipping"], discount=o["discount"],
                                total=o["total"], paid=paid, refunded=refunded, delivery_address=address,
                                placed_at=self.at(o["placed"]), created_at=self.at(o["placed"]),
                                updated_at=self.at(last), version=1 + len(o["history"]) + len(o["payments"])))
            items += [OrderItem(shop_order=oid, position=i, line_total=it["quantity"] * it["unit_price"], **it)
                      for i, it in enumerate(o["items"])]
            changes.append(OrderStatusChange(shop_order=oid, from_status=None, to_status=o["first_status"],
                                             actor_label="system", changed_at=self.at(o["placed"])))
            self.later(o["placed"], o["contact"], "order", "in", "Order %(number)s placed: %(total)s",
                       params={"number": number, "total": i18n.money_param(o["total"], o["currency"])},
                       links={"order_id": oid}, payload={"event": "created", "order_id": oid, "number": number,
                                                         "total": o["total"], "currency": o["currency"],
                                                         "status": o["first_status"]},
                       actor_type="system", actor_label="system")
            for h in o["history"]:
                changes.append(OrderStatusChange(shop_order=oid, from_status=h["from"], to_status=h["to"],
                                                 actor_label=self.label(h["actor"]), changed_at=self.at(h["at"])))
                self.later(h["at"], o["contact"], "order", "internal",
                           "Order %(number)s: %(from)s → %(to)s", translated=("to",),
                           params={"number": number, "from": h["from"], "to": labels.get(h["to"], h["to"])},
                           links={"order_id": oid},
                           payload={"event": "status_changed", "order_id": oid, "from": h["from"], "to": h["to"],
                                    "note": ""}, **self.actor(h["actor"]))
            for n, p in enumerate(o["payments"]):
                pays.append(OrderPayment(shop_order=oid, kind=p["kind"], amount=p["amount"], method=p["method"],
                                         paid_at=self.at(p["at"]), external_id=f"{o['external_id']}-{p['kind']}-{n}",
                                         created_by=self.uid(p["actor"]), created_at=self.at(p["at"])))
                self.later(p["at"], o["contact"], "order", "in" if p["kind"] == "payment" else "out",
                           "Order %(number)s: payment received %(amount)s (%(method)s)" if p["kind"] == "payment"
                           else "Order %(number)s: refund %(amount)s (%(method)s)",
                           params={"number": number, "amount": i18n.money_param(p["amount"], o["currency"]),
                                   "method": p["method"]},
                           links={"order_id": oid}, payload={
                               "event": "payment_received" if p["kind"] == "payment" else "refund", "order_id": oid,
                               "amount": p["amount"], "currency": o["currency"], "method": p["method"]},
                           **self.actor(p["actor"]))
        await Order.insert(*orders)
        await OrderItem.insert(*items)
        await OrderStatusChange.insert(*changes)
        if pays:
            await OrderPayment.insert(*pays)

    def actor(self, email: str | None) -> dict[str, Any]:
        if email is None:
            return {"actor_type": "system", "actor_label": "system"}
        return {"actor_type": "user", "actor_id": self.uid(email), "actor_label": self.label(email)}

    # -- deals ------------------------------------------------------------------------------------------------------

    async def deals(self, labels: dict[str, str]) -> None:
        ids = await self.ids("deal", len(self.story.deals))
        deals, changes = [], []
        day = self.anchor.date()
        for did, d in zip(ids, self.story.deals, strict=True):
            last = d["history"][-1]["at"]
            deals.append(Deal(id=did, title=d["title"], contact=self.contact_ids[d["contact"]],
                              owner=self.uid(d["owner"]), value=d["value"], currency=d["currency"],
                              expected_close=day + dt.timedelta(days=d["expected_close"])
                              if d["expected_close"] is not None else None, stage=d["stage"], position=d["position"],
                              reason=d["reason"], closed_at=self.at(d["closed"]) if d["closed"] is not None else None,
                              created_at=self.at(d["created"]), updated_at=self.at(last),
                              version=len(d["history"])))
            actor = self.actor(d["owner"])
            for h in d["history"]:
                reason = d["reason"] if h is d["history"][-1] else ""
                changes.append(DealStageChange(deal=did, from_stage=h["from"], to_stage=h["to"], reason=reason,
                                               actor_label=actor["actor_label"], changed_at=self.at(h["at"])))
                if h["from"] is None:
                    self.later(h["at"], d["contact"], "system", "internal",
                               "Deal “%(title)s” opened in %(stage)s (%(value)s)", translated=("stage",),
                               params={"title": d["title"], "stage": labels[h["to"]],
                                       "value": i18n.money_param(d["value"], d["currency"])}, links={"deal_id": did},
                               payload={"event": "deal_created", "deal_id": did, "stage": h["to"]}, **actor)
                else:
                    self.later(h["at"], d["contact"], "system", "internal",
                               "Deal “%(title)s”: %(from)s → %(to)s (%(reason)s)" if reason
                               else "Deal “%(title)s”: %(from)s → %(to)s", translated=("to",),
                               params={"title": d["title"], "from": h["from"], "to": labels[h["to"]],
                                       **({"reason": reason} if reason else {})}, links={"deal_id": did},
                               payload={"event": "deal_stage_changed", "deal_id": did, "from": h["from"],
                                        "to": h["to"], "reason": reason}, **actor)
        await Deal.insert(*deals)
        await DealStageChange.insert(*changes)

    # -- notes ------------------------------------------------------------------------------------------------------

    async def notes(self) -> None:
        ids = await self.ids("note", len(self.story.notes))
        await Note.insert(*[Note(id=nid, contact=self.contact_ids[n["contact"]], body=n["body"],
                                 author=self.uid(n["author"]), created_at=self.at(n["at"]))
                            for nid, n in zip(ids, self.story.notes, strict=True)])
        for nid, n in zip(ids, self.story.notes, strict=True):
            self.later(n["at"], n["contact"], "note", "internal", n["body"].splitlines()[0][:140],
                       payload={"body": n["body"]}, links={"note_id": nid}, **self.actor(n["author"]))

    # -- the timeline -----------------------------------------------------------------------------------------------

    async def timeline(self) -> int:
        """Record every item, oldest first, so ids follow time as they do in a shop that lived through it."""
        refs: dict[str, list[tuple[int, int]]] = {}
        for seconds, _, kw, backref in sorted(self.items, key=lambda x: (-x[0], x[1])):
            interaction_id = await timeline.record(**kw, occurred_at=self.at(seconds))
            if backref is not None:
                refs.setdefault(backref[0], []).append((backref[1], interaction_id))
        conn = current_uow().connection
        for table in sorted(refs):
            await conn.execute(BACKREF_SQL[table], [r for r, _ in refs[table]], [i for _, i in refs[table]])
        return len(self.items)
