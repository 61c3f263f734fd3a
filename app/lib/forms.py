"""Reading HTML form posts in handlers: one helper, so every view reads fields the same way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request

from app.lib import i18n
from app.lib.errors import Invalid


async def fields(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
    form = await request.form()
    out = {}
    for name in names:
        value = form.get(name, "")
        out[name] = value.strip() if isinstance(value, str) and name != "password" else (value or "")
    return out


def message_text(body: Any, limit: int) -> str:
    """A customer's or operator's message as stored: trimmed, not empty, at most `limit` characters."""
    text = body.strip() if isinstance(body, str) else ""
    if not text:
        raise Invalid("The message is empty.", field="body")
    if len(text) > limit:
        raise Invalid("The message must be at most %(limit)s characters.", field="body", limit=limit)
    return text


def ticked(form: Any, name: str) -> list[str]:
    """Every ticked checkbox of that name; none ticked: the browser sends nothing, which is an empty list here."""
    return [str(v) for v in form.getall(name, [])]


def optional_int(raw: Any) -> int | None:
    """A whole number typed in a form, or None when the box is empty or holds something else."""
    text = str(raw or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def local_time(raw: str, field: str) -> dt.datetime | None:
    """A `datetime-local` value (or a date) read in the viewer's time zone; "" is none."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("Give the time as YYYY-MM-DD HH:MM.", field=field) from None
    return when if when.tzinfo else when.replace(tzinfo=i18n.current().zone)
