"""The webhook settings pages an admin uses: create with the events picker, the secret shown once, rotate, send a
test, the delivery log with redeliver, refusals shown on the form, the demo endpoint, and operators kept out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app import demo
from app.accounts.tables import User
from app.demo.webhooks import DEMO_WEBHOOK_URL
from app.lib.db import tenant_context
from app.webhooks_out.tables import WebhookDelivery
from tests.conftest import CSRF_RE, ShopFixture, browser_login, run_jobs_until
from tests.integration.webhooks_kit import Receiver, receiving, settled


@pytest.fixture
async def fx_receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with receiving() as served:
        yield served


async def test_an_admin_manages_an_endpoint_from_the_settings_pages(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}/settings/webhooks/"
    page = await fx_client.get(base, headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="events-picker"' in page.text and "contact.created" in page.text
    assert f'href="{base}"' in page.text  # the settings menu links to it
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]

    refused = await fx_client.post(base, data={"_csrf": token, "url": "http://169.254.169.254/x", "events": "*"},
                                   headers={"accept": "text/html"})
    assert refused.status_code == 400 and "link-local" in refused.text

    made = await fx_client.post(base, data={"_csrf": token, "url": url, "description": "ERP",
                                            "events": ["contact.created", "order.created"]},
                                headers={"accept": "text/html"})
    assert made.status_code == 201, made.text
    secret = re.search(r'data-testid="secret">.*?<code>(whsec_[^<]+)</code>', made.text, re.S)
    assert secret is not None
    endpoint_url = re.search(rf'action="({base}\d+)"', made.text).group(1)  # type: ignore[union-attr]

    rotated = await fx_client.post(endpoint_url + "/rotate", data={"_csrf": token}, headers={"accept": "text/html"})
    new = re.search(r'data-testid="secret">.*?<code>(whsec_[^<]+)</code>', rotated.text, re.S)
    assert rotated.status_code == 200 and new is not None and new.group(1) != secret.group(1)

    tested = await fx_client.post(endpoint_url + "/test", data={"_csrf": token}, headers={"accept": "text/html"})
    assert tested.status_code == 200 and "webhook.test" in tested.text
    await run_jobs_until(lambda: settled(fx_shop, 1))
    assert receiver.requests[0]["headers"]["webhook-signature"].count("v1,") == 2
    detail = await fx_client.get(endpoint_url, headers={"accept": "text/html"})
    assert 'data-status="succeeded"' in detail.text and "webhook-signature" in detail.text

    async with tenant_context(fx_shop.tenant):
        delivery_id = (await WebhookDelivery.select(WebhookDelivery.id).first())["id"]
    again = await fx_client.post(f"{endpoint_url}/deliveries/{delivery_id}/redeliver", data={"_csrf": token},
                                 headers={"accept": "text/html"})
    assert again.status_code == 200 and 'data-status="pending"' in again.text
    await run_jobs_until(lambda: settled(fx_shop, 1))
    assert len(receiver.requests) == 2

    failed_only = await fx_client.get(endpoint_url + "?status=failed", headers={"accept": "text/html"})
    assert failed_only.status_code == 200 and 'data-testid="delivery"' not in failed_only.text
    delivered = await fx_client.get(endpoint_url + "?status=succeeded", headers={"accept": "text/html"})
    assert delivered.text.count('data-testid="delivery"') == 1

    off = await fx_client.post(endpoint_url, data={"_csrf": token, "url": url, "description": "ERP",
                                                   "events": ["contact.created"]}, headers={"accept": "text/html"})
    assert off.status_code == 200 and 'data-testid="disabled"' in off.text  # the box was not ticked: turned off


async def test_the_pages_speak_the_admins_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        await User.update({User.language: "ru"}).where(User.id == fx_shop.user_id)
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/webhooks/", headers={"accept": "text/html"})
    assert "Добавить эндпоинт" in page.text and "Все события" in page.text  # noqa: RUF001


async def test_the_demo_endpoint_is_off_with_a_log(fx_client: Any, fx_shop: ShopFixture) -> None:
    assert await demo.ensure_demo_webhooks(fx_shop.slug) is True
    assert await demo.ensure_demo_webhooks(fx_shop.slug) is False  # once
    [endpoint] = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/webhooks", headers=fx_shop.auth)).json()
    assert endpoint["enabled"] is False and endpoint["url"] == DEMO_WEBHOOK_URL
    log = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/webhooks/{endpoint['id']}/deliveries",
                               headers=fx_shop.auth)).json()
    assert [d["status"] for d in log] == ["failed", "succeeded", "succeeded"]
    assert [len(d["attempt_log"]) for d in log] == [1, 3, 1]
