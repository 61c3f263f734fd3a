"""The demo shop's past as plain data: who the customers are and what happened with them over 90 days.

Pure and deterministic: the same seed and locale give the same story, every time is an offset in seconds
before the anchor (the moment the shop is seeded), and rows refer to each other by their index in the story.
`seed.py` writes it into a tenant."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from faker import Faker

from app.demo import texts
from app.demo.texts import Locale
from app.lib import money

DAY = 86_400
HOUR = 3_600
WINDOW = 90 * DAY
CONTACTS = 320
ORDERS = 150
CALLS = 110
SMS_THREADS = 55
EMAIL_THREADS = 32
CHATS = 28
NOTES = 55
# Calls of the last days are recorded (the shop turned recording on recently): enough to listen to, without
# filling the disk with audio.
RECORDED_SINCE = 12 * DAY
# Deals per stage: the open stages of the pipeline in order, then won and lost ones.
OPEN_DEALS = (11, 9, 7, 5, 4, 3)
CLOSED_DEALS = {"won": 6, "lost": 4}
WRAPUP_CODES = ("resolved", "sale", "callback", "info")


CUSTOMER_ZONES: dict[str, tuple[str, ...]] = {
    "ru_RU": ("Asia/Yekaterinburg", "Asia/Novosibirsk", "Europe/Kaliningrad", "Asia/Vladivostok"),
    "bg_BG": ("Europe/London", "Europe/Berlin"),
    "en_US": ("America/Chicago", "America/Denver", "America/Los_Angeles"),
}
"""Time zones of the customers who do not live in the shop's own (the portal and emails show them their times)."""


@dataclass
class Story:
    locale: Locale
    contacts: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def _digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


