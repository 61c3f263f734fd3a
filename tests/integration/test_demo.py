"""The demo `switchboard run` sets up: the shop, its simulated Twilio line, and its web chat on the simulator's
/shop page (another origin, like a real shop website)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from markupsafe import escape

from app import demo
from app.chat.tables import ChatSettings
from app.lib.db import resolve_active, tenant_context
from telephony.simulator.resources import mp3
from telephony.simulator.serve import build
from telephony.tables import OperatorDevice, TwilioConfig
from tenants import services as tenants
from tests.conftest import browser_login, unique_slug

SIM_ORIGIN = "http://127.0.0.1:8010"


async def test_demo_shop_chat_runs_on_the_simulated_shop_site(fx_client: Any) -> None:
    await demo.ensure_demo()
    assert await demo.ensure_demo_telephony() is True
    assert await demo.ensure_demo_telephony() is False
    assert await demo.ensure_demo_chat(SIM_ORIGIN) is True
    assert await demo.ensure_demo_chat("https://other.example") is False  # once: later admin changes are kept
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        line = await TwilioConfig.select(TwilioConfig.numbers).output(load_json=True).first()
        assert line["numbers"] == [demo.DEMO_NUMBER] and await OperatorDevice.count() == len(demo.DEMO_DEVICES) == 4
        row = await ChatSettings.select(ChatSettings.allowed_origins).output(load_json=True).first()
    assert row["allowed_origins"] == [SIM_ORIGIN]

    # The site's visitor opens a chat: allowed from the simulator's origin, refused from any other.
    ok = await fx_client.post("/t/demo/chat/sessions", json={}, headers={"Origin": SIM_ORIGIN})
    assert ok.status_code == 201, ok.text
    other = await fx_client.post("/t/demo/chat/sessions", json={}, headers={"Origin": "http://127.0.0.1:9999"})
    assert other.status_code == 403

    widget = "http://127.0.0.1:8000/t/demo/widget.js"
    _, sim_app = build(account_sid=demo.DEMO_TWILIO_SID, auth_token=demo.DEMO_TWILIO_TOKEN, number=demo.DEMO_NUMBER,
                       webhook_base="http://127.0.0.1:8000/t/demo/webhooks/twilio", shop_widget=widget)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url=SIM_ORIGIN) as sim:
        page = await sim.get("/shop")
        assert page.status_code == 200 and f'<script src="{widget}" async></script>' in page.text
        assert 'href="/shop"' in (await sim.get("/")).text


# -- the demo's past ------------------------------------------------------------------------------------------------

STORY_TABLES = ("app_user", "custom_field", "contact", "contact_phone", "contact_email", "note", "shop_order",
                "order_item", "order_payment", "order_status_change", "deal", "deal_stage_change", "conversation",
                "twilio_call", "sms_message", "email_message", "chat_session", "chat_message", "interaction",
                "agent_state", "agent_state_interval", "agent_capacity", "queue_disposition")
# Columns the clock or the machine fills in while seeding (when the row was written, a password's salt, a storage
# key): not part of "the same shop".
MACHINE_COLUMNS = {"interaction": {"created_at"}, "app_user": {"created_at", "password_hash", "last_login_at"},
                   "twilio_call": {"recording_key"}}


async def shop_dump(tenant: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every row of the demo's tables, with times as seconds before the seed's anchor (dates of deals' expected
    close as days from it) and the shop's slug written as {slug}: what two shops grown from one seed share."""
    how = await demo.seeded(tenant)
    assert how is not None
    anchor = dt.datetime.fromisoformat(how["anchor"])
    out = []
    async with tenant_context(tenant) as uow:
        for table in STORY_TABLES:
            rows = []
            for record in await uow.connection.fetch(f"SELECT * FROM {table} ORDER BY id"):
                row: dict[str, Any] = {}
                for key, value in dict(record).items():
                    if key in MACHINE_COLUMNS.get(table, ()):
                        value = bool(value)
                    elif isinstance(value, dt.datetime):
                        value = (anchor - value).total_seconds()
                    elif table == "deal" and key == "expected_close" and value is not None:
                        value = (value - anchor.date()).days
                    elif isinstance(value, str):
                        value = value.replace(tenant.slug, "{slug}")
                    row[key] = value
                rows.append(row)
            out.append((table, rows))
    return out


