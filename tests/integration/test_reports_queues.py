"""The queue service report (issue 18): a hand-built day of calls in Europe/Sofia on its DST day (25 hours), across
midnight, with abandons before and after T, short abandons, callbacks, answers within and after T: exact offered,
answered, abandoned, service level under each formula, ASA, longest wait, SLA met; drill rows add up to the number
clicked; CSV equals JSON; the wallboard's `service_today`; settings validation, admin-only writes, the audit
entry; tenant isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from app import demo
from app.accounts.services import workspace_zone
from app.demo import ensure_demo_service_level
from app.lib import i18n
from app.lib.db import current_uow, resolve_active, tenant_context
from app.reports import kit, queues
from app.reports.kit import cell
from tests.conftest import ShopFixture, browser_login, csrf_from, make_shop, run_jobs_until
from tests.integration.test_conversation_actions import _user
from tests.integration.test_reports_agents import Day

UTC = dt.UTC
DAY = "2026-10-25"
"""Europe/Sofia leaves summer time that night: 04:00 EEST becomes 03:00 EET (01:00 UTC); the day has 25 hours,
from 2026-10-24T21:00Z to 2026-10-25T22:00Z."""


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _queue(client: Any, shop: ShopFixture, key: str, name: str) -> int:
    resp = await client.post(api(shop, "/queues"), json={"key": key, "name": name}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _visits(shop: ShopFixture, rows: list[dict[str, Any]]) -> list[int]:
    """One conversation per wait, told to the reports listener through the events it consumes (the handler the
    worker runs), at the given times: queued, then taken, removed (abandoned), callback requested, overflowed."""
    day = Day(shop)
    await day.setup()
    ids = []
    for row in rows:
        entered, wait, queue = row["entered"], row.get("wait"), row["queue"]
        outcome = row.get("outcome", "answered")
        left = entered + dt.timedelta(seconds=wait or 0)
        conv = await day.conversation(row.get("channel", "call"), entered, taken=left if outcome == "answered"
                                      else None, agent=day.ann if outcome == "answered" else None)
        ids.append(conv)
        ids_ = {"conversation_id": conv, "queue_id": queue, "contact_id": 0}
        await day.event("queue.item_added", entered, **ids_)
        if row.get("callback"):
            await day.event("call.callback_requested", entered + dt.timedelta(seconds=1), **ids_)
        if outcome == "answered":
            await day.event("queue.item_taken", left, **ids_, user_id=day.ann)
        elif outcome in ("abandoned", "callback"):
            await day.event("queue.item_removed", left, **ids_)
        elif outcome == "overflowed":
            await day.event("routing.overflowed", left, conversation_id=conv, queue_id=queue,
                            to_queue_id=row["to_queue"])
    return ids


async def _sofia(client: Any, shop: ShopFixture) -> None:
    resp = await client.put(api(shop, "/workspace"), json={"timezone": "Europe/Sofia"}, headers=shop.auth)
    assert resp.status_code == 200, resp.text


async def _settings(client: Any, shop: ShopFixture, **body: Any) -> Any:
    return await client.put(api(shop, "/reports/settings"), json=body, headers=shop.auth)


async def _report(client: Any, shop: ShopFixture, **params: str) -> dict[str, Any]:
    resp = await client.get(api(shop, "/reports/queues"), params={"from": DAY, "to": DAY, **params},
                            headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def _day(client: Any, shop: ShopFixture) -> tuple[int, int]:
    """General (calls, one chat) and Sales (one chat): the day of 2026-10-25 in Sofia plus its neighbours."""
    await _sofia(client, shop)
    general = int(next(q["id"] for q in (await client.get(api(shop, "/queues"), headers=shop.auth)).json()
                       if q["key"] == "general"))
    sales = await _queue(client, shop, "sales", "Sales")
    g = general
    await _visits(shop, [
        {"queue": g, "entered": utc("2026-10-24T20:59:59"), "wait": 5},  # 23:59:59 the day before: not counted
        {"queue": g, "entered": utc("2026-10-24T21:05:00"), "wait": 10},  # 00:05 local: answered within T
        {"queue": g, "entered": utc("2026-10-25T00:30:00"), "wait": 20},  # 03:30 EEST: exactly T counts as within
        {"queue": g, "entered": utc("2026-10-25T01:30:00"), "wait": 45},  # 03:30 EET, the hour again: after T
        {"queue": g, "entered": utc("2026-10-25T06:00:00"), "wait": 0, "channel": "chat"},  # within T
        {"queue": g, "entered": utc("2026-10-25T07:00:00"), "wait": 3, "outcome": "abandoned"},  # short
        {"queue": g, "entered": utc("2026-10-25T07:10:00"), "wait": 5, "outcome": "abandoned"},  # short (= limit)
        {"queue": g, "entered": utc("2026-10-25T07:20:00"), "wait": 15, "outcome": "abandoned"},  # within T
        {"queue": g, "entered": utc("2026-10-25T07:30:00"), "wait": 25, "outcome": "abandoned"},  # after T
        {"queue": g, "entered": utc("2026-10-25T07:40:00"), "wait": 60, "outcome": "abandoned"},  # after T
        # asked for a callback and hung up the queue after 90 s: a callback, not an abandon
        {"queue": g, "entered": utc("2026-10-25T08:00:00"), "wait": 90, "outcome": "callback", "callback": True},
        # asked for a callback and was called back 5 minutes later: a callback, not an answer from the queue
        {"queue": g, "entered": utc("2026-10-25T08:10:00"), "wait": 300, "outcome": "answered", "callback": True},
        # overflowed to Sales after 30 s, still waiting there: counted in General, not yet in Sales
        {"queue": g, "entered": utc("2026-10-25T09:00:00"), "wait": 30, "outcome": "overflowed", "to_queue": sales},
        {"queue": g, "entered": utc("2026-10-25T12:00:00"), "wait": None, "outcome": "waiting"},  # not left yet
        {"queue": g, "entered": utc("2026-10-25T21:50:00"), "wait": 700},  # 23:50 local, answered after midnight
        {"queue": g, "entered": utc("2026-10-25T22:00:00"), "wait": 1},  # 00:00 of the 26th: not counted
        {"queue": sales, "entered": utc("2026-10-25T10:00:00"), "wait": 8, "channel": "chat"},
    ])
    return general, sales


GENERAL = {"offered": 13, "answered": 5, "abandoned": 5, "short_abandons": 2, "callbacks": 2, "asa": 155.0,
           "longest_wait": 700, "abandon_rate": 38.5}
"""General on the day: answered waits 10, 20, 45, 0, 700 (3 within T=20: ASA 775 ÷ 5); abandoned 3, 5 (short,
limit 5), 15 (within T), 25, 60 (after T); 2 callbacks; 1 overflowed; 13 that left the queue."""
SERVICE_LEVELS = {"offered_minus_short": 27.3,  # 3 ÷ (13 - 2)
                  "answered_abandoned": 30.0,  # 3 ÷ (5 + 5)
                  "abandoned_after": 42.9,  # 3 ÷ (5 + 2)
                  "within_offered": 46.2}  # (3 + 3) ÷ 13


def _row(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in report["rows"] if r["key"] == key)


async def test_a_day_of_calls_on_the_dst_day_under_each_formula(fx_client: Any, fx_shop: ShopFixture) -> None:
    general, sales = await _day(fx_client, fx_shop)
    report = await _report(fx_client, fx_shop)
    assert report["zone"] == "Europe/Sofia" and report["from"] == report["to"] == DAY
    row = _row(report, str(general))
    assert {k: row[k] for k in GENERAL} == GENERAL
    assert row["service_level"] == SERVICE_LEVELS["offered_minus_short"]  # the default formula
    assert _row(report, str(sales)) | {"key": "", "label": "", "group": ""} == {
        "key": "", "label": "", "group": "", "bucket": None, "offered": 1, "answered": 1, "abandoned": 0,
        "short_abandons": 0, "callbacks": 0, "service_level": 100.0, "asa": 8.0, "longest_wait": 8,
        "abandon_rate": 0.0, "sla_met": None}
    assert report["totals"]["offered"] == 14 and report["totals"]["answered"] == 6
    assert report["totals"]["asa"] == round(783 / 6, 1) and report["totals"]["longest_wait"] == 700
    formula = next(c for c in report["columns"] if c["key"] == "service_level")["formula"]
    assert formula == "answered within T ÷ (offered - short abandons)"
    assert any("T = 20 s" in note and formula in note for note in report["notes"])

    for name, expected in SERVICE_LEVELS.items():
        resp = await _settings(fx_client, fx_shop, service_level_formula=name, service_level_seconds=20,
                               short_abandon_seconds=5)
        assert resp.status_code == 200, resp.text
        report = await _report(fx_client, fx_shop)
        assert _row(report, str(general))["service_level"] == expected, name
        assert report["params"]["formula"] == name
        assert next(c for c in report["columns"] if c["key"] == "service_level")["formula"] == resp.json()["formula"]

    # T = 45 and short abandons up to 3 s: answered within 10, 20, 45, 0 (4) ÷ (13 - 1 short)
    await _settings(fx_client, fx_shop, service_level_formula="offered_minus_short", service_level_seconds=45,
                    short_abandon_seconds=3)
    row = _row(await _report(fx_client, fx_shop), str(general))
    assert row["short_abandons"] == 1 and row["service_level"] == round(4 / 12 * 100, 1)


async def test_channels_hours_and_the_repeated_hour(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _day(fx_client, fx_shop)
    by_channel = await _report(fx_client, fx_shop, group="channel")
    assert {r["key"]: r["offered"] for r in by_channel["rows"]} == {"call": 12, "chat": 2}
    assert _row(by_channel, "chat")["answered"] == 2 and _row(by_channel, "chat")["asa"] == 4.0
    hours = await _report(fx_client, fx_shop, bucket="hour")
    per_hour: dict[str, int] = {}
    for r in hours["rows"]:
        per_hour[r["bucket"]] = per_hour.get(r["bucket"], 0) + r["offered"]
    # local hours of the day; 03:00 happened twice (EEST then EET) and holds both calls
    assert per_hour["2026-10-25 00:00"] == 1 and per_hour["2026-10-25 03:00"] == 2
    assert per_hour["2026-10-25 23:00"] == 1 and "2026-10-24 23:00" not in per_hour
    assert sum(per_hour.values()) == 14
    days = await _report(fx_client, fx_shop, bucket="day")
    assert {r["bucket"] for r in days["rows"]} == {DAY}
    two_days = await fx_client.get(api(fx_shop, "/reports/queues"), headers=fx_shop.auth,
                                   params={"from": "2026-10-24", "to": "2026-10-26", "bucket": "day"})
    assert sorted((r["bucket"], r["offered"]) for r in two_days.json()["rows"]) == [
        ("2026-10-24", 1), (DAY, 1), (DAY, 13), ("2026-10-26", 1)]
    bad = await fx_client.get(api(fx_shop, "/reports/queues"), params={"group": "agent"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and "group" in bad.json()["detail"]


async def test_drill_rows_add_up_and_csv_equals_json(fx_client: Any, fx_shop: ShopFixture) -> None:
    general, _ = await _day(fx_client, fx_shop)
    report = await _report(fx_client, fx_shop)
    for row in [*report["rows"], report["totals"]]:
        for column in queues.DRILLABLE:
            resp = await fx_client.get(api(fx_shop, "/reports/queues/drill"), headers=fx_shop.auth, params={
                "from": DAY, "to": DAY, "row": row["key"], "column": column})
            assert resp.status_code == 200, resp.text
            rows = resp.json()["rows"]
            assert len(rows) == row[column], (row["key"], column)
            assert all(r["href"].startswith(f"/t/{fx_shop.slug}/workspace/") for r in rows)
    shorts = await fx_client.get(api(fx_shop, "/reports/queues/drill"), headers=fx_shop.auth, params={
        "from": DAY, "to": DAY, "row": str(general), "column": "short_abandons"})
    assert sorted(r["wait_seconds"] for r in shorts.json()["rows"]) == [3, 5]
    assert {r["outcome"] for r in shorts.json()["rows"]} == {"abandoned"}
    callbacks = await fx_client.get(api(fx_shop, "/reports/queues/drill"), headers=fx_shop.auth, params={
        "from": DAY, "to": DAY, "row": str(general), "column": "callbacks"})
    assert sorted((r["wait_seconds"], r["outcome"]) for r in callbacks.json()["rows"]) == [
        (90, "callback requested"), (300, "called back")]

    hours = await _report(fx_client, fx_shop, bucket="hour")
    repeated = next(r for r in hours["rows"] if r["bucket"] == "2026-10-25 03:00")
    resp = await fx_client.get(api(fx_shop, "/reports/queues/drill"), headers=fx_shop.auth, params={
        "from": DAY, "to": DAY, "bucket": "hour", "row": repeated["key"], "column": "offered"})
    assert [r["wait_seconds"] for r in resp.json()["rows"]] == [20, 45]

    exported = await fx_client.get(api(fx_shop, "/reports/queues"), headers=fx_shop.auth,
                                   params={"from": DAY, "to": DAY, "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.text)))
    keys = [c["key"] for c in report["columns"]]
    kinds = {c["key"]: c["kind"] for c in report["columns"]}
    assert lines[0] == keys
    assert lines[1:-1] == [[cell(r[k], kinds[k]) for k in keys] for r in report["rows"]]
    assert lines[-1][1:] == [cell(report["totals"][k], kinds[k]) for k in keys[1:]]


async def test_sla_met_share_comes_from_the_clocks(fx_client: Any, fx_shop: ShopFixture) -> None:
    general, _ = await _day(fx_client, fx_shop)
    vip = await _queue(fx_client, fx_shop, "vip", "VIP")
    ids = []
    for _ in range(3):
        resp = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat"}, headers=fx_shop.auth)
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    start = utc("2026-10-25T05:00:00")
    decided = [("met", utc("2026-10-25T05:01:00")), ("met", utc("2026-10-25T21:59:00")),
               ("breached", utc("2026-10-25T06:00:00")), ("met", utc("2026-10-25T22:00:00"))]  # the last: next day
    async with tenant_context(fx_shop.tenant):
        for n, (state, at) in enumerate(decided):
            await current_uow().connection.execute(
                "INSERT INTO sla_clock (conversation, metric, cycle, queue, target_seconds, warn_percent, started_at, "
                "warn_at, due_at, met_at, breached_at) VALUES ($1, 'next_response', $2, $3, 60, 80, $4, $4, $4, $5, $6)",
                ids[n % 3], n, general, start, at if state == "met" else None, at if state == "breached" else None)
        # a queue nobody waited in that day, with one clock met: its row shows the clock and no visits
        await current_uow().connection.execute(
            "INSERT INTO sla_clock (conversation, metric, cycle, queue, target_seconds, warn_percent, started_at, "
            "warn_at, due_at, met_at) VALUES ($1, 'resolution', 0, $2, 60, 80, $3, $3, $3, $4)",
            ids[0], vip, start, utc("2026-10-25T12:00:00"))
    report = await _report(fx_client, fx_shop)
    assert _row(report, str(general))["sla_met"] == round(2 / 3 * 100, 1)
    assert _row(report, str(vip)) | {"key": "", "group": ""} == {
        "key": "", "group": "", "label": "VIP", "bucket": None, "offered": 0, "answered": 0, "abandoned": 0,
        "short_abandons": 0, "callbacks": 0, "service_level": None, "asa": None, "longest_wait": None,
        "abandon_rate": None, "sla_met": 100.0}
    assert report["totals"]["sla_met"] == 75.0 and report["totals"]["offered"] == 14


async def test_service_today_for_the_wallboard(fx_client: Any, fx_shop: ShopFixture) -> None:
    await _sofia(fx_client, fx_shop)
    general = int(next(q["id"] for q in (await fx_client.get(api(fx_shop, "/queues"), headers=fx_shop.auth)).json()
                       if q["key"] == "general"))
    sales = await _queue(fx_client, fx_shop, "sales", "Sales")
    midnight = i18n.day_start("Europe/Sofia")
    await _visits(fx_shop, [
        {"queue": general, "entered": midnight - dt.timedelta(seconds=1), "wait": 2},  # yesterday
        {"queue": general, "entered": midnight, "wait": 12},
        {"queue": general, "entered": midnight + dt.timedelta(minutes=1), "wait": 33},
        {"queue": general, "entered": midnight + dt.timedelta(minutes=2), "wait": 4, "outcome": "abandoned"},
        {"queue": general, "entered": midnight + dt.timedelta(minutes=3), "wait": 50, "outcome": "abandoned"},
        {"queue": general, "entered": midnight + dt.timedelta(minutes=4), "wait": 61, "outcome": "callback",
         "callback": True},
        {"queue": sales, "entered": midnight + dt.timedelta(minutes=5), "wait": 7},
    ])
    async with tenant_context(fx_shop.tenant):
        one = await queues.service_today(general)
        every = await queues.service_today()
    assert one == {"offered": 5, "answered": 2, "abandoned": 2, "short_abandons": 1, "callbacks": 1,
                   "service_level": 1 / 4, "formula": "answered within T ÷ (offered - short abandons)",
                   "longest_wait_seconds": 61}
    assert every["offered"] == 6 and every["answered"] == 3 and every["service_level"] == 2 / 5
    async with tenant_context(fx_shop.tenant):
        assert (await queues.service_today(999999))["service_level"] is None


async def test_settings_validation_admin_only_and_audited(fx_client: Any, fx_shop: ShopFixture) -> None:
    read = await fx_client.get(api(fx_shop, "/reports/settings"), headers=fx_shop.auth)
    assert read.status_code == 200
    assert read.json() | {"formulas": []} == {
        "service_level_formula": "offered_minus_short", "service_level_seconds": 20, "short_abandon_seconds": 5,
        "formula": "answered within T ÷ (offered - short abandons)", "formulas": []}
    assert [f["key"] for f in read.json()["formulas"]] == list(queues.service_level.FORMULAS)

    bad = await _settings(fx_client, fx_shop, service_level_formula="magic")
    assert bad.status_code == 400
    assert "magic" in bad.json()["detail"] and "offered_minus_short" in bad.json()["detail"]
    assert bad.json()["errors"][0]["field"] == "service_level_formula"
    for body in ({"service_level_seconds": 0}, {"service_level_seconds": 20, "short_abandon_seconds": 20},
                 {"short_abandon_seconds": -1}):
        resp = await _settings(fx_client, fx_shop, **body)
        assert resp.status_code == 400 and resp.json()["detail"], (body, resp.text)
    unknown = await _settings(fx_client, fx_shop, colour="red")
    assert unknown.status_code == 400

    _, operator = await _user(fx_shop, "operator")
    _, supervisor = await _user(fx_shop, "supervisor")
    denied = await fx_client.put(api(fx_shop, "/reports/settings"), json={"service_level_seconds": 30},
                                 headers=supervisor)
    assert denied.status_code == 403
    assert (await fx_client.put(api(fx_shop, "/reports/settings"), json={"service_level_seconds": 30},
                                headers=operator)).status_code == 403
    assert (await fx_client.get(api(fx_shop, "/reports/settings"), headers=operator)).status_code == 403
    assert (await fx_client.get(api(fx_shop, "/reports/settings"), headers=supervisor)).status_code == 200

    ok = await _settings(fx_client, fx_shop, service_level_formula="abandoned_after", service_level_seconds=30,
                         short_abandon_seconds=8)
    assert ok.status_code == 200 and ok.json()["service_level_seconds"] == 30
    assert ok.json()["formula"] == "answered within T ÷ (answered + abandoned after T)"
    async with tenant_context(fx_shop.tenant):
        entry = await current_uow().connection.fetchrow(
            "SELECT actor, detail FROM audit_entry WHERE action = 'report_settings.updated' ORDER BY id DESC LIMIT 1")
    assert entry is not None and "API key" in entry["actor"]

    # The page: an admin saves through the form; a bad value is shown with its field, nothing saved.
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/service-level/", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'value="abandoned_after" checked' in page.text
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/settings/service-level/")
    saved = await fx_client.post(f"/t/{fx_shop.slug}/settings/service-level/", headers={"accept": "text/html"},
                                 data={"_csrf": token, "service_level_formula": "within_offered",
                                       "service_level_seconds": "15", "short_abandon_seconds": "4"})
    assert saved.status_code == 200 and 'data-testid="notice"' in saved.text
    refused = await fx_client.post(f"/t/{fx_shop.slug}/settings/service-level/", headers={"accept": "text/html"},
                                   data={"_csrf": token, "service_level_formula": "within_offered",
                                         "service_level_seconds": "soon", "short_abandon_seconds": "4"})
    assert refused.status_code == 400 and "service_level_seconds" in refused.text
    after = (await fx_client.get(api(fx_shop, "/reports/settings"), headers=fx_shop.auth)).json()
    assert (after["service_level_formula"], after["service_level_seconds"], after["short_abandon_seconds"]) == (
        "within_offered", 15, 4)


async def test_another_shop_sees_nothing(fx_client: Any, fx_shop: ShopFixture) -> None:
    general, _ = await _day(fx_client, fx_shop)
    other = await make_shop("b")
    report = await fx_client.get(api(other, "/reports/queues"), params={"from": DAY, "to": DAY},
                                 headers=other.auth)
    assert report.status_code == 200 and report.json()["rows"] == [] and report.json()["totals"]["offered"] == 0
    drill = await fx_client.get(api(other, "/reports/queues/drill"), headers=other.auth, params={
        "from": DAY, "to": DAY, "row": str(general), "column": "offered"})
    assert drill.status_code == 200 and drill.json()["rows"] == []
    # Shop A's data with shop B's key: 401/403/404, never A's numbers
    for path in ("/reports/queues", "/reports/queues/drill", "/reports/settings"):
        resp = await fx_client.get(api(fx_shop, path), params={"from": DAY, "to": DAY, "row": "all",
                                                               "column": "offered"}, headers=other.auth)
        assert resp.status_code in (401, 403, 404), (path, resp.status_code)
    put = await fx_client.put(api(fx_shop, "/reports/settings"), json={"service_level_seconds": 99},
                              headers=other.auth)
    assert put.status_code in (401, 403, 404)
    async with tenant_context(other.tenant):
        assert (await queues.service_today())["offered"] == 0
    mine = (await fx_client.get(api(fx_shop, "/reports/settings"), headers=fx_shop.auth)).json()
    assert mine["service_level_seconds"] == 20



async def test_the_demo_writes_its_service_level_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    assert await ensure_demo_service_level(fx_shop.slug) is True
    assert await ensure_demo_service_level(fx_shop.slug) is False  # once: an admin's later choice is kept
    read = (await fx_client.get(api(fx_shop, "/reports/settings"), headers=fx_shop.auth)).json()
    assert (read["service_level_formula"], read["service_level_seconds"], read["short_abandon_seconds"]) == (
        "offered_minus_short", 20, 5)
    async with tenant_context(fx_shop.tenant):
        assert await current_uow().connection.fetchval(
            "SELECT count(*) FROM audit_entry WHERE action = 'report_settings.updated'") == 1


async def test_the_live_path_a_taken_sms_counts_today(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Through the product and the worker: a conversation queued and taken is offered and answered today."""
    taken = (await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms"}, headers=fx_shop.auth)).json()
    assert (await fx_client.post(api(fx_shop, f"/conversations/{taken['id']}/take"),
                                 headers=fx_shop.auth)).status_code == 200

    async def counted() -> bool:
        async with tenant_context(fx_shop.tenant):
            return (await queues.service_today())["answered"] == 1

    await run_jobs_until(counted, timeout=20)
    async with tenant_context(fx_shop.tenant):
        today = await queues.service_today()
    assert (today["offered"], today["answered"], today["abandoned"]) == (1, 1, 0)
    assert today["service_level"] == 1.0 and today["longest_wait_seconds"] <= 20
    report = (await fx_client.get(api(fx_shop, "/reports/queues"), headers=fx_shop.auth)).json()
    assert report["totals"]["offered"] == 1 and report["totals"]["answered"] == 1


async def test_the_page_shows_formula_groups_and_drill_links(fx_client: Any, fx_shop: ShopFixture) -> None:
    general, _ = await _day(fx_client, fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/reports/queues", params={"from": DAY, "to": DAY, "bucket": "hour"},
                               headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    assert 'title="answered within T ÷ (offered - short abandons)"' in page.text
    assert '<option value="channel"' in page.text and '<option value="hour" selected' in page.text
    # the row key is URL-encoded in the link (a tag key may hold & or #): 1@2026-10-25T03:00
    assert f"row={general}%402026-10-25T03%3A00&column=offered" in page.text
    drill = await fx_client.get(f"/t/{fx_shop.slug}/reports/queues/drill", headers={"accept": "text/html"}, params={
        "from": DAY, "to": DAY, "bucket": "hour", "row": f"{general}@2026-10-25T03:00", "column": "offered"})
    assert drill.status_code == 200 and drill.text.count('data-testid="drill-row"') == 2
    assert "/workspace/" in drill.text
    settings = await fx_client.get(f"/t/{fx_shop.slug}/settings/service-level/", headers={"accept": "text/html"})
    assert 'data-testid="nav-service-level"' in settings.text


async def test_the_demo_shop_has_queue_figures(fx_client: Any) -> None:
    """`make run`'s demo shop: its history is projected into queue visits, so the report opens with numbers."""
    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        zone = (await workspace_zone()).key
        today = kit.period(None, None, zone).last
        report = await queues.build(kit.period((today - dt.timedelta(days=60)).isoformat(), today.isoformat(), zone),
                                    {})
    assert report.totals["offered"] > 0 and report.totals["answered"] > 0
    assert report.totals["service_level"] is not None and report.rows