class _Teller:
    def __init__(self, seed: int, locale: Locale, operators: list[str], statuses: list[dict[str, Any]]) -> None:
        self.seed, self.loc, self.operators = seed, locale, operators
        self.rng = random.Random(seed)
        self.fake = Faker(locale.code)
        self.fake.seed_instance(seed)
        self.statuses = {s["key"]: s for s in statuses}
        self.phones: set[str] = set()
        self.emails: set[str] = set()
        self.story = Story(locale)

    def pick(self, seq: Any) -> Any:
        return seq[self.rng.randrange(len(seq))]

    # -- contacts ---------------------------------------------------------------------------------------------------

    def phone(self) -> str:
        while True:
            r = self.rng
            if self.loc.region == "RU":
                number = f"+79{r.randrange(10, 100)}{r.randrange(10**7):07d}"
            elif self.loc.region == "BG":
                number = f"+3598{r.choice('789')}{r.randrange(10**7):07d}"
            else:  # 555-0100..0199: the numbers set aside for fiction
                area = self.pick(("212", "312", "415", "617", "206", "303", "512", "404", "305", "702", "646", "213"))
                number = f"+1{area}55501{r.randrange(100):02d}"
            # Not every range is allocated: keep numbers the card's own phone rules accept.
            if number not in self.phones and phonenumbers.is_valid_number(phonenumbers.parse(number)):
                self.phones.add(number)
                return number

    def name(self, female: bool) -> str:
        names, fake = self.loc.names, self.fake
        sex = "female" if female else "male"
        first = self.pick(names[f"first_{sex}"]) if names else getattr(fake, f"first_name_{sex}")()
        last = self.pick(names[f"last_{sex}"]) if names else getattr(fake, f"last_name_{sex}")()
        return f"{first} {last}"

    def email(self, name: str, i: int) -> str:
        """first.last (in Latin letters) at one of the domains kept for examples, so no real inbox gets demo mail."""
        first, _, last = name.lower().translate(texts.LATIN).partition(" ")
        user = self.pick((f"{first}.{last}", f"{first}{last[:1]}", f"{first[:1]}{last}", f"{first}.{last}{i % 90}"))
        address = f"{re.sub(r'[^a-z0-9.]', '', user)}@{self.pick(('example.com', 'example.net', 'example.org'))}"
        if address in self.emails:  # two people of one name: the second one's address has a number
            address = address.replace("@", f"{i}@")
        self.emails.add(address)
        return address

    def address(self) -> str:
        if self.loc.cities:
            return f"{self.pick(self.loc.streets)} {self.rng.randint(1, 120)}, {self.pick(self.loc.cities)}"
        if self.loc.code == "ru_RU":
            return (f"г. {self.fake.city_name()}, ул. {self.fake.street_title()}, "  # noqa: RUF001 (Cyrillic)
                    f"д. {self.rng.randint(1, 99)}, кв. {self.rng.randint(1, 240)}")
        return f"{self.fake.street_address()}, {self.fake.city()}, {self.fake.state_abbr()} {self.fake.postcode()}"

    def contact(self, i: int) -> dict[str, Any]:
        r = self.rng
        female = r.random() < 0.52
        name = self.name(female)
        b2b = r.random() < 0.15
        # Most customers came with the shop's first import at the start of the window; the rest arrived since.
        created = WINDOW - r.randrange(2 * HOUR) if r.random() < 0.55 else r.randrange(HOUR, WINDOW - DAY)
        custom: dict[str, Any] = {}
        if r.random() < 0.6:
            custom["car_brand"] = self.pick(self.loc.car_brands)
        if r.random() < 0.7:
            custom["children"] = r.choices((0, 1, 2, 3, 4), (30, 28, 28, 10, 4))[0]
        values: dict[str, Any] = {
            "name": name, "company": self.fake.company() if b2b else "", "phones": [self.phone()],
            "emails": [self.email(name, i)] if r.random() < 0.85 else [],
            "tags": sorted(set(r.sample(self.loc.tags, r.choices((0, 1, 2, 3), (35, 40, 18, 7))[0]))),
            "temperature": r.choices(("hot", "warm", "cold", None), (15, 35, 30, 20))[0],
            "birth_date": dt.date(r.randint(1956, 2005), 1, 1) + dt.timedelta(days=r.randrange(365))
            if r.random() < 0.7 else None,
            "address": self.address() if r.random() < 0.6 else "",
            "preferences": self.pick(self.loc.preferences) if r.random() < 0.35 else "",
            "custom": custom,
        }
        if r.random() < 0.12:
            values["phones"].append(self.phone())
        zones = CUSTOMER_ZONES.get(self.loc.code, ())
        if zones and i % 7 == 3:  # some customers live in another zone than the shop (no draw: the rest is unchanged)
            values["timezone"] = zones[(i // 7) % len(zones)]
        return {"values": values, "owner": self.pick(self.operators) if r.random() < 0.6 else None,
                "created": created, "source": "import" if created > WINDOW - 2 * HOUR else "manual"}

    # -- orders -----------------------------------------------------------------------------------------------------

    def status_path(self, age: int) -> list[str]:
        """The statuses an order walked through, by the pipeline's allowed moves: older orders got further."""
        ordered = sorted(self.statuses.values(), key=lambda s: s["position"])
        current = ordered[0]["key"]
        path = [current]
        # Some orders fly through the pipeline in hours, some take days a step: the recent ones are still in it.
        steps = min(len(ordered), 1 + age // self.pick((6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 4 * DAY)))
        while len(path) < steps and self.statuses[current]["allowed"]:
            allowed = self.statuses[current]["allowed"]
            forward = [k for k in allowed if self.statuses[k]["counts_as_sale"]]
            detour = [k for k in allowed if not self.statuses[k]["counts_as_sale"]]
            if detour and (not forward or self.rng.random() < 0.06):
                current = self.pick(detour)
            else:
                current = min(forward, key=lambda k: self.statuses[k]["position"])
            path.append(current)
            if self.statuses[current]["final"]:
                break
        return path

    def order(self, i: int, contact: int, placed: int) -> dict[str, Any]:
        r, exp = self.rng, 10 ** money.exponent(self.loc.currency)
        lines = r.sample(self.loc.products, r.choices((1, 2, 3, 4), (45, 30, 17, 8))[0])
        items = [{"name": n, "sku": sku, "quantity": r.choices((1, 2, 3), (80, 15, 5))[0], "unit_price": price * exp}
                 for n, sku, price in lines]
        subtotal = sum(it["quantity"] * it["unit_price"] for it in items)
        # Free shipping from the price of the shoes; below that, about a third of a pair of socks.
        shipping = 0 if subtotal >= self.loc.products[0][2] * exp else self.loc.products[2][2] // 3 * exp
        discount = subtotal // 10 if r.random() < 0.15 else 0
        total = subtotal + shipping - discount
        path = self.status_path(placed)
        history: list[dict[str, Any]] = []
        payments: list[dict[str, Any]] = []
        t = placed
        actor = self.pick(self.operators)
        for prev, nxt in itertools.pairwise(path):
            # Each step takes hours to a couple of days, and the last one is done before the anchor.
            most = max(120, min(2 * DAY, t // len(path)))
            t = max(60, t - r.randrange(most // 4, most))
            history.append({"from": prev, "to": nxt, "at": t, "actor": actor})
            paid = sum(p["amount"] for p in payments if p["kind"] == "payment")
            if nxt == "paid" or (not paid and self.statuses[nxt]["final"] and self.statuses[nxt]["counts_as_sale"]):
                payments.append({"kind": "payment", "amount": total, "method": self.pick(self.loc.methods),
                                 "at": t + 120, "actor": actor})
            elif paid and not self.statuses[nxt]["counts_as_sale"]:
                payments.append({"kind": "refund", "amount": paid, "method": payments[0]["method"],
                                 "at": max(30, t - 600), "actor": actor})
        if path[-1] == "delivered" and payments and len(items) > 1 and r.random() < 0.15:
            part = items[-1]["unit_price"]  # one item came back
            payments.append({"kind": "refund", "amount": min(part, total), "method": payments[0]["method"],
                             "at": max(30, t - r.randrange(HOUR, DAY)), "actor": actor})
        return {"contact": contact, "currency": self.loc.currency, "items": items, "shipping": shipping,
                "discount": discount, "subtotal": subtotal, "total": total, "status": path[-1], "placed": placed,
                "history": history, "payments": payments, "first_status": path[0],
                "external_id": f"web-{self.seed}-{i + 1:05d}"}

    # -- deals ------------------------------------------------------------------------------------------------------

    def deal(self, contact: int, stage: str, position: int, kinds: dict[str, str]) -> dict[str, Any]:
        r = self.rng
        created = r.randrange(2 * DAY, WINDOW - DAY)
        order = [k for k, kind in kinds.items() if kind == "open"]
        path = order[: (order.index(stage) + 1)] if stage in order else [*order[: r.randint(1, len(order))], stage]
        history, t = [], created
        for prev, nxt in zip([None, *path], path, strict=False):
            if prev is not None:
                t = max(HOUR, t - r.randrange(DAY, 10 * DAY))
            history.append({"from": prev, "to": nxt, "at": t})
        reason = self.pick(self.loc.lost_reasons) if kinds.get(stage) == "lost" else ""
        value = r.randrange(5, 80) * self.loc.products[0][2] * 10 ** money.exponent(self.loc.currency)
        return {"contact": contact, "title": self.pick(self.loc.deal_titles), "owner": self.pick(self.operators),
                "value": value, "currency": self.loc.currency, "stage": stage, "position": position,
                "reason": reason, "created": created, "history": history,
                "closed": t if kinds.get(stage) != "open" else None,
                "expected_close": r.randrange(-20, 60) if kinds.get(stage) == "open" else None}

    # -- conversations ----------------------------------------------------------------------------------------------

    def when(self, contact: dict[str, Any]) -> int:
        return self.rng.randrange(15 * 60, max(contact["created"] - 600, 20 * 60))

    def call(self, contact: int, at: int) -> dict[str, Any]:
        r = self.rng
        inbound = r.random() < 0.7
        outcome = r.choices(("answered", "missed", "voicemail", "abandoned"), (78, 8, 8, 6))[0] if inbound else \
            r.choices(("answered", "missed"), (85, 15))[0]
        wait = r.randrange(3, 90) if inbound else 0
        talk = r.randrange(25, 300) if outcome == "answered" else 0
        operator = self.pick(self.operators) if outcome == "answered" else None
        return {"channel": "call", "contact": contact, "created": at, "inbound": inbound, "outcome": outcome,
                "wait": wait, "talk": talk, "operator": operator, "sid": "CA" + _digest(self.seed, "call", at,
                                                                                       contact)[:32],
                "recorded": outcome == "answered" and at < RECORDED_SINCE,
                "note": self.pick(self.loc.call_notes) if outcome == "answered" else "",
                "code": self.pick(WRAPUP_CODES)}

    def messages(self, channel: str, contact: int, at: int, state: str) -> dict[str, Any]:
        """A short exchange on SMS, email or chat, started by the customer; a `waiting` or `active` one is still
        open in the console, the others were wrapped up."""
        r, loc = self.rng, self.loc
        subject, first = self.pick(loc.email_in) if channel == "email" else ("", "")
        replies = {"sms": (loc.sms_in, loc.sms_out), "chat": (loc.chat_in, loc.chat_out),
                   "email": (tuple(b for _, b in loc.email_in), loc.email_out)}[channel]
        # Replies take minutes (chat) or hours, and the whole exchange ends before the anchor.
        gap = max(61, min(300 if channel == "chat" else 6 * HOUR, at // 5))
        msgs: list[dict[str, Any]] = []
        t = at
        for n in range(1 if state == "waiting" else 2 if state == "active" else r.randint(2, 4)):
            if n:
                t = max(30, t - r.randrange(60, gap))
            body = first if channel == "email" and n == 0 else self.pick(replies[n % 2])
            msgs.append({"direction": "out" if n % 2 else "in", "body": body, "at": t})
        return {"channel": channel, "contact": contact, "created": at, "subject": subject, "messages": msgs,
                "operator": None if state == "waiting" else self.operators[0] if state == "active"
                else self.pick(self.operators), "state": state, "code": self.pick(WRAPUP_CODES),
                "ref": _digest(self.seed, channel, at, contact)[:32]}

    # -- the whole story --------------------------------------------------------------------------------------------

    def first_touches(self) -> None:
        """A customer who arrived after the import came through a channel: an order, a call, a message."""
        s, r = self.story, self.rng
        for ci, c in enumerate(s.contacts):
            if c["source"] == "import":
                continue
            at = max(60, c["created"] - r.randrange(60, 1800))
            kind = self.pick(("order", "order", "call", "sms", "chat", *(("email",) if c["values"]["emails"] else ())))
            c["source"] = {"order": "order", "call": "telephony", "sms": "telephony"}.get(kind, kind)
            if kind == "order":
                s.orders.append(self.order(len(s.orders), ci, at))
            elif kind == "call":
                s.threads.append(self.call(ci, at))
            else:
                s.threads.append(self.messages(kind, ci, at, "closed"))

    def tell(self, deal_kinds: dict[str, str]) -> Story:
        s, r = self.story, self.rng
        s.contacts = [self.contact(i) for i in range(CONTACTS)]
        weights = [3 if c["values"]["temperature"] == "hot" else 1 for c in s.contacts]
        for i in range(ORDERS):
            ci = r.choices(range(CONTACTS), weights)[0]
            placed = r.randrange(HOUR, s.contacts[ci]["created"] - 60) if s.contacts[ci]["created"] > 2 * HOUR else 60
            # The first order came in two minutes ago, so "this month" and "today" have one in every zone on the
            # first day of a month too (the draw above still happens: the rest of the story stays as it was).
            s.orders.append(self.order(i, ci, 120 if i == 0 else placed))
        self.first_touches()
        buyers = [i for i, c in enumerate(s.contacts) if c["values"]["company"] or c["values"]["temperature"] == "hot"]
        open_keys = [k for k, kind in deal_kinds.items() if kind == "open"]
        for stage, kind in deal_kinds.items():
            count = OPEN_DEALS[min(open_keys.index(stage), len(OPEN_DEALS) - 1)] if kind == "open" else \
                CLOSED_DEALS.get(kind, 3)
            for pos in range(count):
                s.deals.append(self.deal(self.pick(buyers), stage, pos, deal_kinds))
        for _ in range(CALLS):
            ci = r.randrange(CONTACTS)
            s.threads.append(self.call(ci, self.when(s.contacts[ci])))
        for channel, count in (("sms", SMS_THREADS), ("email", EMAIL_THREADS), ("chat", CHATS)):
            reachable = [i for i, c in enumerate(s.contacts) if channel != "email" or c["values"]["emails"]]
            for n in range(count):
                ci = self.pick(reachable)
                # The console has customers waiting (and one conversation of the operator's) from the first minute.
                state = "waiting" if n < 2 else "active" if n == 2 and channel == "sms" else "closed"
                at = r.randrange(5 * 60, 40 * 60) if state != "closed" else self.when(s.contacts[ci])
                s.threads.append(self.messages(channel, ci, at, state))
        for _ in range(NOTES):
            ci = r.randrange(CONTACTS)
            s.notes.append({"contact": ci, "body": self.pick(self.loc.notes), "author": self.pick(self.operators),
                            "at": self.when(s.contacts[ci])})
        return s


def tell(seed: int, locale: Locale, *, operators: list[str], statuses: list[dict[str, Any]],
         deal_kinds: dict[str, str]) -> Story:
    """The story for `seed`: `operators` are the team's emails (who answers, owns and sells), `statuses` the
    tenant's order pipeline and `deal_kinds` its deal stages (key -> open | won | lost)."""
    return _Teller(seed, locale, operators, statuses).tell(deal_kinds)
