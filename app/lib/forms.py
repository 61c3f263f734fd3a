"""Reading HTML form posts in handlers: one helper, so every view reads fields the same way."""

from __future__ import annotations

from typing import Any

from litestar import Request


async def fields(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
    form = await request.form()
    out = {}
    for name in names:
        value = form.get(name, "")
        out[name] = value.strip() if isinstance(value, str) and name != "password" else (value or "")
    return out
