"""Outbound webhooks against a real HTTP receiver on loopback: Standard Webhooks signatures checked with an
independent implementation (the `standardwebhooks` package), retries, 429's Retry-After, 410, a day of failures,
redelivery, test sends, secret rotation, SSRF refusals and tenant isolation."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.header
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.accounts.tables import User
from app.lib.db import tenant_context
from app.settings import get_settings
from app.webhooks_out import jobs as sender
from app.webhooks_out import net, services
from app.webhooks_out.tables import WebhookDelivery, WebhookEndpoint, WebhookSecret
from tests.conftest import Inbox, ShopFixture, run_jobs_until, work_left
from tests.integration.test_orders import api, make_contact
from tests.integration.webhooks_kit import (
    Receiver,
    all_done,
    deliveries,
    receiving,
    settled,
    subscribe,
    verified,
)


@pytest.fixture
async def fx_receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with receiving() as served:
        yield served


@pytest.fixture
def fx_fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry schedule in tenths of a second (its real values are checked in tests/unit/test_webhooks_out)."""
    monkeypatch.setattr(sender, "SCHEDULE", (0.1,) * len(sender.SCHEDULE))



def to_owner(inbox: Any, shop: ShopFixture) -> list[Any]:
    """The platform's SMTP inbox also gets other tests' staff mail (a reminder due now): this shop owner's only."""
    return [m for m in inbox.messages if m["To"] == shop.email]

async def test_a_committed_event_is_delivered_signed_the_standard_webhooks_way(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    assert created["secret"].startswith("whsec_") and created["id"] == created["endpoint"]["id"]
    contact = await make_contact(fx_client, fx_shop, "Hook Hanna")
    await fx_client.patch(api(fx_shop, f"/contacts/{contact['id']}"), json={"name": "Hanna H."},
                          headers=fx_shop.auth)  # contact.updated: not subscribed

    await run_jobs_until(lambda: all_done(fx_shop, 1))
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    payload = verified(request, created["secret"])
    assert payload["type"] == "contact.created" and payload["data"]["contact_id"] == contact["id"]
    assert payload["timestamp"].endswith("Z") and isinstance(payload["id"], int)
    assert request["path"] == "/hooks" and request["headers"]["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        verified({**request, "body": request["body"].replace("contact.created", "contact.deleted")},
                 created["secret"])

    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "succeeded" and log["response_code"] == 200 and log["attempts"] == 1
    assert log["event_type"] == "contact.created" and log["event_id"] == payload["id"]
    assert log["request_body"] == request["body"] and log["latency_ms"] is not None
    assert log["request_headers"]["webhook-signature"] == request["headers"]["webhook-signature"]
    assert log["attempt_log"][0]["response_body"] == "thanks"


async def test_5xx_is_retried_with_the_same_webhook_id_until_it_succeeds(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str], fx_fast_retries: None) -> None:
    receiver, url = fx_receiver
    receiver.script = [(500, {}), (503, {})]
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Retry Rita")

    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 3
    assert [a["response_code"] for a in log["attempt_log"]] == [500, 503, 200]
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    for request in receiver.requests:  # each attempt is signed afresh (its own timestamp)
        verified(request, created["secret"])
    async with tenant_context(fx_shop.tenant):
        endpoint = await WebhookEndpoint.select().where(WebhookEndpoint.id == created["id"]).first()
    assert endpoint["enabled"] and endpoint["failing_since"] is None  # the success ended the run of failures


async def test_a_timeout_is_retried(fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str],
                                    fx_fast_retries: None, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver, url = fx_receiver
    monkeypatch.setattr(sender, "TIMEOUT", httpx.Timeout(0.3))
    receiver.script = [(200, {"x-test-delay": "2"})]  # answers after the sender gave up
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Timid Tom")
    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 2
    assert log["attempt_log"][0]["response_code"] is None and "timed out" in log["attempt_log"][0]["error"]


