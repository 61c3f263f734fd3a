"""The report digest: a supervisor chooses daily or weekly (an operator may not), the job sends it through the
platform SMTP (a real aiosmtpd inbox) in the reader's language and zone with the figures of a hand-built day (from
the report builders) and an inline SVG chart, then schedules the next one; a stale job sends nothing."""

from __future__ import annotations

import datetime as dt
import email.header
import zoneinfo
from typing import Any

from app.accounts.services import create_session
from app.accounts.tables import User
from app.lib import i18n
from app.lib.db import tenant_context
from app.reports import digest, kit
from tests.conftest import ShopFixture, csrf_from
from tests.integration.test_reports_agents import Day
from tests.integration.test_reports_queues import _sofia

SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _user(shop: ShopFixture, role: str, language: str = "") -> tuple[int, str, str]:
    address = f"{role}-digest@{shop.slug.replace('_', '-')}.example"
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=address, name=f"{role.title()} Digest", role=role,
                                      language=language)).returning(User.id)
        token, _ = await create_session(rows[0]["id"])
    return rows[0]["id"], token, address


def _text(message: Any, subtype: str) -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            return str(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))
    raise AssertionError(f"no text/{subtype} part")


async def test_a_supervisor_gets_the_daily_digest_in_russian_with_the_fixtures_numbers(
    fx_client: Any, fx_shop: ShopFixture, fx_inbox: Any
) -> None:
    await _sofia(fx_client, fx_shop)
    uid, token, address = await _user(fx_shop, "supervisor", "ru")
    _, op_token, _ = await _user(fx_shop, "operator")

    fx_client.cookies.set("sb_session", op_token, path=f"/t/{fx_shop.slug}")
    csrf = {"X-CSRF-Token": await csrf_from(fx_client, f"/t/{fx_shop.slug}/profile")}
    refused = await fx_client.put(api(fx_shop, "/me/digest/"), json={"frequency": "daily"}, headers=csrf)
    assert refused.status_code == 403 and "supervisors" in refused.text
    fx_client.cookies.set("sb_session", token, path=f"/t/{fx_shop.slug}")
    csrf = {"X-CSRF-Token": await csrf_from(fx_client, f"/t/{fx_shop.slug}/profile")}
    bad = await fx_client.put(api(fx_shop, "/me/digest/"), json={"frequency": "hourly"}, headers=csrf)
    assert bad.status_code == 400 and "daily" in bad.text
    chosen = await fx_client.put(api(fx_shop, "/me/digest/"), json={"frequency": "daily"}, headers=csrf)
    assert chosen.status_code == 200, chosen.text
    next_at = dt.datetime.fromisoformat(chosen.json()["next_at"]).astimezone(SOFIA)
    assert (next_at.hour, next_at.minute) == (7, 0) and next_at - dt.datetime.now(SOFIA) <= dt.timedelta(days=1)
    assert (await fx_client.get(api(fx_shop, "/me/digest/"))).json()["frequency"] == "daily"

    # The digest due a minute ago covers yesterday in Sofia, told to the reports listener through the events it
    # consumes: 3 SMS answered after 5, 12 and 33 s, each handled 180 s by Ann; 2 calls abandoned after 4 s (a short
    # abandon) and 50 s; one more abandon the day before, not counted.
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    yesterday = due.astimezone(SOFIA).date() - dt.timedelta(days=1)
    start = dt.datetime.combine(yesterday, dt.time(9), tzinfo=SOFIA).astimezone(dt.UTC)
    day = Day(fx_shop)
    await day.setup()
    for i, wait in enumerate((5, 12, 33)):
        entered = start + dt.timedelta(minutes=10 * i)
        taken, closed = entered + dt.timedelta(seconds=wait), entered + dt.timedelta(seconds=wait + 180)
        conv = await day.conversation("sms", entered, taken=taken, agent=day.ann, closed=closed, code="info")
        ids = {"conversation_id": conv, "queue_id": day.queue, "contact_id": 0}
        await day.event("queue.item_added", entered, **ids)
        await day.event("queue.item_taken", taken, **ids, user_id=day.ann)
        await day.event("queue.item_removed", closed, **ids)
    for entered, wait in ((start + dt.timedelta(hours=1), 4), (start + dt.timedelta(hours=2), 50),
                          (start - dt.timedelta(days=1), 50)):
        conv = await day.conversation("call", entered, closed=entered + dt.timedelta(seconds=wait))
        ids = {"conversation_id": conv, "queue_id": day.queue, "contact_id": 0}
        await day.event("queue.item_added", entered, **ids)
        await day.event("queue.item_removed", entered + dt.timedelta(seconds=wait), **ids)
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute('UPDATE report_digest SET next_at = $1 WHERE "user" = $2', due, uid)

    await digest.send({"tenant": fx_shop.slug, "user_id": uid, "due": due.isoformat()})
    mine = [m for m in fx_inbox.messages if m["To"] == address]
    assert len(mine) == 1
    subject = str(email.header.make_header(email.header.decode_header(mine[0]["Subject"])))
    assert subject.startswith("Ежедневная сводка за")
    text = _text(mine[0], "plain")
    assert "Здравствуйте, Supervisor Digest" in text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    # handled, AHT (m:ss), service level (2 within 20 s ÷ (5 offered - 1 short abandon)), abandoned; no revenue
    expected = ["3", "3:00", "50,0 %", "2"]
    if "revenue" in kit.REPORTS:  # the revenue report, when installed: no orders yesterday
        with i18n.viewing("ru", "Europe/Sofia"):
            expected.append(i18n.format_money(0, "USD"))
    assert [line.split(": ", 1)[1].split(" (")[0] for line in lines] == expected
    html = _text(mine[0], "html")
    assert "<svg" in html and 'lang="ru"' in html

    async with tenant_context(fx_shop.tenant) as uow:
        row = await uow.connection.fetchrow('SELECT next_at, last_sent_at FROM report_digest WHERE "user" = $1', uid)
        queued = await uow.connection.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = $1 AND dedupe_key = $2", digest.JOB,
            f"digest:{fx_shop.slug}:{uid}:{row['next_at'].isoformat()}")
    assert row["last_sent_at"] is not None and row["next_at"].astimezone(SOFIA).hour == 7
    assert row["next_at"] > dt.datetime.now(dt.UTC) and queued == 1
    await digest.send({"tenant": fx_shop.slug, "user_id": uid, "due": due.isoformat()})  # stale: nothing
    assert len([m for m in fx_inbox.messages if m["To"] == address]) == 1

    off = await fx_client.put(api(fx_shop, "/me/digest/"), json={"frequency": "off"}, headers=csrf)
    assert off.json() == {"frequency": "off", "next_at": None}


