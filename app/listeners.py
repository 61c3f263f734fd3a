"""Every durable listener: reactions to committed events that are not about showing something, collected from the
domains' manifests. The worker runs them per tenant with their own cursor (realtime.durable)."""

from __future__ import annotations

from app import domains
from realtime.durable import DurableListener

DURABLE: list[DurableListener] = domains.listeners()


def docs() -> dict[str, str]:
    return {li.name: li.doc for li in DURABLE}