async def test_429_waits_as_long_as_retry_after_says(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str], fx_fast_retries: None) -> None:
    receiver, url = fx_receiver
    receiver.script = [(429, {"retry-after": "2"})]
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Slow Sam")

    await run_jobs_until(lambda: settled(fx_shop, 1), timeout=20)
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    first, second = log["attempt_log"]
    assert (first["response_code"], second["response_code"]) == (429, 200) and log["status"] == "succeeded"
    gap = dt.datetime.fromisoformat(second["attempted_at"]) - dt.datetime.fromisoformat(first["attempted_at"])
    assert gap >= dt.timedelta(seconds=2)  # not the 0.1 s of the (shortened) schedule


async def test_410_stops_disables_the_endpoint_and_emails_the_admins_in_their_language(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str], fx_inbox: Inbox) -> None:
    receiver, url = fx_receiver
    receiver.script = [(410, {})]
    async with tenant_context(fx_shop.tenant):  # the owner reads Bulgarian (their profile's choice)
        await User.update({User.language: "bg"}).where(User.id == fx_shop.user_id)
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Gone Gina")

    async def mailed() -> bool:
        return await settled(fx_shop, 1) and len(to_owner(fx_inbox, fx_shop)) == 1

    await run_jobs_until(mailed)
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "failed" and log["attempts"] == 1 and log["response_code"] == 410
    endpoint = (await fx_client.get(api(fx_shop, f"/webhooks/{created['id']}"), headers=fx_shop.auth)).json()
    assert endpoint["enabled"] is False and endpoint["disabled_reason"] == "gone"
    message = to_owner(fx_inbox, fx_shop)[0]
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert message["To"] == fx_shop.email and subject == f"Уебкуката към {url} беше изключена"  # the owner's bg
    assert f"/t/{fx_shop.slug}/settings/webhooks/{created['id']}" in message.get_payload(decode=True).decode()

    await make_contact(fx_client, fx_shop, "After Gone")

    async def all_handled() -> bool:  # the fan-out has passed the event (not merely "nothing pending yet")
        return not await work_left(fx_shop.tenant)

    await run_jobs_until(all_handled)
    assert len(receiver.requests) == 1  # a disabled endpoint gets nothing more
    assert len(await deliveries(fx_client, fx_shop, created["id"])) == 1

    back = await fx_client.patch(api(fx_shop, f"/webhooks/{created['id']}"), json={"enabled": True},
                                 headers=fx_shop.auth)  # the receiver is fixed: an admin turns it on again
    assert back.status_code == 200 and back.json()["enabled"] and back.json()["disabled_reason"] == ""
    await make_contact(fx_client, fx_shop, "Back Again")
    await run_jobs_until(lambda: settled(fx_shop, 2))
    assert len(receiver.requests) == 2 and verified(receiver.requests[1], created["secret"])["type"] == \
        "contact.created"


async def test_a_day_of_failures_disables_the_endpoint(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str], fx_inbox: Inbox) -> None:
    receiver, url = fx_receiver
    receiver.script = [(502, {})]
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    async with tenant_context(fx_shop.tenant):  # failing since yesterday
        await WebhookEndpoint.update({WebhookEndpoint.failing_since: dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
                                      }).where(WebhookEndpoint.id == created["id"])
    await make_contact(fx_client, fx_shop, "Failing Fred")

    async def mailed() -> bool:
        return await settled(fx_shop, 1) and len(to_owner(fx_inbox, fx_shop)) == 1

    await run_jobs_until(mailed)
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "failed" and log["response_code"] == 502 and log["next_attempt_at"] is None
    endpoint = (await fx_client.get(api(fx_shop, f"/webhooks/{created['id']}"), headers=fx_shop.auth)).json()
    assert endpoint["enabled"] is False and endpoint["disabled_reason"] == "failing"
    assert "turned off" in to_owner(fx_inbox, fx_shop)[0]["Subject"]


