"""Public rate limits with Redis: every process spends one allowance per tenant and key; Redis down never takes
the page down (each process falls back to counting alone)."""

from __future__ import annotations

import secrets

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
