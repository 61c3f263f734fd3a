"""The revenue reports: net revenue of the orders placed in a period grouped by the channel of the last touch, the
operator, temperature, tag, new or returning client, or day/week/month (`revenue`); the top clients with their
lifetime value (`revenue_clients`); the repeat clients who stopped buying (`revenue_lapsed`).

Every figure is a sum over the orders of `revenue_facts.orders` (one row per order), and every drill lists those
same rows, so a number and the rows behind it cannot disagree: the report's total is the sum of the net totals of
the orders placed in the period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.accounts import services as accounts
from app.lib import i18n, money
from app.lib.db import current_uow
from app.lib.errors import Invalid
from app.lib.i18n import N_
from app.lib.templates import word
from app.reports import revenue_facts as facts
from app.reports.kit import Column, Period, Report, ReportSpec, register
from app.segments import services as segments

GROUPS = ("channel", "operator", "temperature", "tag", "customer", "segment", "day", "week", "month")
"""The `group` parameter of the revenue report; the first is the default."""
BUCKETS = ("day", "week", "month")
TOTAL_KEYS = ("", "_total", "total")
"""A drill's `row` naming the totals line: every order of the period."""
TOP_CLIENTS = 20

GROUP_LABELS = {"channel": N_("Channel of the last touch"), "operator": N_("Operator"),
                "temperature": N_("Temperature"), "tag": N_("Tag"), "customer": N_("New or returning"),
                "segment": N_("Segment"),
                "day": N_("Day of the order"), "week": N_("Week of the order (from Monday)"),
                "month": N_("Month of the order")}

ORDERS = Column("orders", N_("Orders"), "int", N_("orders placed in the period that count as a sale (cancelled "
                                                    "and returned ones are left out)"), drill=True)
REVENUE = Column("revenue", N_("Revenue"), "money", N_("Σ (payments - refunds) of the orders placed in the period"),
                 drill=True)
AOV = Column("aov", N_("Average order value"), "money", N_("revenue ÷ orders"))
LTV = Column("ltv", N_("Lifetime value"), "money", N_("Σ (payments - refunds) of all the client's orders up to "
                                                      "the end of the period"), drill=True)

DRILL_COLUMNS = [Column("number", N_("Order"), "text"), Column("contact_name", N_("Client"), "text"),
                 Column("placed_at", N_("Placed at"), "datetime"), Column("net", N_("Net total"), "money",
                                                                           N_("payments - refunds")),
                 Column("sale", N_("Counts as a sale"), "text"), Column("touch", N_("Last touch"), "text"),
                 Column("operator_name", N_("Operator"), "text")]


# -- the shared pieces -------------------------------------------------------------------------------------------

def _slug() -> str:
    tenant = current_uow().tenant
    return tenant.slug if tenant else ""


async def _currency(params: Mapping[str, str]) -> str:
    raw = (params.get("currency") or "").strip()
    return money.check_currency(raw) if raw else str((await accounts.workspace())["currency"])


SEE_ALSO = (("revenue", N_("Revenue")), ("revenue_clients", N_("Top clients")),
            ("revenue_lapsed", N_("Clients who stopped buying")))


def _params(name: str, currency: str, **more: Any) -> dict[str, Any]:
    """What every revenue report says about itself: its currency (and its decimals, for the chart), links to the
    other revenue reports and to their settings, and its own choices."""
    slug = _slug()
    links = [{"href": f"/t/{slug}/reports/{key}", "label": i18n.gettext(label)} for key, label in SEE_ALSO
             if key != name]
    links.append({"href": f"/t/{slug}/settings/revenue-report/", "label": i18n.gettext("Revenue report settings")})
    return {"currency": currency, "money_digits": money.exponent(currency), "see_also": links, **more}


def _figures(rows: Iterable[dict[str, Any]], currency: str) -> dict[str, Any]:
    """orders, revenue and average order value of some orders (money in minor units of `currency`, which the row
    carries for the CSV and the page; no orders: no average)."""
    orders = revenue = 0
    for r in rows:
        orders += 1 if r["sale"] else 0
        revenue += r["net"]
    return {"orders": orders, "revenue": revenue, "aov": revenue // orders if orders else None,
            "currency": currency}


