"""Background jobs of outbound webhooks."""

from __future__ import annotations

from typing import Any


async def send(payload: dict[str, Any]) -> None:
    """Send one attempt of a delivery (filled in by app.webhooks_out.sender)."""
