"""The pure half of a contact import batch, off the job's event loop: the rows' cells turned into service values and
their phones and emails normalised, in worker processes (as many as cores) while the job writes the batch before.

Why processes: a batch's Python work (CSV mapping, phonenumbers, email syntax) is CPU-bound and held by the GIL, so
a thread only moves it beside the event loop, not off it. Each worker works out a slice of the next batch; the job
takes the answers into its own memos (`identities.learn`), so the rules that validate the rows find every address
worked out. What a worker returns is exactly what the job would compute itself: a pool that breaks (a worker killed)
is dropped and the job goes on computing in-process.

A worker exits by itself when the job's process dies (SIGKILL gives the pool no chance to stop it)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import structlog

from app.contacts import import_mapping
from app.lib import identities

log = structlog.get_logger(__name__)

POOL_MIN_ROWS = 5_000
"""Rows left to import from which a pool pays for starting its processes (about half a second each)."""

Prepared = tuple[list[dict[str, Any]], identities.Worked]


def prepare(mapping: list[str], kinds: dict[str, str], region: str, cells: list[list[str]]) -> Prepared:
    """The rows' values (import_mapping.row_values) and their phones and emails worked out."""
    values = [import_mapping.row_values(mapping, row, kinds) for row in cells]
    worked = identities.work_out((p for v in values for p in v.get("phones", ())),
                                 (e for v in values for e in v.get("emails", ())), region)
    return values, worked


def _watch_parent(parent: int) -> None:
    """In a worker: leave when the process that started the pool is gone (it was killed, or it is a zombie)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="import-parent-watch", daemon=True).start()


def processes_for(rows_left: int) -> int:
    """Worker processes for an import with `rows_left` rows to go: a core for the job and PostgreSQL, the others
    for preparing (measured on 2 cores under load: one worker 3,800 rows/s, two 1,450-2,700, none 2,400); none
    for a small file."""
    return max(1, (os.cpu_count() or 1) - 1) if rows_left >= POOL_MIN_ROWS else 0


class Preparer:
    """Works batches out in a process pool of `processes` workers (0: in a thread of this process)."""

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        if processes > 0:
            self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_watch_parent, initargs=(os.getpid(),))
            for _ in range(processes):  # start the workers (imports included) while the first batch is written
                self._pool.submit(prepare, [], {}, "US", [])

    @property
    def pooled(self) -> bool:
        return self._pool is not None

    async def values(self, mapping: list[str], kinds: dict[str, str], region: str, cells: list[list[str]]
                     ) -> list[dict[str, Any]]:
        """The rows' values, their addresses learnt by this process's memos."""
        if not cells:
            return []
        if self._pool is not None:
            try:
                return self._learn(await self._pooled(mapping, kinds, region, cells), region)
            except BrokenProcessPool:
                log.warning("import_pool_broken", processes=self.processes)
                await self.close()
        return self._learn(await asyncio.to_thread(prepare, mapping, kinds, region, cells), region)

    async def _pooled(self, mapping: list[str], kinds: dict[str, str], region: str, cells: list[list[str]]
                      ) -> Prepared:
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        size = -(-len(cells) // self.processes)
        parts = await asyncio.gather(*(loop.run_in_executor(self._pool, prepare, mapping, kinds, region,
                                                            cells[i:i + size]) for i in range(0, len(cells), size)))
        values: list[dict[str, Any]] = []
        phones: dict[str, str | None] = {}
        emails: dict[str, tuple[str | None, str]] = {}
        for part_values, (part_phones, part_emails) in parts:
            values += part_values
            phones.update(part_phones)
            emails.update(part_emails)
        return values, (phones, emails)

    @staticmethod
    def _learn(prepared: Prepared, region: str) -> list[dict[str, Any]]:
        values, worked = prepared
        identities.learn(worked, region)
        return values

    async def close(self) -> None:
        """Stop the workers (waiting for them off the event loop); work still queued is dropped."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
