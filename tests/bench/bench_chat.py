"""Web chat: message round trip visitor -> operator console -> visitor with 500 concurrent chats.

Set-up: one shop, BENCH_CHAT_OPERATORS operators with an open console socket each, BENCH_CHAT_SESSIONS visitors with
an open widget socket each, every chat taken by one operator. Then every chat runs BENCH_CHAT_ROUNDS rounds at once
(a random pause of up to BENCH_CHAT_THINK_MS between rounds, 20 s by default: people type; 0 measures
saturation): the visitor POSTs a message; when it shows up in the
assigned operator's console (pushed chat pane), the operator answers through the API; the round ends when the
answer arrives in the visitor's widget socket. Timed from just before the visitor's POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import time
from typing import Any

from tests.bench.harness import BenchContext, app_server, percentiles

SITE = "https://bench-shop.example"
MARK_RE = re.compile(r"bm[0-9a-f]{12}")


async def main(ctx: BenchContext) -> None:
    n_chats = ctx.env_int("BENCH_CHAT_SESSIONS", 500)
    n_ops = ctx.env_int("BENCH_CHAT_OPERATORS", 50)
    rounds = ctx.env_int("BENCH_CHAT_ROUNDS", 3)
    think_ms = ctx.env_int("BENCH_CHAT_THINK_MS", 20000)
    limits = {"CHAT_SESSIONS_PER_MINUTE": "1000000", "CHAT_MESSAGES_PER_MINUTE": "1000000",
              "CHAT_REQUESTS_PER_MINUTE": "1000000"}
    async with app_server(limits) as server:
        await run(ctx, server.base_url, n_chats, n_ops, rounds, think_ms)


async def run(ctx: BenchContext, base: str, n_chats: int, n_ops: int, rounds: int, think_ms: int) -> None:
    import httpx
    import websockets

    from app.accounts.services import create_session
    from app.accounts.tables import User
    from app.lib.db import tenant_context
    from tenants import services

    slug = f"bench_chat_{secrets.token_hex(3)}"
    shop = await services.signup("Chat bench", slug, f"owner@{slug.replace('_', '-')}.example",
                                 "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    auth = {"Authorization": f"Bearer {shop.api_key}"}
    api = f"{base}/t/{slug}/api/v1"
    ws_base = base.replace("http://", "ws://")
    ctx.section(f"{n_chats} concurrent chats, {n_ops} operators, {rounds} rounds each")
    ops: list[tuple[int, str]] = []
    async with tenant_context(shop.tenant):
        for i in range(n_ops):
            rows = await User.insert(User(email=f"op{i}@{slug.replace('_', '-')}.example", name=f"Operator {i}",
                                          role="operator")).returning(User.id)
            token, _ = await create_session(int(rows[0]["id"]))
            ops.append((int(rows[0]["id"]), token))

    # Shorter than uvicorn's 5 s keep-alive, so the client never reuses a connection the server is closing.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        resp = await client.put(f"{api}/chat/settings", json={"allowed_origins": [SITE]}, headers=auth)
        assert resp.status_code == 200, resp.text
        visitor_h = {"Origin": SITE}

        async def new_chat(i: int) -> dict[str, Any]:
            s = (await client.post(f"{base}/t/{slug}/chat/sessions", json={}, headers=visitor_h)).json()
            r = await client.post(f"{base}/t/{slug}/chat/messages", json={"body": f"hello {i}"},
                                  headers={**visitor_h, "X-Chat-Token": s["token"]})
            assert r.status_code == 201, r.text
            return {"token": s["token"], "session_id": s["session_id"]}

        t_setup = time.perf_counter()
        chats: list[dict[str, Any]] = []
        for start in range(0, n_chats, 50):
            chats += await asyncio.gather(*(new_chat(i) for i in range(start, min(n_chats, start + 50))))
        # Assign chats round-robin, as operators taking them from the queue would.
        async with tenant_context(shop.tenant) as uow:
            for n, chat in enumerate(chats):
                chat["operator"] = ops[n % n_ops][0]
                chat["conversation_id"] = await uow.connection.fetchval(
                    "UPDATE conversation c SET status = 'active', assigned_to = $1, taken_at = now() "
                    "FROM chat_session s "
                    "WHERE s.id = $2 AND c.id = s.conversation RETURNING c.id", chat["operator"], chat["session_id"])

        seen_op: dict[str, float] = {}
        seen_visitor: dict[str, float] = {}
        waiters: dict[int, dict[str, asyncio.Event]] = {id(seen_op): {}, id(seen_visitor): {}}

        def note(store: dict[str, float], text: str) -> None:
            t = time.perf_counter()
            for mark in MARK_RE.findall(text):
                if mark not in store:
                    store[mark] = t
                    ev = waiters[id(store)].pop(mark, None)
                    if ev is not None:
                        ev.set()

        async def listen(ws: Any, store: dict[str, float]) -> None:
            with contextlib.suppress(Exception):
                async for frame in ws:
                    note(store, frame if isinstance(frame, str) else frame.decode())

        consoles = []
        for _, token in ops:
            ws = await websockets.connect(f"{ws_base}/t/{slug}/ws?last_id=", origin=base,  # type: ignore[arg-type]
                                          additional_headers={"Cookie": f"sb_session={token}"}, open_timeout=30,
                                          ping_interval=None, max_size=2**24)
            consoles.append(ws)
        widgets = []
        for chat in chats:
            ws = await websockets.connect(f"{ws_base}/t/{slug}/chat/ws", origin=SITE,  # type: ignore[arg-type]
                                          subprotocols=["sb-chat", chat["token"]],  # type: ignore[list-item]
                                          open_timeout=30, ping_interval=None, max_size=2**22)
            json.loads(await ws.recv())  # the first sync
            widgets.append(ws)
        ctx.record("chats set up", len(chats), "", f"sessions, first messages, {len(consoles)} console and "
                   f"{len(widgets)} widget sockets in {time.perf_counter() - t_setup:.1f} s")
        listeners = [asyncio.create_task(listen(ws, seen_op)) for ws in consoles]
        listeners += [asyncio.create_task(listen(ws, seen_visitor)) for ws in widgets]

        round_ms: list[float] = []
        leg1_ms: list[float] = []
        leg2_ms: list[float] = []
        lost = 0

        async def wait_mark(mark: str, store: dict[str, float], wait: float = 30) -> float | None:
            if mark in store:
                return store[mark]
            ev = waiters[id(store)].setdefault(mark, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), wait)
            return store.get(mark)

        async def converse(chat: dict[str, Any], n_rounds: int | None = None) -> None:
            nonlocal lost
            await asyncio.sleep(random.random() * think_ms / 1000)
            for _ in range(rounds if n_rounds is None else n_rounds):
                ask, answer = f"bm{secrets.token_hex(6)}", f"bm{secrets.token_hex(6)}"
                t0 = time.perf_counter()
                r = await client.post(f"{base}/t/{slug}/chat/messages", json={"body": f"question {ask}"},
                                      headers={**visitor_h, "X-Chat-Token": chat["token"]})
                assert r.status_code == 201, r.text
                t1 = await wait_mark(ask, seen_op)
                if t1 is None:
                    lost += 1
                    continue
                t2 = time.perf_counter()
                r = await client.post(f"{api}/conversations/{chat['conversation_id']}/chat",
                                      json={"body": f"answer {answer}"}, headers=auth)
                assert r.status_code == 201, r.text
                t3 = await wait_mark(answer, seen_visitor)
                if t3 is None:
                    lost += 1
                    continue
                round_ms.append((t3 - t0) * 1000)
                leg1_ms.append((t1 - t0) * 1000)
                leg2_ms.append((t3 - t2) * 1000)
                await asyncio.sleep(random.random() * think_ms / 1000)

        # Baseline: one chat alone, nothing else going on.
        solo_rounds, think_saved = 10, think_ms
        think_ms = 0
        for _ in range(solo_rounds):
            await converse(chats[0], 1)
        pb = percentiles(round_ms, (50, 99))
        ctx.record("one chat alone: round trip p50 / p99", f"{pb[50]:.1f} / {pb[99]:.1f}", "ms",
                   f"{len(round_ms)} rounds, no other traffic", lost=lost)
        lost_solo, lost = lost, 0
        for samples in (round_ms, leg1_ms, leg2_ms):
            samples.clear()
        think_ms = think_saved

        t_run = time.perf_counter()
        await asyncio.gather(*(converse(c) for c in chats))
        elapsed = time.perf_counter() - t_run
        pr, p1, p2 = percentiles(round_ms, (50, 99)), percentiles(leg1_ms, (50, 99)), percentiles(leg2_ms, (50, 99))
        ctx.record("round trip visitor -> operator -> visitor p50", pr[50], "ms",
                   f"{len(round_ms)} rounds in {elapsed:.1f} s ({2 * len(round_ms) / elapsed:.0f} messages/s, "
                   f"pauses up to {think_ms / 1000:.0f} s)", lost=lost)
        ctx.record("round trip visitor -> operator -> visitor p99", pr[99], "ms", lost=lost)
        ctx.record("  visitor POST -> operator console p50 / p99", f"{p1[50]:.1f} / {p1[99]:.1f}", "ms", lost=lost)
        ctx.record("  operator reply POST -> widget p50 / p99", f"{p2[50]:.1f} / {p2[99]:.1f}", "ms", lost=lost)
        ctx.record("  rounds lost (no arrival within 30 s)", lost_solo + lost, "", lost=lost_solo + lost)
        for task in listeners:
            task.cancel()
        for ws in consoles + widgets:
            with contextlib.suppress(Exception):
                await ws.close()
