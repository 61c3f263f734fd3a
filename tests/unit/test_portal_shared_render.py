"""The portal socket renders once per event for all pages of one link, and never serves a render older than the
event a page is waiting for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.lib.db import TenantRef
from app.orders import socket as portal_socket

TENANT = TenantRef(id=1, slug="shop", schema="t_shop", name="Shop")


async def test_one_render_per_event_and_a_new_one_for_a_newer_event(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    gate = asyncio.Event()

    async def fake_render(tenant: TenantRef, token: str) -> str:
        calls.append(token)
        await gate.wait()
        return f"render {len(calls)}"

    monkeypatch.setattr(portal_socket, "render", fake_render)
    monkeypatch.setattr(portal_socket, "SHARED_RENDER", True)
    monkeypatch.setattr(portal_socket, "_renders", {})
    waiting: list[Any] = [asyncio.ensure_future(portal_socket.shared_render(TENANT, "tok", 7)) for _ in range(50)]
    waiting.append(asyncio.ensure_future(portal_socket.shared_render(TENANT, "tok", 6)))  # older event: same render
    other = asyncio.ensure_future(portal_socket.shared_render(TENANT, "other-link", 7))
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*waiting)) == {"render 1"}
    assert await other == "render 2"
    assert await portal_socket.shared_render(TENANT, "tok", 8) == "render 3"  # a newer event: a fresh render
    assert calls == ["tok", "other-link", "tok"]
