"""The realtime spine's manifest: the event log's tables, the spine's own events, the consoles' websocket."""

from __future__ import annotations

from app.lib.domain import Domain
from realtime import events
from realtime.views import console_socket

DOMAIN = Domain(
    name="realtime",
    routes=(console_socket,),
    piccolo_app="realtime.piccolo_app",
    events=events,
)
