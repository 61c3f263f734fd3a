"""Who a socket or a renderer serves, as realtime needs to know it. The accounts domain's Principal fits this shape;
realtime sits below the domains, so it names the shape instead of importing the class."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Viewer(Protocol):
    user_id: int
    role: str
    via: str
    """"session" or "api_key": only a session may hold a console socket."""
    credential_id: int
    """The session (or API key) id: a socket closes when its session is revoked."""
    language: str
    timezone: str

    def has_role(self, role: str) -> bool: ...

    def as_audience(self, role: str) -> Viewer:
        """The same language and zone with `role` and no user behind it (user id 0): what a fragment shared by
        many sockets is rendered as (realtime.render)."""
        ...
