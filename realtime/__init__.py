"""Realtime: events published after commit, fanned out per tenant to the consoles allowed to see them.

Publish with `from realtime.publish import publish` (the submodule's name would shadow a package-level export).
"""

from __future__ import annotations

import importlib
from typing import Any

# Re-exported lazily: Piccolo imports realtime.piccolo_app while app.accounts is still importing.
_EXPORTS = {
    "EVENTS": "realtime.events", "Event": "realtime.events", "UnknownEvent": "realtime.events",
    "channels": "realtime", "current_id": "realtime.log",
    "register_renderer": "realtime.render", "renders": "realtime.render",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    if name == "channels":
        return importlib.import_module("realtime.channels")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
