"""Per-process caches keyed by tenant stay bounded (a process serving 10,000 shops keeps a flat RSS) and still
answer each tenant with its own entry."""

from __future__ import annotations

from typing import Any

import pytest

from app.chat import services as chat
from app.chat.tables import ChatSettings
from app.lib.db import tenant_context
from app.lib.lru import LRU
from tests.conftest import make_shop


def test_lru_keeps_the_most_recently_used_keys() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recently used
    cache["c"] = 3
    assert len(cache) == 2 and "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.get("b", -1) == -1 and cache.pop("a") == 1 and list(cache) == ["c"]
    with pytest.raises(ValueError, match="maxsize"):
        LRU(0)


async def test_chat_settings_cache_is_bounded_and_answers_each_tenant_with_its_own(fx_db: str,
                                                                                   monkeypatch: Any) -> None:
    shops = [await make_shop("lru") for _ in range(3)]
    for shop in shops:
        async with tenant_context(shop.tenant):
            await ChatSettings.insert(ChatSettings(allowed_origins=[f"https://{shop.slug}.example"],
                                                   greeting=f"Hello from {shop.slug}"))
    cache: LRU[str, Any] = LRU(2)
    monkeypatch.setattr(chat, "_settings_cache", cache)
    for _ in range(3):
        for shop in shops:
            async with tenant_context(shop.tenant):
                got = await chat.cached_settings()
            assert got["greeting"] == f"Hello from {shop.slug}"
            assert got["allowed_origins"] == [f"https://{shop.slug}.example"]
            assert len(cache) <= 2
    first, second, third = shops
    assert first.slug not in cache and second.slug in cache and third.slug in cache
    # A cached tenant's entry is its own, and one that was forgotten is read again from its own schema.
    async with tenant_context(third.tenant):
        assert (await chat.cached_settings())["greeting"] == f"Hello from {third.slug}"
    async with tenant_context(first.tenant):
        assert (await chat.cached_settings())["greeting"] == f"Hello from {first.slug}"
    assert first.slug in cache and second.slug not in cache
