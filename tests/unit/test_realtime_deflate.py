"""One deflate per distinct message (realtime.sockets `DeflateMemo`, used by the lean permessage-deflate of
`lean_compression`): without context takeover a message compresses to the same bytes for every socket, so the memo
gives every socket exactly what its own compressor would have produced, and forgets the oldest past its budget."""

from __future__ import annotations

import asyncio
import zlib

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from realtime.sockets import WIRE, DeflateMemo, WireFrames, direct_send, lean_compression

SETTINGS = {"memLevel": 5}


def _websockets_encode(data: bytes, wbits: int = 12) -> bytes:
    ext = PerMessageDeflate(True, True, wbits, wbits, dict(SETTINGS))
    return bytes(ext.encode(Frame(Opcode.TEXT, data)).data)


def _inflate(payload: bytes, wbits: int = 12) -> bytes:
    return zlib.decompressobj(wbits=-wbits).decompress(payload + b"\x00\x00\xff\xff")


def test_the_memo_compresses_as_a_socket_of_its_own_would_and_once_per_message() -> None:
    memo = DeflateMemo()
    settings = tuple(sorted(SETTINGS.items()))
    a = ('<div id="queue-item-1" hx-swap-oob="true">item</div>' * 40).encode()
    b = ('<div id="queue-item-2" hx-swap-oob="true">item</div>' * 40).encode()
    first = memo.compress(a, 12, settings)
    assert first == _websockets_encode(a) and _inflate(first) == a
    again = memo.compress(bytes(bytearray(a)), 12, settings)  # equal content, another object: another socket
    assert again == first
    other = memo.compress(b, 12, settings)
    assert _inflate(other) == b and other != first
    assert memo.compress(a, 15, settings) == _websockets_encode(a, 15)  # other window bits: its own entry
    assert (memo.hits, memo.misses) == (1, 3)


def test_the_memo_forgets_the_oldest_past_its_budget() -> None:
    memo = DeflateMemo(budget=10_000)
    messages = [(f"message {n} " * 200).encode() for n in range(10)]  # ~2.2 KB each, compressing well
    for m in messages:
        assert _inflate(memo.compress(m, 12)) == m
    assert memo.size <= 10_000
    memo.compress(messages[-1], 12)
    memo.compress(messages[0], 12)
    assert (memo.hits, memo.misses) == (1, 11)  # the newest was kept, the oldest forgotten
    huge = b"x" * 20_000  # more than half the budget: compressed, never kept
    assert _inflate(memo.compress(huge, 12)) == huge
    assert memo.size <= 10_000 and memo.compress(huge, 12) and memo.misses == 13


def test_a_wire_frame_is_what_websockets_would_write_and_built_once_per_string() -> None:
    """`WireFrames` (what `direct_send` writes to a socket's transport) gives the bytes websockets itself serializes
    for the same message, with and without the lean deflate, for every length encoding (7, 16 and 64 bits)."""
    wire = WireFrames()
    settings = tuple(sorted(SETTINGS.items()))
    for size in (3, 125, 126, 5_000, 70_000, 200_000):
        text = "".join(chr(0x41 + (i * 7919) % 900) for i in range(size))  # poorly compressible, not ASCII
        plain = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        deflate = PerMessageDeflate(True, True, 12, 12, dict(SETTINGS))
        packed = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[deflate])
        assert wire.frame(text) == plain
        assert wire.frame(text, 12, settings) == packed
    text = "<div>" + "x" * 300 + "</div>"
    first = wire.frame(text, 12, settings)
    hits = wire.hits
    assert wire.frame(text, 12, settings) is first and wire.hits == hits + 1  # the same string: no work at all
    equal = "".join(["<div>", "x" * 300, "</div>"])  # equal content, another object: built again, equal bytes
    assert equal is not text and wire.frame(equal, 12, settings) == first and wire.hits == hits + 1


def test_wire_frames_forget_the_oldest_past_their_budget() -> None:
    wire = WireFrames(budget=20_000)
    texts = [f"message {n} " * 200 for n in range(10)]
    for t in texts:
        wire.frame(t)
    assert wire.size <= 20_000
    wire.frame(texts[-1])
    wire.frame(texts[0])
    assert (wire.hits, wire.misses) == (1, 11)


async def test_direct_send_falls_back_to_the_socket_s_own_send_off_uvicorn() -> None:
    """A socket not served by uvicorn's websockets-sansio protocol (another server, a test client) is sent to
    through its own `send_text`."""

    class Socket:
        scope: dict[str, object] = {}

        async def send(self, message: object) -> None:
            raise AssertionError

        async def send_text(self, text: str) -> None:
            sent.append(text)

    lean_compression()  # as the app does: direct_send looks for uvicorn's protocol
    assert WIRE.protocol is not None
    sent: list[str] = []
    sock = Socket()
    send = direct_send(sock)  # type: ignore[arg-type]
    await send("hello")
    assert sent == ["hello"]


class _State:
    name = "OPEN"


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing


class _Protocol:
    """What `direct_send` uses of uvicorn's websockets-sansio protocol."""

    def __init__(self, extensions: list[object]) -> None:
        self.conn = type("Conn", (), {"state": _State(), "extensions": extensions})()
        self.transport = _Transport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = self.close_sent = False
        self.scope: dict[str, object] = {}

    async def send(self, message: object) -> None:
        raise AssertionError("not through ASGI")


class _Socket:
    def __init__(self, proto: _Protocol) -> None:
        self.scope = proto.scope
        self.connection_state = "receive"
        self.sent: list[str] = []

        inner = proto.send

        async def wrapped_send(message: object) -> None:  # a framework's wrapper around the server's send
            await inner(message)

        self.send = wrapped_send

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


async def test_direct_send_writes_frames_waits_while_the_transport_is_full_and_steps_aside_when_closing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WIRE, "protocol", _Protocol)
    deflate = type("Lean", (), {"shared": True, "local_no_context_takeover": True, "local_max_window_bits": 12,
                                "settings": tuple(sorted(SETTINGS.items()))})()
    proto = _Protocol([deflate])
    sock = _Socket(proto)
    send = direct_send(sock)  # type: ignore[arg-type]
    await send("one")
    assert proto.transport.written == [WIRE.frame("one", 12, tuple(sorted(SETTINGS.items())))] and not sock.sent
    proto.writable.clear()  # over the high-water mark: the write waits, as uvicorn's send would
    waiting = asyncio.create_task(send("two"))
    await asyncio.sleep(0.01)
    assert not waiting.done() and len(proto.transport.written) == 1
    proto.writable.set()
    await waiting
    assert len(proto.transport.written) == 2
    proto.close_sent = True  # a close is on its way: the normal path says what it always said
    await send("three")
    assert sock.sent == ["three"] and len(proto.transport.written) == 2

    plain = _Protocol([])
    plain_sock = _Socket(plain)
    await direct_send(plain_sock)("four")  # type: ignore[arg-type]
    assert plain.transport.written == [WIRE.frame("four")]

    other = _Protocol([object()])  # an extension it does not know: never framed by hand
    other_sock = _Socket(other)
    await direct_send(other_sock)("five")  # type: ignore[arg-type]
    assert other_sock.sent == ["five"] and not other.transport.written
