"""Per-socket send coalescing (realtime.hub `Connection.pump`): while the writer is busy, what queues up goes out
as ONE frame carrying every message in position order; an idle socket gets each message as its own frame; what
replay already sent is never sent again; a kick still ends the socket after what was queued before it."""

from __future__ import annotations

import asyncio

from app.lib.db import TenantRef
from realtime.events import Position
from realtime.hub import CLOSE_TOO_SLOW, Connection, JoinMemo
from realtime.render import marker
from tests.servers import parse_frame, split_messages


def _conn(send: object) -> Connection:
    viewer = type("V", (), {"user_id": 1, "role": "operator", "language": "", "timezone": ""})()
    return Connection(TenantRef(1, "shop", "t_shop"), viewer, send, counts_presence=False, topics=["queue"])  # type: ignore[arg-type]


def _message(n: int) -> str:
    return f'<div id="queue-item-{n}" hx-swap-oob="true">item {n}</div>' + marker(Position(1, n))


async def test_busy_writer_gets_one_frame_with_every_message_in_order() -> None:
    sent: list[str] = []
    gate = asyncio.Event()

    async def send(text: str) -> None:
        sent.append(text)
        if len(sent) == 1:
            await gate.wait()  # the first write is slow: everything after it queues up

    conn = _conn(send)
    pump = asyncio.create_task(conn.pump())
    conn.offer(Position(1, 1), _message(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    for n in range(2, 7):
        conn.offer(Position(1, n), _message(n))
    gate.set()
    await asyncio.sleep(0.05)
    assert len(sent) == 2  # the first alone, then the five that queued behind it in one frame
    assert sent[0] == _message(1)
    parts = split_messages(sent[1])
    assert parts == [_message(n) for n in range(2, 7)]
    assert [parse_frame(p).event_id for p in parts] == [Position(1, n) for n in range(2, 7)]
    assert parse_frame(sent[1][sent[1].rfind('<div id="sb-last-event"'):]).event_id == Position(1, 6)
    assert (conn.frames_sent, conn.messages_sent, conn.last_sent) == (2, 6, Position(1, 6))

    conn.offer(Position(1, 7), _message(7))  # idle again: at once, alone
    await asyncio.sleep(0.01)
    assert sent[2] == _message(7)
    conn.kick(CLOSE_TOO_SLOW)
    assert await asyncio.wait_for(pump, 1) == CLOSE_TOO_SLOW


async def test_coalesced_frame_skips_what_replay_sent_and_stops_at_a_kick() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    conn = _conn(send)
    conn.last_sent = Position(1, 3)  # replay went up to 3
    for n in range(1, 6):
        conn.offer(Position(1, n), _message(n))
    conn.kick(CLOSE_TOO_SLOW)
    conn.offer(Position(1, 9), _message(9))  # after the kick: dropped
    assert await asyncio.wait_for(conn.pump(), 1) == CLOSE_TOO_SLOW
    assert sent == [_message(4) + _message(5)]


async def test_sockets_caught_up_alike_share_one_frame_and_a_lagging_one_still_gets_all_in_order() -> None:
    """The sockets of one audience queue the same message objects: their frames are one string, joined once. A
    socket whose writer is slow coalesces on its own and still gets every message once, in order."""
    sent: dict[str, list[str]] = {"a": [], "b": [], "slow": []}
    gate = asyncio.Event()

    def sender(name: str) -> object:
        async def send(text: str) -> None:
            sent[name].append(text)
            if name == "slow" and len(sent[name]) == 1:
                await gate.wait()

        return send

    conns = {name: _conn(sender(name)) for name in sent}
    messages = [_message(n) for n in range(1, 9)]
    for n in range(4):  # queued before the writers run: each socket's first frame joins these four
        for conn in conns.values():
            conn.offer(Position(1, n + 1), messages[n])
    pumps = [asyncio.create_task(c.pump()) for c in conns.values()]
    await asyncio.sleep(0.01)
    for n in range(4, 8):
        for conn in conns.values():
            conn.offer(Position(1, n + 1), messages[n])
        await asyncio.sleep(0.01)
    gate.set()
    await asyncio.sleep(0.05)
    assert sent["a"][0] is sent["b"][0]  # the same object: joined once for both
    assert sent["a"] == sent["b"] == ["".join(messages[:4]), *messages[4:]]
    assert sent["slow"] == ["".join(messages[:4]), "".join(messages[4:])]  # its own coalescing, all, in order
    for conn in conns.values():
        conn.kick(CLOSE_TOO_SLOW)
    await asyncio.gather(*pumps)


def test_the_join_memo_gives_one_string_per_list_of_the_same_messages_and_forgets_the_oldest() -> None:
    memo = JoinMemo(budget=2_000)
    a, b = "a" * 100, "b" * 100
    first = memo.join([a, b])
    assert first == a + b and memo.join([a, b]) is first  # another socket, the same messages: the same string
    assert memo.join([b, a]) == b + a
    for n in range(30):
        memo.join([a, f"{n:>100}"])
    assert memo.size <= 2_000
    assert memo.join([a, b]) is not first  # the oldest was forgotten: joined again


class _Direct:
    """A socket writer with `write_now` (realtime.sockets.direct_send's shape): `open` False plays a transport over
    its high-water mark; every write, direct or awaited, lands in `wire` in the order it was made."""

    def __init__(self) -> None:
        self.wire: list[tuple[str, str]] = []
        self.open = True
        self.gate = asyncio.Event()
        self.gate.set()

    def write_now(self, text: str) -> bool:
        if not self.open:
            return False
        self.wire.append(("now", text))
        return True

    async def __call__(self, text: str) -> None:
        await self.gate.wait()
        self.wire.append(("awaited", text))


async def test_an_idle_socket_is_written_at_once_without_its_writer_task() -> None:
    """A caught-up socket costs one synchronous write per message: nothing is queued, the pump never wakes. What
    replay sent already is skipped, and after a kick nothing more is written."""
    send = _Direct()
    conn = _conn(send)
    pump = asyncio.create_task(conn.pump())
    await asyncio.sleep(0)
    conn.offer(Position(1, 1), _message(1))  # no await between: written during the call
    conn.offer(Position(1, 2), _message(2))
    assert send.wire == [("now", _message(1)), ("now", _message(2))]
    assert conn.inbox.empty()
    conn.offer(Position(1, 2), _message(2))  # not again
    conn.offer_many([(Position(1, 3), _message(3)), (Position(1, 4), _message(4))])
    assert send.wire[2:] == [("now", _message(3) + _message(4))]  # a batch: one frame
    assert (conn.frames_sent, conn.messages_sent, conn.last_sent) == (3, 4, Position(1, 4))
    conn.kick(CLOSE_TOO_SLOW)
    conn.offer(Position(1, 5), _message(5))
    assert await asyncio.wait_for(pump, 1) == CLOSE_TOO_SLOW
    assert len(send.wire) == 3


async def test_a_socket_that_cannot_take_more_queues_and_order_holds() -> None:
    """When the transport is full the message is queued for the pump; until the pump has sent it, later messages
    queue behind it (never overtake it by a direct write), and once it is idle again writes are direct."""
    send = _Direct()
    conn = _conn(send)
    pump = asyncio.create_task(conn.pump())
    await asyncio.sleep(0)
    send.open = False
    send.gate.clear()  # the awaited send waits too, as uvicorn's does while the buffer drains
    conn.offer(Position(1, 1), _message(1))  # cannot write now: queued
    send.open = True
    conn.offer(Position(1, 2), _message(2))  # the pump has not sent 1 yet: 2 must queue behind it
    conn.offer_many([(Position(1, 3), _message(3)), (Position(1, 4), _message(4))])
    assert send.wire == []
    await asyncio.sleep(0.01)
    send.gate.set()
    await asyncio.sleep(0.01)
    sent = "".join(text for _, text in send.wire)
    assert [parse_frame(p).event_id for p in split_messages(sent)] == [Position(1, n) for n in range(1, 5)]
    assert all(how == "awaited" for how, _ in send.wire)
    conn.offer(Position(1, 5), _message(5))  # idle again
    assert send.wire[-1] == ("now", _message(5))
    conn.kick(CLOSE_TOO_SLOW)
    assert await asyncio.wait_for(pump, 1) == CLOSE_TOO_SLOW


async def test_a_failing_direct_write_falls_back_to_the_awaited_send() -> None:
    send = _Direct()

    def broken(text: str) -> bool:
        raise RuntimeError("transport gone")

    send.write_now = broken  # type: ignore[method-assign]
    conn = _conn(send)
    pump = asyncio.create_task(conn.pump())
    await asyncio.sleep(0)
    conn.offer(Position(1, 1), _message(1))
    await asyncio.sleep(0.01)
    assert send.wire == [("awaited", _message(1))]
    conn.kick(CLOSE_TOO_SLOW)
    assert await asyncio.wait_for(pump, 1) == CLOSE_TOO_SLOW