def test_next_send_is_7_in_the_readers_zone_and_mondays_for_weekly() -> None:
    after = dt.datetime(2026, 10, 24, 5, 0, tzinfo=dt.UTC)  # Saturday 08:00 in Sofia (summer time)
    assert digest.next_send("daily", "Europe/Sofia", after) == dt.datetime(2026, 10, 25, 5, 0, tzinfo=dt.UTC)
    # The night of 25 October leaves summer time: Monday 26 at 07:00 EET is 05:00 UTC.
    assert digest.next_send("weekly", "Europe/Sofia", after) == dt.datetime(2026, 10, 26, 5, 0, tzinfo=dt.UTC)
    assert digest.next_send("daily", "Europe/Sofia", dt.datetime(2026, 10, 25, 6, 0, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 10, 26, 5, 0, tzinfo=dt.UTC)


async def test_the_profile_section_saves_the_choice_and_tells_operators_it_is_not_theirs(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    _, op_token, _ = await _user(fx_shop, "operator")
    fx_client.cookies.set("sb_session", op_token, path=f"/t/{fx_shop.slug}")
    page = await fx_client.get(f"/t/{fx_shop.slug}/profile", headers={"accept": "text/html"})
    assert f'hx-get="/t/{fx_shop.slug}/profile/digest/"' in page.text
    section = await fx_client.get(f"/t/{fx_shop.slug}/profile/digest/", headers={"accept": "text/html"})
    assert "for supervisors, admins and the owner" in section.text and "digest-frequency" not in section.text

    _, token, _ = await _user(fx_shop, "supervisor")
    fx_client.cookies.set("sb_session", token, path=f"/t/{fx_shop.slug}")
    csrf = await csrf_from(fx_client, f"/t/{fx_shop.slug}/profile")
    saved = await fx_client.post(f"/t/{fx_shop.slug}/profile/digest/", data={"frequency": "weekly", "_csrf": csrf},
                                 headers={"accept": "text/html", "HX-Request": "true"})
    assert saved.status_code == 200 and 'value="weekly" selected' in saved.text
    assert 'data-testid="digest-next"' in saved.text
    assert (await fx_client.get(api(fx_shop, "/me/digest/"))).json()["frequency"] == "weekly"
