"""The contract the automation domain calls: deliver_once queues one delivery inside the caller's unit of work."""

from __future__ import annotations

import pytest

from app.lib.db import tenant_context
from app.lib.errors import Invalid
from app.webhooks_out import services
from app.webhooks_out.tables import WebhookDelivery
from tests.conftest import ShopFixture


async def test_deliver_once_queues_a_delivery(fx_shop: ShopFixture) -> None:
    secret = services.new_secret()
    async with tenant_context(fx_shop.tenant):
        delivery_id = await services.deliver_once("http://127.0.0.1:9/hook", "automation.webhook", {"a": 1},
                                                  secret=secret, causation={"rule_id": 1, "depth": 1})
    async with tenant_context(fx_shop.tenant):
        row = await WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).first()
        with pytest.raises(Invalid):
            await services.deliver_once("ftp://example.com/", "automation.webhook", {})
    assert row is not None and row["status"] == "pending" and row["endpoint"] is None
    assert row["secret"] != secret and '"data":{"a":1}' in row["body"]
