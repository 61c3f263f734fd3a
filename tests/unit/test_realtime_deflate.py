"""One deflate per distinct message (realtime.sockets `DeflateMemo`, used by the lean permessage-deflate of
`lean_compression`): without context takeover a message compresses to the same bytes for every socket, so the memo
gives every socket exactly what its own compressor would have produced, and forgets the oldest past its budget."""

from __future__ import annotations

import zlib

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from realtime.sockets import DeflateMemo

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
