"""The durable listeners' wake-up after commits (realtime.publish._Waker): the first goes at once, those that come
while it is out or within WAKE_EVERY after it go together in the next statement, and none is lost."""

from __future__ import annotations

import asyncio

import pytest

from realtime import publish


async def test_wake_ups_meanwhile_join_the_next_statement_and_none_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[list[str]] = []

    async def send(self: publish._Waker, schemas: list[str]) -> None:
        sent.append(schemas)

    monkeypatch.setattr(publish._Waker, "_send", send)
    waker = publish._Waker()
    waker.add("t_a")
    waker.add("t_a")  # the same unit of work's, or another commit's of the same tenant
    await asyncio.sleep(0)
    assert sent == [["t_a"]]  # at once
    for schema in ("t_c", "t_b", "t_a"):  # commits one after another, each given the loop's turn
        waker.add(schema)
        await asyncio.sleep(0)
    assert sent == [["t_a"]]  # not one statement per commit
    assert waker.task is not None
    await waker.task
    assert sent == [["t_a"], ["t_a", "t_b", "t_c"]]  # one more statement for all of them
    waker.add("t_d")  # after a quiet spell: a new wake-up goes at once again
    assert waker.task is not None and not waker.task.done()
    await waker.task
    assert sent[-1] == ["t_d"]
