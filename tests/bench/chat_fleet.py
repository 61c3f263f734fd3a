"""Visitors and operators of bench_chat driven from their own process(es), so the server's CPU is not shared with the
clients' in one event loop (`python -m tests.bench.chat_fleet`, one JSON command per line on stdin, one JSON answer
per line on stdout). Lean on purpose: uvloop, websockets for the sockets (permessage-deflate as a browser), aiohttp
for the operators' replies.

Commands: {"op": "connect", ...} (the base URLs, the API key, this process's operators and chats) opens the
operators' consoles and the visitors' widgets; {"op": "alone", "rounds": n} runs n rounds of the first chat with
nothing else going on; {"op": "run", "rounds": n, "think_ms": t} runs every chat of this process at once, each round
after a random pause of up to t ms; {"op": "close"} closes all and exits. `alone` and `run` answer with the samples
(ms) of each leg, the errors and the rounds lost, and this process's CPU seconds during the command.

A round: the visitor sends `{"send": ..., "ref": ...}` over its widget socket and waits for "sent"; when the message
shows up in the assigned operator's console, the operator answers through the API; the round ends when the answer
arrives in the visitor's widget socket. Timed from just before the visitor's send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import sys
import time
from typing import Any

MARK_RE = re.compile(r"bm[0-9a-f]{12}")


def cpu() -> float:
    t = os.times()
    return t.user + t.system


class Fleet:
    def __init__(self) -> None:
        self.seen_op: dict[str, float] = {}
        self.seen_visitor: dict[str, float] = {}
        self.waiters: dict[int, dict[str, asyncio.Event]] = {id(self.seen_op): {}, id(self.seen_visitor): {}}
        self.acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.consoles: list[Any] = []
        self.chats: list[dict[str, Any]] = []
        self.listeners: list[asyncio.Task[None]] = []
        self.http: Any = None

    def note(self, store: dict[str, float], text: str) -> None:
        t = time.perf_counter()
        for mark in MARK_RE.findall(text):
            if mark not in store:
                store[mark] = t
                ev = self.waiters[id(store)].pop(mark, None)
                if ev is not None:
                    ev.set()

    async def listen_console(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                self.note(self.seen_op, frame if isinstance(frame, str) else frame.decode())

    async def listen_widget(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                text = frame if isinstance(frame, str) else frame.decode()
                if text.startswith('{"type":"sent"') or text.startswith('{"type":"error"'):
                    msg = json.loads(text)
                    fut = self.acks.pop(str(msg.get("ref")), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                else:
                    self.note(self.seen_visitor, text)

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        import aiohttp
        import websockets

        self.cmd = cmd
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                          connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=2.0))
        ws_base, slug, site = cmd["ws_base"], cmd["slug"], cmd["site"]
        for token in cmd["operator_tokens"]:
            ws = await websockets.connect(f"{ws_base}/t/{slug}/ws?last_id=", origin=cmd["base"],
                                          additional_headers={"Cookie": f"sb_session={token}"}, open_timeout=60,
                                          ping_interval=None, max_size=2**24)
            self.consoles.append(ws)
        for chat in cmd["chats"]:
            ws = await websockets.connect(f"{ws_base}/t/{slug}/chat/ws", origin=site,
                                          subprotocols=["sb-chat", chat["token"]],
                                          open_timeout=60, ping_interval=None, max_size=2**22)
            json.loads(await ws.recv())  # the first sync
            self.chats.append({**chat, "ws": ws})
        self.listeners = [asyncio.create_task(self.listen_console(ws)) for ws in self.consoles]
        self.listeners += [asyncio.create_task(self.listen_widget(c["ws"])) for c in self.chats]
        return {"consoles": len(self.consoles), "chats": len(self.chats)}

    async def wait_mark(self, mark: str, store: dict[str, float], wait: float = 30) -> float | None:
        if mark in store:
            return store[mark]
        ev = self.waiters[id(store)].setdefault(mark, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), wait)
        return store.get(mark)

    async def converse(self, chat: dict[str, Any], n_rounds: int, pause: float, out: dict[str, Any]) -> None:
        api, auth = self.cmd["api"], {"Authorization": f"Bearer {self.cmd['api_key']}"}
        await asyncio.sleep(random.random() * pause)
        out["spans"].append(span := [time.monotonic(), 0.0])  # this chat's first send .. its last answer
        for _ in range(n_rounds):
            ask, answer = f"bm{secrets.token_hex(6)}", f"bm{secrets.token_hex(6)}"
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.acks[ask] = fut
            t0 = time.perf_counter()
            if self.cmd.get("via_post"):  # the per-message path: one unit of work per request
                self.acks.pop(ask, None)
                async with self.http.post(f"{self.cmd['base']}/t/{self.cmd['slug']}/chat/messages",
                                          json={"body": f"question {ask}"},
                                          headers={"Origin": self.cmd["site"], "X-Chat-Token": chat["token"]}) as r:
                    ack = {"type": "sent" if r.status == 201 else "error", "status_code": r.status}
                    await r.read()
            else:
                await chat["ws"].send(json.dumps({"send": f"question {ask}", "ref": ask}))
                try:
                    ack = await asyncio.wait_for(fut, 30)
                except TimeoutError:
                    out["lost"] += 1
                    continue
            if ack["type"] != "sent":
                out["errors"] += 1
                kind = f"visitor {ack.get('status_code', '?')}"
                out["kinds"][kind] = out["kinds"].get(kind, 0) + 1
                continue
            out["ack"].append((time.perf_counter() - t0) * 1000)
            t1 = await self.wait_mark(ask, self.seen_op)
            if t1 is None:
                out["lost"] += 1
                continue
            t2 = time.perf_counter()
            async with self.http.post(f"{api}/conversations/{chat['conversation_id']}/chat",
                                      json={"body": f"answer {answer}"}, headers=auth) as r:
                status = r.status
                await r.read()
            if status != 201:
                out["errors"] += 1
                out["kinds"][f"reply {status}"] = out["kinds"].get(f"reply {status}", 0) + 1
                continue
            t3 = await self.wait_mark(answer, self.seen_visitor)
            if t3 is None:
                out["lost"] += 1
                continue
            out["round"].append((t3 - t0) * 1000)
            out["ends"].append(time.monotonic() - (time.perf_counter() - t3))  # when it ended, on the shared clock
            out["leg1"].append((t1 - t0) * 1000)
            out["leg2"].append((t3 - t2) * 1000)
            await asyncio.sleep(random.random() * pause)
        span[1] = time.monotonic()

    async def run(self, chats: list[dict[str, Any]], rounds: int, think_ms: int) -> dict[str, Any]:
        out: dict[str, Any] = {"round": [], "ack": [], "leg1": [], "leg2": [], "lost": 0, "errors": 0, "kinds": {},
                               "ends": [], "spans": []}
        c0, t0 = cpu(), time.perf_counter()
        await asyncio.gather(*(self.converse(c, rounds, think_ms / 1000, out) for c in chats))
        out["cpu"] = cpu() - c0
        out["elapsed"] = time.perf_counter() - t0
        return out

    async def close(self) -> None:
        for task in self.listeners:
            task.cancel()
        for ws in self.consoles + [c["ws"] for c in self.chats]:
            with contextlib.suppress(Exception):
                await ws.close()
        if self.http is not None:
            await self.http.close()


async def serve() -> None:
    fleet = Fleet()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "connect":
                answer(await fleet.connect(cmd))
            elif op == "alone":
                answer(await fleet.run(fleet.chats[:1], cmd["rounds"], 0))
            elif op == "run":
                answer(await fleet.run(fleet.chats, cmd["rounds"], cmd["think_ms"]))
            elif op == "close":
                await fleet.close()
                answer({"closed": True})
                return
        except Exception as exc:  # told to the bench, which fails the figure
            answer({"error": repr(exc)})


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(serve())
