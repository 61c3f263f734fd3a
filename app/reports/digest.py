"""The report digest: a daily or weekly email to supervisors and owners with the key figures of the period (from
the registered report builders, never recomputed here) and a small server-rendered chart (inline SVG: email
clients run no JavaScript), in the reader's own language and time zone.

Each user chooses off / daily / weekly (`report_digest`, one row per user; the profile page's Digest section or
`GET/PUT /api/v1/me/digest`). A choice schedules one delayed job at the next send time (07:00 in the user's zone;
weekly: Mondays); the job sends, then schedules the next one. A job whose due time is no longer the row's (the
choice changed since) does nothing, so a change never sends twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from babel.dates import format_date
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from markupsafe import Markup

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.lib import i18n, jobs, mail
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, resolve_active, tenant_context
from app.lib.errors import DomainError, Forbidden, Invalid
from app.lib.forms import fields
from app.lib.i18n import N_
from app.lib.templates import render_page, render_text
from app.reports import kit
from app.settings import get_settings

JOB = "reports.send_digest"
FREQUENCIES = ("off", "daily", "weekly")
HOUR = 7
"""Digests leave at 07:00 in the reader's zone (weekly ones on Mondays): yesterday, or the last 7 days, are over."""
FIGURES: tuple[tuple[str, str], ...] = (
    ("agents", "handled"), ("agents", "aht"), ("queues", "service_level"), ("queues", "abandoned"),
    ("revenue", "revenue"),
)
"""(report, column) of each key figure, in the order the mail shows them; a report not installed is left out."""
CHART_DAYS = 7


class DigestIn(msgspec.Struct, forbid_unknown_fields=True):
    frequency: str
    """off | daily | weekly"""


class DigestOut(msgspec.Struct):
    frequency: str
    next_at: dt.datetime | None
    """When the next digest leaves (UTC); None when off."""


# -- the setting -------------------------------------------------------------------------------------------------

async def _reader(user_id: int) -> dict[str, Any] | None:
    return await current_uow().connection.fetchrow(  # type: ignore[no-any-return]
        "SELECT u.id, u.email, u.name, u.role, u.status, COALESCE(NULLIF(u.language, ''), w.language, '') AS language, "
        "COALESCE(NULLIF(u.timezone, ''), w.timezone, 'UTC') AS timezone, w.currency "
        "FROM app_user u LEFT JOIN workspace w ON true WHERE u.id = $1 LIMIT 1", user_id)


async def setting(user_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        'SELECT frequency, next_at FROM report_digest WHERE "user" = $1', user_id)
    return {"frequency": row["frequency"], "next_at": row["next_at"]} if row else {"frequency": "off",
                                                                                 "next_at": None}


def next_send(frequency: str, zone: str, after: dt.datetime) -> dt.datetime:
    """The first 07:00 in `zone` strictly after `after` (weekly: the first such Monday), in UTC."""
    tz = i18n.pick_zone(zone)
    day = after.astimezone(tz).date()
    while True:
        at = dt.datetime.combine(day, dt.time(HOUR), tzinfo=tz)
        if at > after and (frequency == "daily" or day.weekday() == 0):
            return at.astimezone(dt.UTC)
        day += dt.timedelta(days=1)


async def choose(actor: Principal, frequency: str) -> dict[str, Any]:
    """Set the acting user's digest; daily or weekly is for supervisors, admins and the owner."""
    if frequency not in FREQUENCIES:
        raise Invalid("Choose how often the digest comes: %(choices)s.", field="frequency",
                      choices=", ".join(FREQUENCIES))
    if frequency != "off" and not actor.has_role("supervisor"):
        raise Forbidden("The report digest is for supervisors, admins and the owner.")
    reader = await _reader(actor.user_id)
    due = next_send(frequency, reader["timezone"] if reader else "UTC", now()) if frequency != "off" else None
    await current_uow().connection.execute(
        'INSERT INTO report_digest ("user", frequency, next_at) VALUES ($1, $2, $3) '
        'ON CONFLICT ("user") DO UPDATE SET frequency = $2, next_at = $3', actor.user_id, frequency, due)
    if due is not None:
        await _schedule(actor.user_id, due)
    return await setting(actor.user_id)


async def _schedule(user_id: int, due: dt.datetime) -> None:
    await jobs.enqueue(JOB, {"user_id": user_id, "due": due.isoformat()}, delay=max(due - now(), dt.timedelta(0)),
                       dedupe_key=f"digest:{current_tenant().slug}:{user_id}:{due.isoformat()}")


# -- the figures and the chart ------------------------------------------------------------------------------------

def period_of(frequency: str, zone: str, at: dt.datetime) -> kit.Period:
    """What a digest sent at `at` covers: yesterday (daily) or the 7 days up to yesterday (weekly), in `zone`."""
    yesterday = at.astimezone(i18n.pick_zone(zone)).date() - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=6 if frequency == "weekly" else 0)
    return kit.period(first.isoformat(), yesterday.isoformat(), zone)


def _shown(value: Any, kind: str, currency: str) -> str:
    if value is None:
        return "—"
    if kind == "seconds":
        s = round(float(value))
        return f"{s // 60}:{s % 60:02d}"
    if kind == "percent":
        return i18n.format_number(float(value), 1) + " %"
    if kind == "money":
        return i18n.format_money(int(value), currency)
    return i18n.format_number(value)