async def _names() -> dict[int, str]:
    return {u["id"]: u["name"] or u["email"] for u in await accounts.list_users()}


def _bucket_start(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _buckets(period: Period, bucket: str) -> list[dt.date]:
    out, day = [], _bucket_start(period.first, bucket)
    while day <= period.last:
        out.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1) if bucket == "month" else \
            day + dt.timedelta(days=7 if bucket == "week" else 1)
    return out


def _bucket_label(day: dt.date, bucket: str) -> str:
    if bucket == "month":
        return i18n.format_date(day, "LLLL y")
    return i18n.format_date(day, "medium")


async def _segment_keys(orders: list[dict[str, Any]]) -> dict[int, list[tuple[str, str]]]:
    """Per client of these orders, the saved segments that hold them now (key `segment:<id>`, the name)."""
    contact_ids = sorted({r["contact"] for r in orders})
    out: dict[int, list[tuple[str, str]]] = {}
    for seg in await segments.list_segments():
        for contact_id in await segments.members_among(seg["id"], contact_ids):
            out.setdefault(contact_id, []).append((f"segment:{seg['id']}", seg["name"]))
    return out


def _keys(group: str, names: dict[int, str],
          in_segments: dict[int, list[tuple[str, str]]] | None = None) -> Callable[[dict[str, Any]],
                                                                            list[tuple[str, str]]]:
    """For each order, the (key, label) of the group(s) it falls in: one, except for tags and segments (one per
    tag or segment)."""
    def channel(r: dict[str, Any]) -> list[tuple[str, str]]:
        ch = r["touch_channel"]
        return [(ch, word(ch))] if ch else [("none", i18n.gettext("no touch"))]

    def operator(r: dict[str, Any]) -> list[tuple[str, str]]:
        uid = r["operator"]
        if uid is None:
            return [("none", i18n.gettext("nobody"))]
        return [(f"user:{uid}", names.get(uid) or i18n.gettext("user %(id)s", id=uid))]

    def temperature(r: dict[str, Any]) -> list[tuple[str, str]]:
        t = r["temperature"]
        return [(t, word(t))] if t else [("none", i18n.gettext("no temperature"))]

    def tag(r: dict[str, Any]) -> list[tuple[str, str]]:
        tags = sorted(set(r["tags"] or ()))
        return [(f"tag:{t}", t) for t in tags] or [("none", i18n.gettext("no tag"))]

    def customer(r: dict[str, Any]) -> list[tuple[str, str]]:
        return ([("returning", i18n.gettext("returning client"))] if r["returning"]
                else [("new", i18n.gettext("new client"))])

    def bucket(r: dict[str, Any]) -> list[tuple[str, str]]:
        start = _bucket_start(r["local_day"], group)
        return [(start.isoformat(), _bucket_label(start, group))]

    def segment(r: dict[str, Any]) -> list[tuple[str, str]]:
        return (in_segments or {}).get(r["contact"]) or [("none", i18n.gettext("in no segment"))]

    return {"channel": channel, "operator": operator, "temperature": temperature, "tag": tag,
            "customer": customer, "segment": segment}.get(group, bucket)


def _group(params: Mapping[str, str]) -> str:
    group = (params.get("group") or GROUPS[0]).strip()
    if group not in GROUPS:
        raise Invalid("Unknown grouping %(group)s; choose one of: %(choices)s.", field="group", group=repr(group),
                      choices=", ".join(GROUPS))
    return group


def _order_rows(rows: Iterable[dict[str, Any]], names: dict[int, str], column: str,
                currency: str) -> list[dict[str, Any]]:
    """Drill rows: the orders behind a number (only the sales behind an order count), each linking to the order
    and its client; their net totals (or their count) add up to the number clicked."""
    slug = _slug()
    out = []
    for r in rows:
        if column == "orders" and not r["sale"]:
            continue
        touch = r.get("touch_channel")
        operator = r.get("operator")
        out.append({"key": str(r["id"]), "number": r["number"], "contact_id": r["contact"],
                    "contact_name": r["contact_name"], "placed_at": r["placed_at"], "net": r["net"],
                    "currency": currency, "sale": i18n.gettext("yes") if r["sale"] else i18n.gettext("no"),
                    "touch": word(touch) if touch else "",
                    "operator_name": names.get(operator, "") if operator is not None else "",
                    "href": f"/t/{slug}/orders/{r['id']}", "contact_href": f"/t/{slug}/contacts/{r['contact']}"})
    return out


