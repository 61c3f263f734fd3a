"""Every background job (name -> function taking the decoded payload), collected from the domains' manifests.
Importing this module hands the registry to app.lib.jobs; the composition roots (app.asgi, app.cli, app.lifecycle,
tests/conftest.py) do."""

from __future__ import annotations

from app import domains
from app.lib.jobs import JobSpec, register

REGISTRY: dict[str, JobSpec] = domains.jobs()
register(REGISTRY)
