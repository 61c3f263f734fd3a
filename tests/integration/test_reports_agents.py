"""The Agent performance report (issue 18) against a hand-built day with known answers, in Europe/Sofia on
2026-10-25 (summer time ends: the day has 25 hours). The facts are written by the reports listener from the events
it consumes (the same handler the worker runs); the conversations and presence intervals are rows as the product
writes them. Asserted exactly: handled, AHT, first response median and P90, resolution, transfers, missed and
rejected offers, occupancy, utilisation; a wrap-up across midnight counts on the next day; drill-down rows sum to the
number clicked; the CSV equals the JSON; a rebuild equals the live facts; another shop sees none of it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from typing import Any

import pytest

from app.accounts.tables import User
from app.lib.db import current_uow, tenant_context
from app.reports import facts, listener, services
from realtime.events import Event
from tests.conftest import ShopFixture, make_shop, run_jobs_until

UTC = dt.UTC
DAY = "2026-10-25"
NEXT = "2026-10-26"
_ids = itertools.count(1_000_000)


def t(hms: str, day: str = DAY) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hms}+00:00")


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _user(shop: ShopFixture, name: str, role: str = "operator") -> int:
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{name.lower()}@{shop.slug}.example", name=name, role=role)).returning(
            User.id)
    return int(rows[0]["id"])


class Day:
    """A shop, its agents and a way to tell the listener what happened."""

    def __init__(self, shop: ShopFixture) -> None:
        self.shop = shop
        self.queue = 0
        self.ann = self.bob = 0

    async def setup(self) -> None:
        self.ann = await _user(self.shop, "Ann")
        self.bob = await _user(self.shop, "Bob")
        async with tenant_context(self.shop.tenant):
            conn = current_uow().connection
            await conn.execute("UPDATE workspace SET timezone = 'Europe/Sofia'")
            self.queue = await conn.fetchval("SELECT id FROM queue WHERE key = 'general'")

    async def conversation(self, channel: str, created: dt.datetime, *, taken: dt.datetime | None = None,
                           agent: int | None = None, ended: dt.datetime | None = None,
                           closed: dt.datetime | None = None, code: str = "") -> int:
        async with tenant_context(self.shop.tenant):
            return int(await current_uow().connection.fetchval(
                "INSERT INTO conversation (channel, queue, status, created_at, taken_at, ended_at, closed_at, "
                "wrapup_code, assigned_to) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                channel, self.queue, "closed" if closed else ("active" if taken else "waiting"), created, taken,
                ended, closed, code, agent))

    async def event(self, name: str, at: dt.datetime, **data: Any) -> None:
        event = Event(id=next(_ids), tx=0, name=name, tenant=self.shop.slug, at=at, data=data)
        async with tenant_context(self.shop.tenant):
            await listener.on_event(event)

    async def offer(self, conversation: int, agent: int, at: dt.datetime, status: str) -> None:
        async with tenant_context(self.shop.tenant):
            await current_uow().connection.execute(
                "INSERT INTO routing_offer (conversation, queue, \"user\", channel, status, created_at, expires_at, "
                "closed_at) VALUES ($1, $2, $3, 'call', $4, $5::timestamptz, $5::timestamptz + interval '20 seconds', "
                "$5::timestamptz + interval '20 seconds')", conversation, self.queue, agent, status, at)

    async def interval(self, agent: int, state: str, start: dt.datetime, end: dt.datetime, reason: str = "") -> None:
        async with tenant_context(self.shop.tenant):
            await current_uow().connection.execute(
                "INSERT INTO agent_state_interval (\"user\", state, reason, started_at, ended_at) "
                "VALUES ($1, $2, $3, $4, $5)", agent, state, reason, start, end)


async def build_day(shop: ShopFixture) -> Day:
    d = Day(shop)
    await d.setup()
    q = d.queue
    # C1, a call: waits 20 s, Ann takes it, 30 s on hold, the call ends, 60 s of wrap-up.
    # Ann's leg: talk 280 - 30 = 250, hold 30, wrap 60 -> handle 340. First response 20 s, resolution 360 s.
    c1 = await d.conversation("call", t("06:00:00"), taken=t("06:00:20"), agent=d.ann, ended=t("06:05:00"),
                              closed=t("06:06:00"), code="sale")
    await d.event("queue.item_added", t("06:00:00"), conversation_id=c1, queue_id=q, contact_id=0)
    await d.event("queue.item_taken", t("06:00:20"), conversation_id=c1, queue_id=q, contact_id=0, user_id=d.ann)
    await d.event("call.updated", t("06:02:00"), conversation_id=c1, call_id=1, on_hold=True)
    await d.event("call.updated", t("06:02:30"), conversation_id=c1, call_id=1, on_hold=False)
    await d.event("call.updated", t("06:05:00"), conversation_id=c1, call_id=1, on_hold=False)
    await d.event("queue.item_removed", t("06:06:00"), conversation_id=c1, queue_id=q, contact_id=0)
    # C2, a call: Ann takes it after 10 s and transfers it to Bob after 180 s; Bob talks 120 s, wraps up 30 s.
    # Ann: handle 180, one transfer. Bob: handle 150. Resolution 340 s, by Bob.
    c2 = await d.conversation("call", t("08:00:00"), taken=t("08:03:10"), agent=d.bob, ended=t("08:05:10"),
                              closed=t("08:05:40"), code="support")
    await d.offer(c2, d.ann, t("07:59:00"), "timeout")  # offers of the day: one missed, one declined (by Ann)
    await d.offer(c2, d.ann, t("07:59:30"), "rejected")
    await d.offer(c2, d.ann, t("08:00:05"), "accepted")
    await d.event("queue.item_added", t("08:00:00"), conversation_id=c2, queue_id=q, contact_id=0)
    await d.event("queue.item_taken", t("08:00:10"), conversation_id=c2, queue_id=q, contact_id=0, user_id=d.ann)
    await d.event("conversation.assigned", t("08:03:10"), conversation_id=c2, queue_id=q, contact_id=0,
                  user_id=d.bob)
    await d.event("call.updated", t("08:05:10"), conversation_id=c2, call_id=2, on_hold=False)
    await d.event("queue.item_removed", t("08:05:40"), conversation_id=c2, queue_id=q, contact_id=0)
    # C5, an SMS in the repeated hour (03:30 EET, after the clocks went back): Bob handles it 600 s.
    c5 = await d.conversation("sms", t("01:30:00"), taken=t("01:30:30"), agent=d.bob, closed=t("01:40:30"),
                              code="info")
    await d.event("queue.item_added", t("01:30:00"), conversation_id=c5, queue_id=q, contact_id=0)
    await d.event("queue.item_taken", t("01:30:30"), conversation_id=c5, queue_id=q, contact_id=0, user_id=d.bob)
    await d.event("queue.item_removed", t("01:40:30"), conversation_id=c5, queue_id=q, contact_id=0)
    # C4, a call late in the evening (23:40 local): answered in 5 s on the 25th, wrapped up at 00:02 local on the
    # 26th: the leg (talk 1075, wrap 240) counts on the 26th, its first response (5 s) on the 25th.
    c4 = await d.conversation("call", t("21:40:00"), taken=t("21:40:05"), agent=d.ann, ended=t("21:58:00"),
                              closed=t("22:02:00"), code="sale")
    await d.event("queue.item_added", t("21:40:00"), conversation_id=c4, queue_id=q, contact_id=0)
    await d.event("queue.item_taken", t("21:40:05"), conversation_id=c4, queue_id=q, contact_id=0, user_id=d.ann)
    await d.event("call.updated", t("21:58:00"), conversation_id=c4, call_id=4, on_hold=False)
    await d.event("queue.item_removed", t("22:02:00"), conversation_id=c4, queue_id=q, contact_id=0)
    # The evening before (23:59 local on the 24th): not the 25th.
    c0 = await d.conversation("sms", t("20:59:00", "2026-10-24"), taken=t("20:59:10", "2026-10-24"), agent=d.ann,
                              closed=t("20:59:50", "2026-10-24"), code="info")
    await d.event("queue.item_added", t("20:59:00", "2026-10-24"), conversation_id=c0, queue_id=q, contact_id=0)
    await d.event("queue.item_taken", t("20:59:10", "2026-10-24"), conversation_id=c0, queue_id=q, contact_id=0,
                  user_id=d.ann)
    await d.event("queue.item_removed", t("20:59:50", "2026-10-24"), conversation_id=c0, queue_id=q, contact_id=0)
    # Presence of Ann on the 25th: 7200 s available, 3600 s away at lunch, 3600 s busy: logged in 14400 s.
    await d.interval(d.ann, "available", t("05:00:00"), t("07:00:00"))
    await d.interval(d.ann, "away", t("07:00:00"), t("08:00:00"), "lunch")
    await d.interval(d.ann, "busy", t("08:00:00"), t("09:00:00"))
    await d.interval(d.ann, "offline", t("09:00:00"), t("21:00:00"))
    d.convs = {"c1": c1, "c2": c2, "c4": c4, "c5": c5, "c0": c0}  # type: ignore[attr-defined]
    return d


async def report(client: Any, shop: ShopFixture, first: str = DAY, last: str = DAY, **params: str) -> dict[str, Any]:
    query = "&".join([f"from={first}", f"to={last}"] + [f"{k}={v}" for k, v in params.items()])
    resp = await client.get(api(shop, f"/reports/agents?{query}"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def by_label(rep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["label"]: r for r in rep["rows"]}


async def test_a_day_with_holds_transfers_and_a_wrap_up_across_midnight_on_a_dst_day(fx_client: Any,
                                                                                      fx_shop: ShopFixture) -> None:
    await build_day(fx_shop)
    rep = await report(fx_client, fx_shop)
    assert rep["zone"] == "Europe/Sofia" and rep["from"] == DAY and rep["to"] == DAY
    rows = by_label(rep)
    ann, bob = rows["Ann"], rows["Bob"]
    assert ann["handled"] == 2 and ann["aht"] == 260.0  # (340 + 180) / 2
    assert bob["handled"] == 2 and bob["aht"] == 375.0  # (150 + 600) / 2
    assert ann["first_response_median"] == 10 and ann["first_response_p90"] == 20  # 5, 10, 20 (nearest rank)
    assert bob["first_response_median"] is None  # an SMS without a reply on the timeline has no first response
    assert ann["resolution_median"] == 360 and bob["resolution_median"] == 340 and bob["resolution_p90"] == 630  # 340, 630
    assert ann["transfers"] == 1 and bob["transfers"] == 0
    assert ann["missed"] == 1 and ann["rejected"] == 1
    assert ann["occupancy"] == 6.7  # 520 / (520 + 7200)
    assert ann["utilisation"] == 3.6  # 520 / 14400
    assert bob["occupancy"] is None and bob["utilisation"] is None  # no presence recorded: shown as "—"
    totals = rep["totals"]
    assert totals["handled"] == 4 and totals["aht"] == 317.5  # 1270 / 4
    assert totals["first_response_median"] == 10 and totals["first_response_p90"] == 20
    assert any("nearest-rank" in n for n in rep["notes"])
    # The wrap-up across midnight: Ann's late call counts on the 26th (local), with its wrap time.
    late = by_label(await report(fx_client, fx_shop, NEXT, NEXT))["Ann"]
    assert late["handled"] == 1 and late["aht"] == 1315.0  # talk 1075 + wrap 240
    # The evening of the 24th (local) is not the 25th, and both days together add up.
    both = await report(fx_client, fx_shop, "2026-10-24", NEXT)
    assert both["totals"]["handled"] == 6
    # Per day in the workspace's zone: the 25-hour day keeps everything of its 25 hours.
    per_day = {r["key"]: r for r in (await report(fx_client, fx_shop, "2026-10-24", NEXT, bucket="day"))["rows"]}
    assert per_day[DAY]["handled"] == 4 and per_day["2026-10-24"]["handled"] == 1 and per_day[NEXT]["handled"] == 1
    weeks = {r["key"]: r["handled"] for r in (await report(fx_client, fx_shop, "2026-10-19", NEXT, bucket="week"))["rows"]}
    assert weeks == {"2026-10-19": 5, "2026-10-26": 1}  # weeks start on Monday
    queues = await report(fx_client, fx_shop, group="queue")
    assert [(r["handled"], r["aht"], r["occupancy"]) for r in queues["rows"]] == [(4, 317.5, None)]
    assert any("per agent or per period" in n for n in queues["notes"])
    channels = {r["key"]: r["handled"] for r in (await report(fx_client, fx_shop, group="channel"))["rows"]}
    assert channels == {"call": 3, "sms": 1}


async def test_drill_down_rows_sum_to_the_number_and_csv_equals_json(fx_client: Any, fx_shop: ShopFixture) -> None:
    d = await build_day(fx_shop)
    rep = await report(fx_client, fx_shop)
    ann = by_label(rep)["Ann"]

    async def drill(row: str, column: str, fmt: str = "") -> Any:
        resp = await fx_client.get(api(fx_shop, f"/reports/agents/drill?from={DAY}&to={DAY}&row={row}&column={column}"
                                              + (f"&format={fmt}" if fmt else "")), headers=fx_shop.auth)
        assert resp.status_code == 200, resp.text
        return resp

    legs = (await drill(ann["key"], "handled")).json()["rows"]
    assert len(legs) == ann["handled"]
    assert sum(r["handle_seconds"] for r in legs) / len(legs) == ann["aht"]
    assert {r["conversation"] for r in legs} == {d.convs["c1"], d.convs["c2"]}  # type: ignore[attr-defined]
    assert all(r["href"] == f"/t/{fx_shop.slug}/workspace/{r['conversation']}" for r in legs)
    assert len((await drill(ann["key"], "transfers")).json()["rows"]) == ann["transfers"] == 1
    assert len((await drill(ann["key"], "missed")).json()["rows"]) == ann["missed"]
    responses = (await drill(ann["key"], "first_response_median")).json()["rows"]
    assert sorted(r["seconds"] for r in responses) == [5, 10, 20]
    everything = (await drill("all", "handled")).json()["rows"]
    assert len(everything) == rep["totals"]["handled"]
    drill_csv = list(csv.reader(io.StringIO((await drill(ann["key"], "handled", "csv")).text)))
    assert len(drill_csv) == 1 + len(legs)

    resp = await fx_client.get(api(fx_shop, f"/reports/agents?from={DAY}&to={DAY}&format=csv"), headers=fx_shop.auth)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert f'filename="agents_{DAY}_{DAY}.csv"' in resp.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(resp.text)))
    assert [c["key"] for c in rep["columns"]] == list(lines[0].keys())
    assert [r["label"] for r in lines[:-1]] == [r["label"] for r in rep["rows"]]
    for line, row in zip(lines[:-1], rep["rows"], strict=True):
        for col in rep["columns"]:
            value = row[col["key"]]
            expected = "" if value is None else (f"{value:.1f}" if col["kind"] == "percent" else
                                                 str(round(value)) if col["kind"] == "seconds" else str(value))
            assert line[col["key"]] == expected, (col["key"], line, row)
    assert lines[-1]["label"] == "total" and lines[-1]["handled"] == str(rep["totals"]["handled"])


async def test_a_rebuild_from_history_equals_the_live_facts(fx_client: Any, fx_shop: ShopFixture) -> None:
    d = await build_day(fx_shop)
    async with tenant_context(fx_shop.tenant):
        live = await services.snapshot()
    assert live["legs"] and live["rollups"] and live["offers"]
    seen: list[tuple[str, int, int]] = []
    result = await services.rebuild(fx_shop.tenant, lambda phase, done, total: seen.append((phase, done, total)))
    assert result.conversations == 5 and seen[-1][0] == "rollups" and seen[-1][1] == seen[-1][2]
    async with tenant_context(fx_shop.tenant):
        assert await services.snapshot() == live
    # A conversation from before the journal (no steps): its row and timeline give the same facts.
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute("DELETE FROM report_step WHERE conversation = $1",
                                               d.convs["c5"])  # type: ignore[attr-defined]
    await services.rebuild(fx_shop.tenant)
    async with tenant_context(fx_shop.tenant):
        assert await services.snapshot() == live


async def test_the_live_path_through_the_services_and_the_worker(fx_client: Any, fx_shop: ShopFixture) -> None:
    opened = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "sms", "queue": "general",
                                                                         "subject": "Hello"}, headers=fx_shop.auth)
    assert opened.status_code == 201, opened.text
    conv = opened.json()["id"]
    assert (await fx_client.post(api(fx_shop, f"/conversations/{conv}/take"),
                                 headers=fx_shop.auth)).status_code == 200
    done = await fx_client.post(api(fx_shop, f"/conversations/{conv}/wrapup"), json={"code": "info", "note": ""},
                                headers=fx_shop.auth)
    assert done.status_code == 200, done.text

    async def counted() -> bool:
        async with tenant_context(fx_shop.tenant):
            return bool(await current_uow().connection.fetchval(
                "SELECT count(*) FROM report_agent_leg WHERE conversation = $1 AND ended_at IS NOT NULL", conv))

    await run_jobs_until(counted, timeout=20)
    today = (await fx_client.get(api(fx_shop, "/reports/agents"), headers=fx_shop.auth)).json()
    assert today["totals"]["handled"] == 1
    assert by_label(today)["Owner"]["handled"] == 1
    async with tenant_context(fx_shop.tenant):
        steps = [s.kind for s in await facts.steps_of(conv)]
    assert steps == ["queued", "taken", "removed"]


async def test_another_shop_reaches_no_report_drill_or_csv_and_its_data_is_never_counted(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    await build_day(fx_shop)
    other = await make_shop("b")
    for path in (f"/reports/agents?from={DAY}&to={DAY}", f"/reports/agents?from={DAY}&to={DAY}&format=csv",
                 f"/reports/agents/drill?from={DAY}&to={DAY}&row=all&column=handled",
                 f"/reports/agents/timeline?date={DAY}", "/reports/targets"):
        resp = await fx_client.get(api(fx_shop, path), headers=other.auth)
        assert resp.status_code in (401, 403, 404), (path, resp.status_code)
        assert "Ann" not in resp.text
    mine = await report(fx_client, fx_other_shop)
    assert mine["rows"] == [] or all(r["handled"] == 0 for r in mine["rows"])
    assert mine["totals"]["handled"] == 0
    resp = await fx_client.get(api(fx_other_shop, f"/reports/agents/drill?from={DAY}&to={DAY}&row=all&column=handled"),
                               headers=fx_other_shop.auth)
    assert resp.status_code == 200 and resp.json()["rows"] == []


async def test_bad_input_gets_a_message_not_a_500(fx_client: Any, fx_shop: ShopFixture) -> None:
    for query, field in (("from=2026-13-01", "from"), ("from=2026-10-26&to=2026-10-25", "from"),
                         ("group=planet", "group"), ("bucket=year", "bucket")):
        resp = await fx_client.get(api(fx_shop, f"/reports/agents?{query}"), headers=fx_shop.auth)
        assert resp.status_code == 400, (query, resp.text)
        assert field in resp.text
    assert (await fx_client.get(api(fx_shop, "/reports/nope"), headers=fx_shop.auth)).status_code == 404
    resp = await fx_client.get(api(fx_shop, "/reports/agents/drill?row=all&column=occupancy"), headers=fx_shop.auth)
    assert resp.status_code == 400


async def test_timeline_of_a_25_hour_day_and_targets_with_gaps(fx_client: Any, fx_shop: ShopFixture) -> None:
    d = await build_day(fx_shop)
    resp = await fx_client.get(api(fx_shop, f"/reports/agents/timeline?date={DAY}"), headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["day_seconds"] == 25 * 3600
    ann = next(a for a in body["agents"] if a["label"] == "Ann")
    assert ann["seconds"] == {"available": 7200, "away": 3600, "busy": 3600, "offline": 43200}
    assert [s["reason"] for s in ann["spans"] if s["state"] == "away"] == ["lunch"]

    put = await fx_client.put(api(fx_shop, "/reports/targets"), json={"targets": [
        {"metric": "aht", "value": 300}, {"metric": "aht", "agent": d.ann, "value": 250},
        {"metric": "occupancy", "value": 50}]}, headers=fx_shop.auth)
    assert put.status_code == 200, put.text
    rows = by_label(await report(fx_client, fx_shop))
    assert rows["Ann"]["targets"]["aht"] == {"target": 250.0, "gap": -10.0}  # 260 s against 250: 10 s worse
    assert rows["Bob"]["targets"]["aht"] == {"target": 300.0, "gap": -75.0}  # the team's target
    assert rows["Ann"]["targets"]["occupancy"] == {"target": 50.0, "gap": -43.3}
    bad = await fx_client.put(api(fx_shop, "/reports/targets"), json={"targets": [{"metric": "mood", "value": 1}]},
                              headers=fx_shop.auth)
    assert bad.status_code == 400 and "mood" in bad.text
    async with tenant_context(fx_shop.tenant):
        assert await current_uow().connection.fetchval(
            "SELECT count(*) FROM audit_entry WHERE action = 'reports.targets_changed'") == 1


pytestmark = pytest.mark.xdist_group("reports")


async def test_pages_show_chart_table_formulas_drill_links_and_timeline(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login
    await build_day(fx_shop)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    home = await fx_client.get(f"/t/{fx_shop.slug}/reports/")
    assert home.status_code == 200 and f"/t/{fx_shop.slug}/reports/agents" in home.text
    page = await fx_client.get(f"/t/{fx_shop.slug}/reports/agents?from={DAY}&to={DAY}&date={DAY}")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="report-chart"' in html and "chart-4.6.1.umd.js" in html
    assert 'title="(talk + hold + wrap) ÷ handled"' in html
    assert f"/t/{fx_shop.slug}/reports/agents/drill?from={DAY}&amp;to={DAY}&row=" in html
    assert "Ann" in html and 'data-testid="timeline-row"' in html and "format=csv" in html
    assert 'data-testid="nav-reports"' in html
    drill = await fx_client.get(f"/t/{fx_shop.slug}/reports/agents/drill?from={DAY}&to={DAY}&row=all&column=handled")
    assert drill.status_code == 200 and drill.text.count('data-testid="drill-row"') == 4
    bad = await fx_client.get(f"/t/{fx_shop.slug}/reports/agents?from=soon")
    assert bad.status_code == 400 and 'data-testid="error"' in bad.text
    targets = await fx_client.get(f"/t/{fx_shop.slug}/reports/targets")
    assert targets.status_code == 200 and 'name="t:aht:team"' in targets.text


async def test_the_cli_rebuilds_one_shop_with_progress_and_the_same_facts(fx_client: Any, fx_shop: ShopFixture) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_DSN

    await build_day(fx_shop)
    async with tenant_context(fx_shop.tenant):
        live = await services.snapshot()
        for table in ("report_agent_leg", "report_rollup", "report_rollup_day"):
            await current_uow().connection.execute(f"DELETE FROM {table}")
    env = {**os.environ, "DATABASE_URL": TEST_DSN, "COLUMNS": "200", "LANGUAGE": "en"}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app.cli", "reports", "rebuild", "--tenant",
                                                    fx_shop.slug], env=env, capture_output=True, text=True,
                                   timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{fx_shop.slug}: 5 conversations" in done.stdout
    async with tenant_context(fx_shop.tenant):
        assert await services.snapshot() == live
    unknown = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app.cli", "reports", "rebuild",
                                                       "--tenant", "no_such_shop"], env=env, capture_output=True,
                                      text=True, timeout=300, check=False)
    assert unknown.returncode != 0 and "No shop no_such_shop" in unknown.stdout + unknown.stderr