def _drill_column(column: str, allowed: tuple[str, ...]) -> str:
    if column not in allowed:
        raise Invalid("Column %(column)s has no rows behind it; choose one of: %(choices)s.", field="column",
                      column=repr(column), choices=", ".join(allowed))
    return column


# -- revenue by group --------------------------------------------------------------------------------------------

async def build(period: Period, params: Mapping[str, str]) -> Report:
    group = _group(params)
    currency = await _currency(params)
    settings = await facts.settings()
    orders = await facts.orders(period.start, period.end, currency, period.zone, settings.touch_days)
    names = await _names() if group == "operator" else {}
    keys = _keys(group, names, await _segment_keys(orders) if group == "segment" else None)
    groups: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    if group in BUCKETS:  # every bucket of the period, empty ones too: the chart's x axis has no gaps
        for day in _buckets(period, group):
            groups[day.isoformat()] = (_bucket_label(day, group), [])
    for r in orders:
        for key, label in keys(r):
            groups.setdefault(key, (label, []))[1].append(r)
    rows = [{"key": key, "label": label, **_figures(members, currency)} for key, (label, members) in groups.items()]
    rows = _sorted(group, rows)
    notes = [i18n.gettext("Revenue is the net total (payments - refunds) of each order placed in the period, in "
                          "%(currency)s; the total is the sum over those orders.", currency=currency)]
    if group in ("channel", "operator"):
        notes.append(i18n.gettext(
            "Last touch: the newest call, SMS, email or chat with the client (incoming or outgoing) at most "
            "%(days)s days before the order; “no touch” when there was none. Operator: who handled that touch, "
            "else who entered the order.", days=settings.touch_days))
    if group in ("temperature", "tag"):
        notes.append(N_("Temperature and tags are the client's today, not at the time of the order."))
    if group == "tag":
        notes.append(N_("An order counts under each of its client's tags, so the rows add up to more than the "
                        "total when clients have several tags."))
    if group == "segment":
        notes.append(N_("An order counts under each saved segment its client is in today, so the rows add up to "
                        "more than the total when segments overlap."))
    if group == "customer":
        notes.append(N_("New: the client's first order that counts as a sale; returning: they had one before."))
    others = {c: n for c, n in (await facts.currencies(period.start, period.end)).items() if c != currency}
    if others:
        notes.append(i18n.gettext("Not counted here: orders in other currencies (%(list)s); choose the currency "
                                  "to see them.", list=", ".join(f"{c}: {n}" for c, n in others.items())))
    return Report(name="revenue", title=N_("Revenue"),
                  columns=[Column("label", GROUP_LABELS[group], "text"), ORDERS, REVENUE, AOV],
                  rows=rows, totals={"key": "_total", "label": i18n.gettext("Total"), **_figures(orders, currency)},
                  chart={"type": "line" if group in BUCKETS else "bar", "x": "label", "series": ["revenue"]},
                  notes=notes,
                  params=_params("revenue", currency, group=group, groups=list(GROUPS),
                                 group_labels={g: i18n.gettext(label) for g, label in GROUP_LABELS.items()},
                                 touch_days=settings.touch_days))


_TEMPERATURE_ORDER = {"hot": 0, "warm": 1, "cold": 2, "none": 3}


