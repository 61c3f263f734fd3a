"""The application's clock: the one `now()` every domain asks (the Twilio simulator keeps its own)."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)