async def figures(period: kit.Period, currency: str) -> list[dict[str, str]]:
    """Each key figure of the period as the reports compute it: label, value shown, formula."""
    built: dict[str, kit.Report] = {}
    out = []
    for name, key in FIGURES:
        spec = kit.REPORTS.get(name)
        if spec is None:
            continue
        if name not in built:
            built[name] = await spec.build(period, {})
        report = built[name]
        column = next((c for c in report.columns if c.key == key), None)
        if column is None:
            continue
        out.append({"label": i18n.gettext(column.label), "value": _shown(report.totals.get(key), column.kind, currency),
                    "formula": i18n.gettext(column.formula) if column.formula else ""})
    return out


async def chart(zone: str, at: dt.datetime) -> Markup:
    """Handled per day over the last 7 days up to yesterday, as an inline SVG bar chart (agents report, by day)."""
    yesterday = at.astimezone(i18n.pick_zone(zone)).date() - dt.timedelta(days=1)
    span = kit.period((yesterday - dt.timedelta(days=CHART_DAYS - 1)).isoformat(), yesterday.isoformat(), zone)
    spec = kit.REPORTS.get("agents")
    rows = (await spec.build(span, {"bucket": "day"})).rows if spec else []
    by_day = {r["key"]: int(r.get("handled") or 0) for r in rows}
    days = [span.first + dt.timedelta(days=i) for i in range(CHART_DAYS)]
    values = [by_day.get(d.isoformat(), 0) for d in days]
    top = max(values) or 1
    width, height, bar = 420, 150, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{i18n.gettext("Handled per day")}">']
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = round(100 * value / top)
        x = 10 + i * 58
        parts.append(f'<rect x="{x}" y="{120 - h}" width="{bar}" height="{h}" fill="#2f4fd8"/>'
                     f'<text x="{x + bar // 2}" y="{115 - h}" font-size="12" text-anchor="middle">{value}</text>'
                     f'<text x="{x + bar // 2}" y="140" font-size="12" text-anchor="middle">'
                     f'{format_date(day, "EEE", locale=i18n.current().locale)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and Babel's day names only


async def compose(user_id: int, frequency: str, at: dt.datetime) -> Any:
    """The digest mail for `user_id` (None when they have no address or left), in their language and zone."""
    reader = await _reader(user_id)
    if reader is None or reader["status"] != "active" or not reader["email"]:
        return None
    settings = get_settings()
    with i18n.viewing(reader["language"], reader["timezone"]):
        period = period_of(frequency, reader["timezone"], at)
        context = {
            "name": reader["name"], "figures": await figures(period, reader["currency"] or "USD"),
            "chart": await chart(reader["timezone"], at),
            "first": i18n.format_date(period.first), "last": i18n.format_date(period.last),
            "daily": frequency == "daily",
            "url": f"{settings.app.base_url.rstrip('/')}/t/{current_tenant().slug}/reports/",
        }
        subject = (i18n.gettext("Daily digest for %(day)s", day=context["last"]) if frequency == "daily" else
                   i18n.gettext("Weekly digest: %(first)s to %(last)s", first=context["first"], last=context["last"]))
        return mail.build_message(settings.mail.from_address, reader["email"], subject,
                                  render_text("emails/report_digest.txt", context),
                                  render_text("emails/report_digest.html", context))


async def send(payload: dict[str, Any]) -> None:
    """The job: if this is still the user's next digest, send it, then schedule the one after."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    due = dt.datetime.fromisoformat(payload["due"])
    user_id = int(payload["user_id"])
    async with tenant_context(tenant):
        row = await setting(user_id)
        if row["frequency"] == "off" or row["next_at"] != due:
            return  # changed since: the job of the new choice sends
        message = await compose(user_id, row["frequency"], due)
    if message is not None:
        await mail.send(mail.SmtpAccount.platform(get_settings().mail), message)
    async with tenant_context(tenant):
        reader = await _reader(user_id)
        after = next_send(row["frequency"], reader["timezone"] if reader else "UTC", max(due, now()))
        moved = await current_uow().connection.fetchval(
            'UPDATE report_digest SET next_at = $1, last_sent_at = now() WHERE "user" = $2 AND next_at = $3 '
            "RETURNING next_at", after, user_id, due)
        if moved is not None:
            await _schedule(user_id, after)


# -- the profile page's section and the API ------------------------------------------------------------------------

Req = Request[Principal, Any, Any]
LABELS = {"off": N_("Off"), "daily": N_("Daily"), "weekly": N_("Weekly (Mondays)")}


class DigestViews(Controller):
    path = "/profile/digest"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def section(self, request: Req) -> Template:
        return render_page(request, "_partials/report_digest.html", await _section(request))

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await fields(request, "frequency")
        try:
            await choose(request.user, form["frequency"])
        except DomainError as exc:
            return render_page(request, "_partials/report_digest.html",
                               await _section(request, error=exc.detail), status_code=exc.status_code)
        return render_page(request, "_partials/report_digest.html",
                           await _section(request, notice=i18n.gettext("Saved.")))


async def _section(request: Req, **extra: Any) -> dict[str, Any]:
    return {"digest": await setting(request.user.user_id), "labels": LABELS, "frequencies": FREQUENCIES,
            "allowed": request.user.has_role("supervisor"), "error": None, "notice": None, **extra}


class DigestApi(Controller):
    path = "/api/v1/me/digest"
    tags = ["reports"]
    guards = [signed_in]

    @get("/", summary="Your report digest: off, daily or weekly, and when the next one leaves")
    async def read(self, request: Req) -> DigestOut:
        return DigestOut(**await setting(request.user.user_id))

    @put("/", summary="Choose your report digest (daily or weekly: supervisors, admins and the owner)")
    async def write(self, request: Req, slug: FromPath[str], data: JSONBody[DigestIn]) -> DigestOut:
        return DigestOut(**await choose(request.user, data.frequency))
