"""Web chat rules that need no database: what counts as an origin, the sliding-window limiter."""

from __future__ import annotations

import pytest

from app.chat.services import normalize_origin, session_id_of
from app.lib.errors import Invalid, TooManyAttempts
from app.lib.ratelimit import Limiter


@pytest.mark.parametrize(("raw", "origin"), [
    ("https://Shop.Example.com", "https://shop.example.com"),
    ("https://shop.example.com/", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://[::1]:3000", "http://[::1]:3000"),
])
def test_origin_normalised_as_browsers_send_it(raw: str, origin: str) -> None:
    assert normalize_origin(raw) == origin


@pytest.mark.parametrize("raw", ["shop.example.com", "ftp://shop.example.com", "https://shop.example.com/page",
                                 "https://user:pw@shop.example.com", "https://shop.example.com?x=1", "https://",
                                 "https://shop.example.com:99999"])
def test_not_an_origin(raw: str) -> None:
    with pytest.raises(Invalid):
        normalize_origin(raw)


def test_only_web_chats_have_a_session() -> None:
    assert session_id_of({"channel": "chat", "external_ref": "chat:12"}) == 12
    assert session_id_of({"channel": "chat", "external_ref": "order:12"}) is None  # a portal chat
    assert session_id_of({"channel": "sms", "external_ref": "chat:12"}) is None


async def test_limiter_window_per_key_and_per_tenant() -> None:
    limiter = Limiter(2, 60.0, "slow down", redis_url="")  # in memory, as in one process without Redis
    await limiter.check("shop_a", "1.2.3.4")
    await limiter.check("shop_a", "1.2.3.4")
    await limiter.check("shop_a", "5.6.7.8")
    await limiter.check("shop_b", "1.2.3.4")  # the same visitor on another shop has its own allowance
    with pytest.raises(TooManyAttempts, match="slow down"):
        await limiter.check("shop_a", "1.2.3.4")
    await limiter.check("shop_b", "1.2.3.4")
