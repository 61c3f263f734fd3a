"""Public rate limits with Redis: every process spends one allowance per tenant and key; Redis down never takes
the page down (each process falls back to counting alone)."""

from __future__ import annotations

import secrets

import pytest

from app.lib.errors import TooManyAttempts
from app.lib.ratelimit import Limiter
from tests.conftest import REDIS_URL


async def test_two_processes_share_one_allowance_per_tenant() -> None:
    prefix = "sbtest" + secrets.token_hex(4)
    name = "portal-pages"
    web1 = Limiter(3, 60.0, "slow down", name=name, redis_url=REDIS_URL, prefix=prefix)
    web2 = Limiter(3, 60.0, "slow down", name=name, redis_url=REDIS_URL, prefix=prefix)  # another process
    await web1.check("shop_a", "1.2.3.4")
    await web2.check("shop_a", "1.2.3.4")
    await web1.check("shop_a", "1.2.3.4")
    with pytest.raises(TooManyAttempts, match="slow down"):
        await web2.check("shop_a", "1.2.3.4")
    await web2.check("shop_b", "1.2.3.4")  # another shop: its own allowance
    await web1.check("shop_a", "9.9.9.9")  # another visitor: their own allowance
    assert web1._hits == {} and web2._hits == {}  # nothing counted in memory


async def test_unreachable_redis_falls_back_to_counting_in_this_process() -> None:
    limiter = Limiter(1, 60.0, "slow down", redis_url="redis://127.0.0.1:1/0")
    await limiter.check("shop_a", "1.2.3.4")
    with pytest.raises(TooManyAttempts):
        await limiter.check("shop_a", "1.2.3.4")
