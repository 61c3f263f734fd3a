"""Imports the report modules so they register with the kit (one import per line: merges union cleanly)."""

from app.reports import agents  # noqa: F401

# isort: split
from app.reports import queues  # noqa: F401

# isort: split
from app.reports import revenue  # noqa: F401
