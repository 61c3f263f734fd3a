"""Contact events, published after commit through the realtime layer (names come from its registry)."""

from __future__ import annotations

from typing import Any


async def emit(name: str, *, contact_id: int, **ids: Any) -> None:
    """Announce a change to a contact to everyone in the tenant who may see it (published after commit)."""
    # WIRE-REALTIME: connected to realtime.publish once the realtime layer lands.
    return None
