"""Counting what a connection sends: for tests and benchmarks that hold a feature to a number of statements."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def statements_of(connection: Any) -> Iterator[list[str]]:
    """The statements `connection` runs inside the block (asyncpg's own type introspection left out). asyncpg calls
    its query loggers soon after each query, not at once: read the list after an await (`asyncio.sleep(0)`)."""
    statements: list[str] = []

    def logged(query: Any) -> None:
        if "pg_catalog" not in query.query and "'jit'" not in query.query:
            statements.append(query.query)

    connection.add_query_logger(logged)
    try:
        yield statements
    finally:
        connection.remove_query_logger(logged)