async def test_a_4xx_fails_at_once_and_redeliver_sends_it_again(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    receiver.script = [(400, {})]
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Bad Request Bob")
    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "failed" and log["attempts"] == 1 and log["error"] == "HTTP 400"

    resp = await fx_client.post(api(fx_shop, f"/webhooks/{created['id']}/deliveries/{log['id']}/redeliver"),
                                headers=fx_shop.auth)
    assert resp.status_code == 202 and resp.json()["status"] == "pending", resp.text
    again = await fx_client.post(api(fx_shop, f"/webhooks/{created['id']}/deliveries/{log['id']}/redeliver"),
                                 headers=fx_shop.auth)
    assert again.status_code == 409  # still being delivered
    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 2
    assert receiver.requests[0]["headers"]["webhook-id"] == receiver.requests[1]["headers"]["webhook-id"]
    assert verified(receiver.requests[1], created["secret"])["type"] == "contact.created"


async def test_send_test_reaches_the_receiver_signed(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    created = await subscribe(fx_client, fx_shop, url, ["order.created"])
    resp = await fx_client.post(api(fx_shop, f"/webhooks/{created['id']}/test"), headers=fx_shop.auth)
    assert resp.status_code == 202 and resp.json()["is_test"] is True, resp.text
    await run_jobs_until(lambda: settled(fx_shop, 1))
    payload = verified(receiver.requests[0], created["secret"])
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == created["id"]
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "succeeded" and log["is_test"]


async def test_rotation_signs_with_both_secrets_so_either_verifies(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    rotated = await fx_client.post(api(fx_shop, f"/webhooks/{created['id']}/rotate"), headers=fx_shop.auth)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"] != created["secret"] and new["secret"].startswith("whsec_")
    secrets = new["endpoint"]["secrets"]
    assert len(secrets) == 2 and secrets[0]["expires_at"] is None and secrets[1]["expires_at"] is not None
    current = await fx_client.get(api(fx_shop, f"/webhooks/{created['id']}/secret"), headers=fx_shop.auth)
    assert current.json()["secret"] == new["secret"]

    await make_contact(fx_client, fx_shop, "Rotating Rosa")
    await run_jobs_until(lambda: settled(fx_shop, 1))
    request = receiver.requests[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verified(request, created["secret"]) == verified(request, new["secret"])

    async with tenant_context(fx_shop.tenant):  # once the old secret has expired, only the new one signs
        await WebhookSecret.update({WebhookSecret.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
                                   ).where(WebhookSecret.expires_at.is_not_null())
    await make_contact(fx_client, fx_shop, "Rotated Ray")
    await run_jobs_until(lambda: settled(fx_shop, 2))
    last = receiver.requests[-1]
    assert len(last["headers"]["webhook-signature"].split(" ")) == 1
    verified(last, new["secret"])
    with pytest.raises(WebhookVerificationError):
        verified(last, created["secret"])


# -- SSRF ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def fx_no_loopback(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def fx_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the resolver answers from this table (other names resolve for real): the refusal logic is the app's."""
    table: dict[str, list[str]] = {}
    real = net.getaddrinfo

    async def resolve(host: str, port: int) -> list[str]:
        return table[host] if host in table else await real(host, port)

    monkeypatch.setattr(net, "getaddrinfo", resolve)
    return table


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/hook", "http://10.255.1.1:8080/x", "http://169.254.169.254/latest/meta-data",
    "http://192.168.1.10/", "http://172.16.0.1/", "http://[fe80::1]/", "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0:9/", "http://224.0.0.1/", "http://100.64.0.1/", "http://127.0.0.2:9/",
    "http://internal.example/hook", "http://meta.example/hook", "http://mixed.example/hook",
])
async def test_private_and_special_addresses_are_refused_at_creation(
        fx_client: Any, fx_shop: ShopFixture, fx_dns: dict[str, list[str]], url: str) -> None:
    fx_dns.update({"internal.example": ["10.1.2.3"], "meta.example": ["169.254.169.254"],
                   "mixed.example": ["93.184.215.14", "fd00::1"]})
    resp = await fx_client.post(api(fx_shop, "/webhooks"), json={"url": url, "events": ["*"]}, headers=fx_shop.auth)
    assert resp.status_code == 400, resp.text
    error = resp.json()["errors"][0]
    assert error["field"] == "url" and "cannot be sent to this URL" in error["message"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://localhost:9/hook",
                                 "http://[::ffff:127.0.0.1]:9/"])
async def test_loopback_is_refused_unless_the_setting_allows_it(
        fx_client: Any, fx_shop: ShopFixture, fx_no_loopback: None, url: str) -> None:
    resp = await fx_client.post(api(fx_shop, "/webhooks"), json={"url": url, "events": ["*"]}, headers=fx_shop.auth)
    assert resp.status_code == 400 and "loopback" in resp.json()["detail"], resp.text


async def test_a_name_that_turns_private_after_creation_is_refused_at_delivery(
        fx_client: Any, fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str], fx_dns: dict[str, list[str]]) -> None:
    """DNS rebinding: the name passed the check at creation, then resolves to a private address; the attempt checks
    again, connects to nothing and fails without retrying."""
    receiver, url = fx_receiver
    port = url.split(":")[2].split("/")[0]
    fx_dns["hooks.example"] = ["127.0.0.1"]
    created = await subscribe(fx_client, fx_shop, f"http://hooks.example:{port}/hooks", ["contact.created"])
    fx_dns["hooks.example"] = ["10.9.8.7"]
    await make_contact(fx_client, fx_shop, "Rebound Rob")
    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "failed" and log["attempts"] == 1 and log["response_code"] is None
    assert "10.9.8.7" in log["error"] and "private" in log["error"]
    assert receiver.requests == []

    fx_dns["hooks.example"] = ["127.0.0.1"]  # back to an allowed address: the request goes to the checked one
    redo = await fx_client.post(api(fx_shop, f"/webhooks/{created['id']}/deliveries/{log['id']}/redeliver"),
                                headers=fx_shop.auth)
    assert redo.status_code == 202
    await run_jobs_until(lambda: settled(fx_shop, 1))
    assert len(receiver.requests) == 1 and receiver.requests[0]["headers"]["host"] == f"hooks.example:{port}"


async def test_redirects_are_not_followed(fx_client: Any, fx_shop: ShopFixture,
                                          fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    receiver.script = [(307, {"location": "http://169.254.169.254/latest"})]
    created = await subscribe(fx_client, fx_shop, url, ["contact.created"])
    await make_contact(fx_client, fx_shop, "Redirect Rae")
    await run_jobs_until(lambda: settled(fx_shop, 1))
    [log] = await deliveries(fx_client, fx_shop, created["id"])
    assert log["status"] == "failed" and log["response_code"] == 307 and "not followed" in log["error"]
    assert len(receiver.requests) == 1


async def test_bad_input_gets_a_message_a_person_can_act_on(fx_client: Any, fx_shop: ShopFixture) -> None:
    for body, field in (({"url": "ftp://x.example/", "events": ["*"]}, "url"),
                        ({"url": "http://user:pw@x.example/", "events": ["*"]}, "url"),
                        ({"url": "http://x.example/", "events": ["no.such_event"]}, "events")):
        resp = await fx_client.post(api(fx_shop, "/webhooks"), json=body, headers=fx_shop.auth)
        assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == field, resp.text
    missing = await fx_client.get(api(fx_shop, "/webhooks/999999/deliveries"), headers=fx_shop.auth)
    assert missing.status_code == 404


# -- the automation contract and tenants ---------------------------------------------------------------------------

async def test_deliver_once_sends_one_signed_message(fx_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    secret = services.new_secret()
    async with tenant_context(fx_shop.tenant):
        causation = {"rule_id": 7, "depth": 1, "at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}  # kept as JSON
        delivery_id = await services.deliver_once(url, "automation.rule_fired", {"rule_id": 7, "contact_id": 1},
                                                  secret=secret, causation=causation)
    await run_jobs_until(lambda: settled(fx_shop, 1))
    payload = verified(receiver.requests[0], secret)
    assert payload["type"] == "automation.rule_fired" and payload["data"] == {"rule_id": 7, "contact_id": 1}
    async with tenant_context(fx_shop.tenant):
        row = await WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).first()
    assert row["status"] == "succeeded" and row["endpoint"] is None and row["secret"] != secret
    assert json.loads(row["causation"]) == {"rule_id": 7, "depth": 1, "at": "2026-12-01 00:00:00+00:00"}


async def test_the_fan_out_queues_one_delivery_per_endpoint_and_event_however_often_it_runs(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """A worker killed after handling an event but before moving its cursor handles it again: nothing doubles."""
    from realtime import log as event_log

    one = await subscribe(fx_client, fx_shop, "http://127.0.0.1:9/one", ["contact.created"])
    two = await subscribe(fx_client, fx_shop, "http://127.0.0.1:9/two", ["*"])
    await subscribe(fx_client, fx_shop, "http://127.0.0.1:9/other", ["order.created"])
    await make_contact(fx_client, fx_shop, "Twice Tina")
    for _ in range(500):  # until the event is final (below the log's horizon: readers see it)
        async with tenant_context(fx_shop.tenant):
            created = [e for e in await event_log.read(event_log.START) if e.name == "contact.created"]
        if created:
            break
        await asyncio.sleep(0.02)
    [event] = created
    async with tenant_context(fx_shop.tenant):
        await services.fan_out(event)
        await services.fan_out(event)
        rows = await WebhookDelivery.select(WebhookDelivery.endpoint).where(WebhookDelivery.event_id == event.id)
    assert sorted(r["endpoint"] for r in rows) == sorted([one["id"], two["id"]])


async def test_a_tenants_endpoint_never_sees_another_tenants_events(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_receiver: tuple[Receiver, str]) -> None:
    receiver, url = fx_receiver
    mine = await subscribe(fx_client, fx_shop, url, ["*"])
    await make_contact(fx_client, fx_other_shop, "Other Olga")
    await make_contact(fx_client, fx_shop, "Own Oscar")
    await run_jobs_until(lambda: all_done(fx_shop, 1))
    await run_jobs_until(lambda: all_done(fx_other_shop, 0))
    names = [verified(r, mine["secret"])["data"] for r in receiver.requests]
    async with tenant_context(fx_other_shop.tenant):
        assert await WebhookDelivery.count() == 0
    assert names and all("contact_id" in d for d in names)
    own_ids = {c["id"] for c in (await fx_client.get(api(fx_shop, "/contacts"), headers=fx_shop.auth)).json()
               ["items"]}
    assert {d["contact_id"] for d in names} <= own_ids

    for path in (f"/webhooks/{mine['id']}", f"/webhooks/{mine['id']}/deliveries", f"/webhooks/{mine['id']}/secret"):
        resp = await fx_client.get(api(fx_other_shop, path), headers=fx_other_shop.auth)
        assert resp.status_code == 404, (path, resp.text)
    assert (await fx_client.get(api(fx_other_shop, "/webhooks"), headers=fx_other_shop.auth)).json() == []
    gone = await fx_client.delete(api(fx_other_shop, f"/webhooks/{mine['id']}"), headers=fx_other_shop.auth)
    assert gone.status_code == 404
    assert (await fx_client.get(api(fx_shop, f"/webhooks/{mine['id']}"), headers=fx_shop.auth)).status_code == 200
