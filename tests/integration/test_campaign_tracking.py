"""Campaign tracking and results: signed open pixel and click redirect (only to the message's own link, never on
another shop), delivery from the simulator's status callbacks, a reply tagging the conversation (the console's
"Campaign:" badge), a keyword opt-out marking the recipient unsubscribed, and conversion + lift on a fixture."""

from __future__ import annotations

import secrets
from typing import Any

from app.lib.db import current_uow, tenant_context
from telephony.simulator import Simulator
from tests.conftest import ShopFixture, browser_login, run_jobs_until
from tests.integration.telephony_kit import connect, run_jobs, sim_fixture  # noqa: F401
from tests.integration.test_orders import api, make_contact, make_order


async def make_campaign(shop: ShopFixture, *, channel: str = "sms", name: str = "Spring sale",
                        conversion_days: int = 7, holdout_percent: int = 0) -> int:
    async with tenant_context(shop.tenant):
        return int(await current_uow().connection.fetchval(
            "INSERT INTO campaign (name, channel, purpose, status, holdout_percent, conversion_days, started_at) "
            "VALUES ($1, $2, 'marketing', 'sending', $3, $4, now()) RETURNING id",
            name, channel, holdout_percent, conversion_days))


async def add_recipient(shop: ShopFixture, campaign_id: int, contact_id: int, *, address: str = "",
                        holdout: bool = False, days_ago: float = 0.01, variant: str | None = "A",
                        sms_message_id: int | None = None) -> dict[str, Any]:
    token = secrets.token_hex(16)
    async with tenant_context(shop.tenant):
        row = await current_uow().connection.fetchrow(
            "INSERT INTO campaign_recipient (campaign, contact, variant, holdout, address, token, status, "
            "queued_at, sent_at, sms_message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "now() - make_interval(secs => $8 * 86400), "
            "CASE WHEN $4 THEN NULL ELSE now() - make_interval(secs => $8 * 86400) END, $9) RETURNING *",
            campaign_id, contact_id, None if holdout else variant, holdout, address, token,
            "held_out" if holdout else "sent", days_ago, sms_message_id)
    return dict(row)


async def recipient(shop: ShopFixture, recipient_id: int) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        return dict(await current_uow().connection.fetchrow("SELECT * FROM campaign_recipient WHERE id = $1",
                                                            recipient_id))