async def table_counts(tenant: Any) -> dict[str, int]:
    async with tenant_context(tenant) as uow:
        names = [r["table_name"] for r in await uow.connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", tenant.schema)]
        return {n: await uow.connection.fetchval(f'SELECT count(*) FROM "{n}"') for n in sorted(names)}


async def test_same_seed_grows_the_same_shop_whatever_the_day(fx_db: str) -> None:
    twins = []
    for n in range(2):
        result = await tenants.signup("Twin", unique_slug(f"twin{n}"), demo.DEMO_OWNER[0], demo.DEMO_OWNER[1],
                                      owner_name=demo.DEMO_TEAM[0][2])
        twins.append(result.tenant)
    anchor = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert await demo.seed_shop(twins[0], seed=7, anchor=anchor) is True
    assert await demo.seed_shop(twins[1], seed=7, anchor=anchor + dt.timedelta(days=3, hours=5)) is True

    first, second = await shop_dump(twins[0]), await shop_dump(twins[1])
    sizes = {table: len(rows) for table, rows in first}
    assert sizes["contact"] >= 300 and sizes["shop_order"] >= 150 and sizes["interaction"] >= 1000, sizes
    for (table, rows_a), (_, rows_b) in zip(first, second, strict=True):
        assert rows_a == rows_b, f"{table} differs between two shops of seed 7"
    # ...and relative to their own anchor, every time lies in the 90 days before it (but the snoozed conversation's
    # wake-up, which lies ahead).
    times = [v for _, rows in first for row in rows for k, v in row.items() if isinstance(v, float)
             and k != "snoozed_until"]
    assert times and min(times) >= 0 and max(times) <= 90 * 86400


async def test_a_second_run_changes_nothing(fx_db: str) -> None:
    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    before, counts = await shop_dump(tenant), await table_counts(tenant)
    assert await demo.ensure_demo() is False
    assert await demo.ensure_demo(seed=99, locale="ru_RU") is False  # other options: the seeded shop is kept
    assert await shop_dump(tenant) == before
    assert await table_counts(tenant) == counts


async def test_every_main_page_of_the_demo_shows_its_data(fx_client: Any, fx_other_shop: Any) -> None:
    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant) as uow:
        q = uow.connection
        heard = await q.fetchrow("SELECT i.contact, i.payload->>'url' AS url, c.name, t.recording_duration FROM "
                                 "interaction i JOIN contact c ON c.id = i.contact JOIN twilio_call t ON "
                                 "t.id = (i.links->>'call_id')::int WHERE i.payload->>'event' = 'recording' "
                                 "ORDER BY i.occurred_at DESC LIMIT 1")
        latest_order = await q.fetchval("SELECT number FROM shop_order ORDER BY placed_at DESC LIMIT 1")
        deal_per_stage = await q.fetch("SELECT DISTINCT ON (stage) stage, title FROM deal ORDER BY stage, position")
        stages = await q.fetchval("SELECT count(*) FROM deal_stage")
        waiting = await q.fetch("SELECT subject FROM conversation WHERE status = 'waiting'")
        mine = await q.fetchval("SELECT subject FROM conversation c JOIN app_user u ON u.id = c.assigned_to "
                                "WHERE c.status = 'active' AND u.email = $1", demo.DEMO_OPERATOR[0])
    assert heard is not None and latest_order and len(deal_per_stage) == stages and waiting and mine

    assert (await browser_login(fx_client, demo.DEMO_SLUG, *demo.DEMO_OWNER)).status_code in (200, 303)
    html = {"accept": "text/html"}

    async def page(path: str) -> str:
        r = await fx_client.get(f"/t/{demo.DEMO_SLUG}{path}", headers=html)
        assert r.status_code == 200, f"{path}: {r.status_code}"
        return r.text

    home = await page("/")
    assert all(escape(name) in home for _, _, name, _ in demo.DEMO_TEAM)
    # The owner's home: the shop's figures, and no onboarding left (the demo is a finished set-up).
    month_orders = re.search(r'data-testid="orders-month">([\d,.\s\u00a0]+)<', home)
    assert month_orders and int(re.sub(r"\D", "", month_orders.group(1))) > 0
    assert 'data-testid="checklist"' not in home and 'data-testid="open-conversations"' in home
    assert (await page("/contacts/")).count('data-testid="contact-row"') >= 20
    card = await page(f"/contacts/{heard['contact']}")
    assert escape(heard["name"]) in card and card.count('data-testid="timeline-item"') >= 2
    calls = await page(f"/contacts/{heard['contact']}/timeline?channel=call")
    assert f'src="{heard["url"]}"' in calls  # the call's recording plays on the card
    assert escape(latest_order) in await page("/orders/")
    board = await page("/deals/")
    for row in deal_per_stage:
        assert f'data-testid="stage-{row["stage"]}"' in board and escape(row["title"]) in board
    console = await page("/console/")
    assert all(escape(r["subject"]) in console for r in waiting)
    agents = await page("/settings/agents/")  # capacities per channel; one operator chose "away: training" last
    assert "Oscar Operator" in agents and 'name="chat" value="4"' in agents and 'name="chat" value="2"' in agents

    # The recording is real audio: the MP3 the Twilio simulator serves for a recording of that length.
    audio = await fx_client.get(heard["url"])
    assert audio.status_code == 200 and audio.headers["content-type"].startswith("audio/mpeg")
    assert audio.content == mp3(heard["recording_duration"])
    # ...and only to the demo shop's own people.
    async with httpx.AsyncClient(transport=fx_client._transport, base_url=str(fx_client.base_url)) as stranger:
        assert (await stranger.get(heard["url"], headers=fx_other_shop.auth)).status_code in (401, 403, 404)

    operator = httpx.AsyncClient(transport=fx_client._transport, base_url=str(fx_client.base_url))
    async with operator:
        await browser_login(operator, demo.DEMO_SLUG, *demo.DEMO_OPERATOR)
        panel = await operator.get(f"/t/{demo.DEMO_SLUG}/console/panels/mine", headers=html)
        assert panel.status_code == 200 and escape(mine) in panel.text
        assert '<option value="order_placed">Order placed</option>' in panel.text  # the queue's own codes
        operator_home = await operator.get(f"/t/{demo.DEMO_SLUG}/", headers=html)
        assert escape(mine) in operator_home.text and 'data-testid="home-business"' not in operator_home.text
