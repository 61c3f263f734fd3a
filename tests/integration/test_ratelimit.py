"""Public rate limits with Redis: every process spends one allowance per tenant and key; Redis down never takes
the page down (each process falls back to counting alone)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.lib.errors import TooManyAttempts
from app.lib.ratelimit import Limiter
from tests.conftest import REDIS_URL, ShopFixture, browser_login


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


async def test_sign_in_posts_are_limited_per_address(fx_db: str, fx_shop: ShopFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTH_RATE_PER_MINUTE (the suite runs with 100000) at 3: the 4th sign-in POST a minute from one address gets
    429, even with the right password; another address still signs in, and reading the form is not counted."""
    import httpx

    from app.asgi import create_app
    from app.settings import get_settings

    monkeypatch.setenv("AUTH_RATE_PER_MINUTE", "3")
    get_settings.cache_clear()
    try:
        app = create_app()  # the limiter reads its allowance when the app is built
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")

    async with client("192.0.2.10") as guesser, client("192.0.2.20") as neighbour:
        for attempt in range(3):
            wrong = await browser_login(guesser, fx_shop.slug, f"nobody{attempt}@example.com", "wrong-password")
            assert wrong.status_code != 429, f"attempt {attempt + 1} of 3 was refused: {wrong.status_code}"
        assert (await guesser.get(f"/t/{fx_shop.slug}/login")).status_code == 200  # reading is not counted
        refused = await browser_login(guesser, fx_shop.slug, fx_shop.email, fx_shop.password)
        assert refused.status_code == 429 and "sb_session" not in refused.cookies
        allowed = await browser_login(neighbour, fx_shop.slug, fx_shop.email, fx_shop.password)
        assert allowed.status_code in (200, 303) and "sb_session" in allowed.cookies, allowed.status_code


class FakeClock:
    """Seconds as the limiter reads them; the test moves them (no sleeping)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def passed(limiter: Limiter, tenant: str, key: str, tries: int) -> int:
    ok = 0
    for _ in range(tries):
        try:
            await limiter.check(tenant, key)
        except TooManyAttempts:
            continue
        ok += 1
    return ok


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_burst_at_a_windows_edge_does_not_pass_twice_the_limit(backend: str) -> None:
    """10 a minute: 10 at 0:59 pass, 10 more at 1:01 do not (a fixed window would let all 20 through); the hits
    leave the log one minute after they came, and a refusal says how long to wait."""
    clock = FakeClock(1_000_000 * 60 + 59.0)  # 0:59 of some minute
    limiter = Limiter(10, 60.0, "slow down", name="edge", clock=clock, prefix="sbtest" + secrets.token_hex(4),
                      redis_url=REDIS_URL if backend == "redis" else "")
    assert await passed(limiter, "shop_a", "key1", 10) == 10
    clock.t += 2.0  # 1:01, the next fixed window
    assert await passed(limiter, "shop_a", "key1", 10) == 0
    with pytest.raises(TooManyAttempts) as refused:
        await limiter.check("shop_a", "key1")
    assert refused.value.extra["retry_after"] == 58  # the 0:59 hits leave the window at 1:59
    clock.t += 57.5  # 1:58.5: still inside the minute of the 0:59 hits
    assert await passed(limiter, "shop_a", "key1", 1) == 0
    clock.t += 1.0  # 1:59.5: they left
    assert await passed(limiter, "shop_a", "key1", 12) == 10
    assert await passed(limiter, "shop_b", "key1", 10) == 10  # another shop: its own allowance
    if backend == "redis":
        assert limiter._hits == {}  # counted in Redis only


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_the_tenant_limit_caps_all_its_keys_together_and_a_refusal_spends_nothing(backend: str) -> None:
    clock = FakeClock(5_000.0)
    limiter = Limiter(3, 60.0, "key limit", name="api-test", tenant_limit=5, tenant_message="tenant limit",
                      clock=clock, prefix="sbtest" + secrets.token_hex(4),
                      redis_url=REDIS_URL if backend == "redis" else "")
    assert await passed(limiter, "shop_a", "k1", 4) == 3
    assert await passed(limiter, "shop_a", "k2", 2) == 2
    with pytest.raises(TooManyAttempts, match="tenant limit"):
        await limiter.check("shop_a", "k3")
    assert await passed(limiter, "shop_b", "k1", 3) == 3  # the other shop's keys are not capped by shop_a
    clock.t += 60.0
    # The refused hits of k3 spent nothing: after a minute, k3 has its whole allowance.
    assert await passed(limiter, "shop_a", "k3", 4) == 3


@pytest.fixture
def fx_api_rates(monkeypatch: pytest.MonkeyPatch) -> Any:
    from app.settings import get_settings

    monkeypatch.setenv("API_RATE_PER_MINUTE", "3")
    monkeypatch.setenv("TENANT_API_RATE_PER_MINUTE", "5")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def second_key(shop: ShopFixture) -> str:
    from app.accounts.services import _insert_api_key
    from app.lib.db import tenant_context

    async with tenant_context(shop.tenant):
        _, key = await _insert_api_key(shop.user_id, "second")
    return key


async def test_api_keys_get_429_with_retry_after_per_key_and_per_tenant(
        fx_db: str, fx_shop: ShopFixture, fx_other_shop: ShopFixture, fx_api_rates: Any, fx_client: Any) -> None:
    """API_RATE_PER_MINUTE=3, TENANT_API_RATE_PER_MINUTE=5: the 4th call of a key in a minute gets 429 with
    Retry-After and a detail naming the limit; a second key of the shop gets 2 more; another shop is untouched."""
    other_key = await second_key(fx_shop)
    me = f"/t/{fx_shop.slug}/api/v1/me"
    for _ in range(3):
        assert (await fx_client.get(me, headers=fx_shop.auth)).status_code == 200
    refused = await fx_client.get(me, headers=fx_shop.auth)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "This API key made 3 requests in the last minute" in refused.json()["detail"]
    second = {"Authorization": f"Bearer {other_key}"}
    assert [(await fx_client.get(me, headers=second)).status_code for _ in range(2)] == [200, 200]
    refused = await fx_client.get(me, headers=second)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert "workspace's API keys made 5 requests together" in refused.json()["detail"]
    other = f"/t/{fx_other_shop.slug}/api/v1/me"
    assert (await fx_client.get(other, headers=fx_other_shop.auth)).status_code == 200
    # A browser session is not an API key: it is not limited by them.
    assert (await fx_client.get(f"/t/{fx_shop.slug}/login")).status_code == 200