def local(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def test_open_pixel_and_click_redirect_are_signed_for_one_shop(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    from app.campaigns import tracking

    c = await make_contact(fx_client, fx_shop, name="Opener", emails=["opener@example.org"])
    campaign_id = await make_campaign(fx_shop, channel="email")
    r = await add_recipient(fx_shop, campaign_id, c["id"], address="opener@example.org")
    target = "https://shop.example/sale?utm=spring&x=1"
    async with tenant_context(fx_shop.tenant):
        pixel = local(tracking.open_pixel_url(r["token"]))
        click = local(tracking.click_url(r["token"], target))
    assert pixel.startswith(f"/t/{fx_shop.slug}/track/o/") and pixel.endswith(".gif")

    # Another shop's URL with this shop's token and signature, a changed target, a forged signature: 404, no marks.
    other_click = click.replace(f"/t/{fx_shop.slug}/", f"/t/{fx_other_shop.slug}/")
    assert (await fx_client.get(other_click)).status_code == 404
    assert (await fx_client.get(pixel.replace(f"/t/{fx_shop.slug}/", f"/t/{fx_other_shop.slug}/"))).status_code == 404
    evil = click.split("?u=")[0] + "?u=https%3A%2F%2Fevil.example%2F"
    assert (await fx_client.get(evil)).status_code == 404
    assert (await fx_client.get(pixel.replace(".gif", "0.gif"))).status_code == 404
    assert (await recipient(fx_shop, r["id"]))["opened_at"] is None

    got = await fx_client.get(pixel)
    assert got.status_code == 200 and got.headers["content-type"] == "image/gif" and got.content.startswith(b"GIF89a")
    opened_at = (await recipient(fx_shop, r["id"]))["opened_at"]
    assert opened_at is not None
    await fx_client.get(pixel)  # the first open is kept
    assert (await recipient(fx_shop, r["id"]))["opened_at"] == opened_at
    went = await fx_client.get(click)
    assert went.status_code == 302 and went.headers["location"] == target
    assert (await recipient(fx_shop, r["id"]))["clicked_at"] is not None

    res = await fx_client.get(api(fx_shop, f"/campaigns/{campaign_id}/results"), headers=fx_shop.auth)
    assert res.status_code == 200, res.text
    total = res.json()["total"]
    assert (total["sent"], total["opened"], total["clicked"], total["open_rate"], total["click_rate"]) == (
        1, 1, 1, 1.0, 1.0)
    assert (await fx_client.get(api(fx_other_shop, f"/campaigns/{campaign_id}/results"),
                                headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.get(api(fx_shop, "/campaigns/999999/results"), headers=fx_shop.auth)).status_code == 404


async def test_delivery_reply_with_console_badge_and_keyword_unsubscribe(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    line = await connect(fx_client, fx_shop, fx_sim)
    c = await make_contact(fx_client, fx_shop, name="Replier", phones=["+14155550401"])
    sent = await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/sms"), json={"body": "Spring sale: -20%"},
                                headers=fx_shop.auth)
    assert sent.status_code == 201
    campaign_id = await make_campaign(fx_shop, name="Spring sale 2026")
    r = await add_recipient(fx_shop, campaign_id, c["id"], address="+14155550401", sms_message_id=sent.json()["id"])
    await fx_sim.settle()
    await run_jobs(fx_shop)  # the simulator's status callbacks: sent, delivered

    fx_sim.send_sms("+14155550401", line.number, "Is the sale on shoes too?")
    await fx_sim.settle()
    await run_jobs(fx_shop)

    async def marked() -> bool:
        row = await recipient(fx_shop, r["id"])
        return row["status"] == "delivered" and row["replied_at"] is not None

    await run_jobs_until(marked)
    row = await recipient(fx_shop, r["id"])
    waiting = (await fx_client.get(api(fx_shop, "/conversations/waiting"), headers=fx_shop.auth)).json()
    [conv] = [w for w in waiting if w["contact_id"] == c["id"]]
    assert row["reply_conversation"] == conv["id"] and row["delivered_at"] is not None
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    queue = (await fx_client.get(f"/t/{fx_shop.slug}/console/panels/queue", headers={"accept": "text/html"})).text
    assert "Campaign: Spring sale 2026" in queue and 'data-testid="campaign-badge"' in queue

    fx_sim.send_sms("+14155550401", line.number, "STOP")
    await fx_sim.settle()
    await run_jobs(fx_shop)

    async def unsubscribed() -> bool:
        return (await recipient(fx_shop, r["id"]))["unsubscribed_at"] is not None

    await run_jobs_until(unsubscribed)
    total = (await fx_client.get(api(fx_shop, f"/campaigns/{campaign_id}/results"),
                                 headers=fx_shop.auth)).json()["total"]
    assert (total["delivered"], total["replied"], total["unsubscribed"], total["delivery_rate"]) == (1, 1, 1, 1.0)


async def test_conversions_revenue_and_lift_against_the_holdout(fx_client: Any, fx_shop: ShopFixture) -> None:
    campaign_id = await make_campaign(fx_shop, conversion_days=7, holdout_percent=50)
    treated = [await make_contact(fx_client, fx_shop, name=f"Treated {i}") for i in range(10)]
    held = [await make_contact(fx_client, fx_shop, name=f"Held {i}") for i in range(10)]
    late = await make_contact(fx_client, fx_shop, name="Too late")
    outsider = await make_contact(fx_client, fx_shop, name="Never targeted")
    recipients = {}
    for i, c in enumerate(treated):
        recipients[c["id"]] = await add_recipient(fx_shop, campaign_id, c["id"], variant="A" if i < 5 else "B",
                                                  days_ago=2)
    for c in held:
        recipients[c["id"]] = await add_recipient(fx_shop, campaign_id, c["id"], holdout=True, days_ago=2)
    old = await add_recipient(fx_shop, campaign_id, late["id"], days_ago=10)  # outside the 7-day window

    buyers = [treated[0], treated[1], treated[5], treated[6], held[0], held[1], late, outsider]
    totals = {}
    for c in buyers:
        totals[c["id"]] = (await make_order(fx_client, fx_shop, c["id"]))["total"]
    second = (await make_order(fx_client, fx_shop, treated[0]["id"]))["total"]  # two orders: revenue adds up

    async def credited() -> bool:
        async with tenant_context(fx_shop.tenant):
            return await current_uow().connection.fetchval(
                "SELECT count(*) FROM campaign_recipient WHERE campaign = $1 AND converted_at IS NOT NULL",
                campaign_id) == 6 and await current_uow().connection.fetchval(
                "SELECT revenue FROM campaign_recipient WHERE id = $1",
                recipients[treated[0]["id"]]["id"]) == totals[treated[0]["id"]] + second

    await run_jobs_until(credited)
    assert (await recipient(fx_shop, old["id"]))["converted_at"] is None
    res = (await fx_client.get(api(fx_shop, f"/campaigns/{campaign_id}/results"), headers=fx_shop.auth)).json()
    # 10 treated + the late one (sent, never converted in its window) = 11 sent; 4 converted.
    assert res["total"]["sent"] == 11 and res["total"]["converted"] == 4
    assert res["holdout"] == {"audience": 10, "converted": 2, "revenue": totals[held[0]["id"]] * 2,
                              "conversion_rate": 0.2}
    assert res["total"]["lift"] == round((4 / 11) / 0.2 - 1, 4)
    by_variant = {v["variant"]: v for v in res["variants"]}
    assert by_variant["A"]["converted"] == 2 and by_variant["A"]["sent"] == 6
    assert by_variant["B"]["converted"] == 2 and by_variant["B"]["conversion_rate"] == 0.4
    assert by_variant["B"]["lift"] == 1.0  # 40 % against the holdout's 20 %
    assert res["total"]["revenue"] == sum(totals[c["id"]] for c in buyers[:4]) + second

    # The campaign page's results section shows it, and it is the supervisors' (an operator is refused).
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/campaigns/{campaign_id}/results/", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="campaign-results"' in page.text and "+100" in page.text


async def test_the_demo_shop_shows_keywords_and_campaign_results(fx_client: Any, fx_db: str) -> None:
    from app import demo
    from app.campaigns import results
    from app.consent import services
    from app.demo import feedback
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        assert (await services.settings())["stop_words"] == feedback.STOP_WORDS
        campaign_id = await current_uow().connection.fetchval("SELECT id FROM campaign WHERE name = $1",
                                                              feedback.CAMPAIGN)
        r = await results.results(campaign_id)
    assert r["holdout"]["audience"] == 4 and r["total"]["sent"] == 12
    assert r["total"]["replied"] > 0 and r["total"]["unsubscribed"] == 1 and r["total"]["revenue"] > 0
    assert r["total"]["lift"] is not None
