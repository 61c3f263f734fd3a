"""Outbound webhook rules that need no database: which addresses are refused, the retry schedule, Retry-After,
the signature (checked against the standardwebhooks package), and the fan-out's subscription."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook

from app import domains  # noqa: F401  (every domain declares its events, as the app does)
from app.webhooks_out import jobs as sender
from app.webhooks_out import net, signing
from app.webhooks_out.domain import LISTENER
from app.webhooks_out.services import catalogue, new_secret
from realtime.events import CATALOGUE


@pytest.mark.parametrize(("address", "why"), [
    ("10.0.0.1", "private"), ("10.255.255.254", "private"), ("172.16.5.4", "private"), ("192.168.0.1", "private"),
    ("127.0.0.1", "loopback"), ("127.1.2.3", "loopback"), ("169.254.169.254", "link-local"),
    ("224.0.0.251", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "private"),  # noqa: S104
    ("100.64.0.1", "reserved"), ("192.0.2.1", "private"), ("::1", "loopback"), ("::", "unspecified"),
    ("fe80::1", "link-local"), ("fd12:3456::1", "private"), ("ff02::1", "multicast"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.1.1", "link-local"),
    ("64:ff9b::a00:1", "embeds"), ("2002:a00:1::1", "embeds"),
])
def test_special_addresses_are_refused(address: str, why: str) -> None:
    reason = net.refusal(ipaddress.ip_address(address), allow_loopback=False)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert net.refusal(ipaddress.ip_address(address), allow_loopback=False) is None


def test_the_loopback_setting_lets_only_the_two_loopback_addresses_through() -> None:
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert net.refusal(ipaddress.ip_address(address), allow_loopback=True) is None
    for address in ("127.0.0.2", "10.0.0.1", "169.254.169.254", "0.0.0.0"):  # noqa: S104
        assert net.refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


async def test_a_name_is_refused_when_any_of_its_addresses_is(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return {"ok.example": ["93.184.215.14"], "split.example": ["93.184.215.14", "10.0.0.7"]}[host]

    monkeypatch.setattr(net, "getaddrinfo", resolve)
    target = await net.check("https://ok.example/hooks?x=1")
    assert (target.address, target.port, target.host_header) == ("93.184.215.14", 443, "ok.example")
    assert target.pinned_url() == "https://93.184.215.14:443/hooks?x=1"
    with pytest.raises(net.Refused, match=r"10\.0\.0\.7"):
        await net.check("http://split.example/")
    six = await net.check("http://[2606:4700:4700::1111]:8080/h")
    assert six.pinned_url() == "http://[2606:4700:4700::1111]:8080/h" and six.host_header == "[2606:4700:4700::1111]:8080"


def test_the_retry_schedule_lasts_about_a_day_with_jitter() -> None:
    assert len(sender.SCHEDULE) == 7  # 8 attempts in all
    total = sum(sender.SCHEDULE)
    assert dt.timedelta(hours=24) <= dt.timedelta(seconds=total) <= dt.timedelta(hours=30)
    rng = random.Random(7)
    delays = [sender.retry_delay(step, rng=rng) for step in range(len(sender.SCHEDULE))]
    for delay, base in zip(delays, sender.SCHEDULE, strict=True):
        assert delay is not None and base * (1 - sender.JITTER) <= delay <= base * (1 + sender.JITTER)
    assert len({round(d or 0, 3) / b for d, b in zip(delays, sender.SCHEDULE, strict=True)}) > 1  # jittered
    assert sender.retry_delay(len(sender.SCHEDULE)) is None


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_capped() -> None:
    assert sender.parse_retry_after("120") == 120.0
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    assert 80 <= (sender.parse_retry_after(format_datetime(when, usegmt=True)) or 0) <= 91
    assert sender.parse_retry_after("soon") is None and sender.parse_retry_after(None) is None
    assert sender.retry_delay(0, 42.0) == 42.0
    assert sender.retry_delay(0, 10 * 24 * 3600.0) == sender.RETRY_AFTER_CAP
    assert sender.retry_delay(len(sender.SCHEDULE), 5.0) is None  # the schedule is over: no more tries


def test_answers_that_are_retried() -> None:
    assert sender.Outcome(code=500).retryable and sender.Outcome(code=429).retryable
    assert sender.Outcome(error="timed out after 10 s").retryable
    assert not sender.Outcome(code=410).retryable and not sender.Outcome(code=400).retryable
    assert not sender.Outcome(code=307).retryable and not sender.Outcome(error="refused: 10.0.0.1").retryable
    assert sender.Outcome(code=204).ok and not sender.Outcome(code=304).ok


def test_signatures_verify_with_the_standardwebhooks_package_for_each_secret() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_") and len(signing.key_of(one)) == 32 and one != two
    body = '{"type":"contact.created","timestamp":"2026-12-01T00:00:00Z","data":{"contact_id":1}}'
    stamp = int(dt.datetime.now(dt.UTC).timestamp())
    headers = signing.headers("msg_abc", stamp, body, [one, two])
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (one, two):
        assert Webhook(secret).verify(body, headers)["data"] == {"contact_id": 1}
    assert Webhook(one).sign("msg_abc", dt.datetime.fromtimestamp(stamp, dt.UTC), body) == signing.sign(
        "msg_abc", stamp, body, one)


def test_the_fan_out_subscribes_to_every_lasting_event_of_the_catalogue() -> None:
    lasting = {name for name, t in CATALOGUE.items() if not t.ephemeral}
    assert set(catalogue()) == lasting == set(LISTENER.events)
    assert "webhook.endpoint_disabled" in lasting and "contact.created" in lasting


def test_loopback_targets_are_for_development_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import SettingsError, load_settings

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    assert load_settings().app.webhook_allow_loopback is True  # dev (as tests/conftest.py sets it)
    monkeypatch.setenv("SWITCHBOARD_ENV", "prod")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1:5432/x")
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOW_LOOPBACK"):
        load_settings()
    monkeypatch.delenv("WEBHOOK_ALLOW_LOOPBACK")
    assert load_settings().app.webhook_allow_loopback is False