def _sorted(group: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if group in BUCKETS:
        return sorted(rows, key=lambda r: r["key"])
    if group == "channel":
        order = {c: n for n, c in enumerate((*facts.TOUCH_CHANNELS, "none"))}
        return sorted(rows, key=lambda r: order.get(r["key"], len(order)))
    if group == "temperature":
        return sorted(rows, key=lambda r: (_TEMPERATURE_ORDER.get(r["key"], 3), r["key"]))
    if group == "customer":
        return sorted(rows, key=lambda r: r["key"] != "new")
    # operators, tags and segments: biggest revenue first, "none" last
    return sorted(rows, key=lambda r: (r["key"] == "none", -r["revenue"], r["label"]))


async def drill(period: Period, params: Mapping[str, str], row: str, column: str) -> tuple[list[Column],
                                                                                            list[dict[str, Any]]]:
    group = _group(params)
    column = _drill_column(column, ("orders", "revenue"))
    currency = await _currency(params)
    settings = await facts.settings()
    orders = await facts.orders(period.start, period.end, currency, period.zone, settings.touch_days)
    names = await _names()
    if row not in TOTAL_KEYS:
        keys = _keys(group, names, await _segment_keys(orders) if group == "segment" else None)
        orders = [r for r in orders if any(k == row for k, _ in keys(r))]
    return DRILL_COLUMNS, _order_rows(orders, names, column, currency)


# -- top clients -------------------------------------------------------------------------------------------------

CLIENT_COLUMNS = [Column("label", N_("Client"), "text"), ORDERS, REVENUE, AOV, LTV]


async def build_clients(period: Period, params: Mapping[str, str]) -> Report:
    currency = await _currency(params)
    settings = await facts.settings()
    orders = await facts.orders(period.start, period.end, currency, period.zone, settings.touch_days)
    per: dict[int, list[dict[str, Any]]] = {}
    for r in orders:
        per.setdefault(r["contact"], []).append(r)
    lifetime = await facts.clients(period.end, currency, sorted(per))
    slug = _slug()
    rows = [{"key": str(cid), "label": members[0]["contact_name"], **_figures(members, currency),
             "ltv": lifetime[cid]["ltv"] if cid in lifetime else 0, "href": f"/t/{slug}/contacts/{cid}"}
            for cid, members in per.items()]
    rows.sort(key=lambda r: (-r["revenue"], -r["ltv"], r["label"], int(r["key"])))
    shown = rows[:TOP_CLIENTS]
    notes = [i18n.gettext("The %(top)s clients with the most revenue in the period (of %(all)s who ordered), in "
                          "%(currency)s. Lifetime value: all their orders up to the end of the period.",
                          top=len(shown), all=len(rows), currency=currency)]
    return Report(name="revenue_clients", title=N_("Top clients"), columns=CLIENT_COLUMNS, rows=shown,
                  totals={"key": "_total", "label": i18n.gettext("Total"), **_figures(orders, currency),
                          "ltv": sum(r["ltv"] for r in shown)},
                  chart={"type": "bar", "x": "label", "series": ["revenue", "ltv"]}, notes=notes,
                  params=_params("revenue_clients", currency, limit=TOP_CLIENTS))


async def drill_clients(period: Period, params: Mapping[str, str], row: str, column: str) -> tuple[
        list[Column], list[dict[str, Any]]]:
    column = _drill_column(column, ("orders", "revenue", "ltv"))
    currency = await _currency(params)
    settings = await facts.settings()
    names = await _names()
    if row in TOTAL_KEYS:
        if column == "ltv":
            raise Invalid("Open one client's lifetime value; the total has no single client.", field="row")
        orders = await facts.orders(period.start, period.end, currency, period.zone, settings.touch_days)
        return DRILL_COLUMNS, _order_rows(orders, names, column, currency)
    contact_id = _contact_key(row)
    if column == "ltv":
        return DRILL_COLUMNS, _order_rows(await facts.client_orders(contact_id, period.end, currency), names,
                                          "revenue", currency)
    orders = await facts.orders(period.start, period.end, currency, period.zone, settings.touch_days, contact_id)
    return DRILL_COLUMNS, _order_rows(orders, names, column, currency)


def _contact_key(row: str) -> int:
    if not row.isdigit():
        raise Invalid("row must be a client's id, e.g. 42.", field="row")
    return int(row)


# -- clients who stopped buying ----------------------------------------------------------------------------------

LAPSED_COLUMNS = [Column("label", N_("Client"), "text"),
                  Column("orders", N_("Orders"), "int", N_("all the client's orders that count as a sale"),
                         drill=True),
                  LTV,
                  Column("last_order_at", N_("Last order"), "datetime"),
                  Column("interval_days", N_("Usual interval, days"), "int",
                         N_("(last order - first order) ÷ (orders - 1)")),
                  Column("days_since", N_("Days since the last order"), "int",
                         N_("end of the period - last order"))]


async def build_lapsed(period: Period, params: Mapping[str, str]) -> Report:
    currency = await _currency(params)
    settings = await facts.settings()
    slug = _slug()
    rows = []
    for cid, c in (await facts.clients(period.end, currency)).items():
        verdict = lapsed(c, period.end, settings)
        if verdict is None:
            continue
        interval, since = verdict
        rows.append({"key": str(cid), "label": c["contact_name"], "orders": c["sales"], "ltv": c["ltv"],
                     "last_order_at": c["last_at"], "interval_days": round(interval, 1), "days_since": since,
                     "href": f"/t/{slug}/contacts/{cid}", "currency": currency})
    rows.sort(key=lambda r: (-r["ltv"], -r["days_since"], int(r["key"])))
    rule = i18n.gettext("Clients who stopped buying: at least 2 orders, and the last one is more than %(factor)s times "
                        "their usual interval (the average gap between their orders) or more than %(days)s days "
                        "before the end of the period.", factor=i18n.format_number(settings.lapsed_factor),
                        days=settings.lapsed_days)
    return Report(name="revenue_lapsed", title=N_("Clients who stopped buying"), columns=LAPSED_COLUMNS, rows=rows,
                  totals={"key": "_total", "label": i18n.gettext("Total"), "orders": sum(r["orders"] for r in rows),
                          "ltv": sum(r["ltv"] for r in rows), "currency": currency},
                  chart={"type": "bar", "x": "label", "series": ["ltv"]},
                  notes=[rule, i18n.gettext("Lifetime value in %(currency)s.", currency=currency)],
                  params=_params("revenue_lapsed", currency, lapsed_factor=settings.lapsed_factor,
                                 lapsed_days=settings.lapsed_days))


def lapsed(client: Mapping[str, Any], end: dt.datetime, settings: facts.RevenueSettings) -> tuple[float, int] | None:
    """(usual interval in days, whole days since the last order) of a client who stopped buying, else None."""
    if client["sales"] < 2 or client["last_at"] is None:
        return None
    interval = (client["last_at"] - client["first_at"]).total_seconds() / 86400 / (client["sales"] - 1)
    since = (end - client["last_at"]).total_seconds() / 86400
    if since > settings.lapsed_factor * interval or since > settings.lapsed_days:
        return interval, int(since)
    return None


async def drill_lapsed(period: Period, params: Mapping[str, str], row: str, column: str) -> tuple[
        list[Column], list[dict[str, Any]]]:
    column = _drill_column(column, ("orders", "ltv"))
    currency = await _currency(params)
    names = await _names()
    if row in TOTAL_KEYS:
        raise Invalid("Open one client's orders; the total has no single client.", field="row")
    rows = await facts.client_orders(_contact_key(row), period.end, currency)
    return DRILL_COLUMNS, _order_rows(rows, names, "orders" if column == "orders" else "revenue", currency)


REVENUE_SPEC = register(ReportSpec("revenue", build, drill, roles="admin", title=N_("Revenue"),
                                   description=N_("Net revenue by channel of the last touch, operator, temperature, "
                                                  "tag, new or returning client, day, week or month.")))
CLIENTS_SPEC = register(ReportSpec("revenue_clients", build_clients, drill_clients, roles="admin",
                                   title=N_("Top clients"),
                                   description=N_("The clients with the most revenue in the period, with their "
                                                  "lifetime value.")))
LAPSED_SPEC = register(ReportSpec("revenue_lapsed", build_lapsed, drill_lapsed, roles="admin",
                                  title=N_("Clients who stopped buying"),
                                  description=N_("Repeat clients whose last order is long overdue.")))
