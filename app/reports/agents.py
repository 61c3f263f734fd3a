"""The Agent performance report (`agents`): per agent, queue or channel (or per day, week, month) over a period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.lib.i18n import N_
from app.reports import kit


async def build(period: kit.Period, params: Mapping[str, str]) -> kit.Report:
    raise NotImplementedError


async def drill(period: kit.Period, params: Mapping[str, str], row_key: str,
                column_key: str) -> tuple[list[kit.Column], list[dict[str, Any]]]:
    raise NotImplementedError


SPEC = kit.register(kit.ReportSpec("agents", build, drill, roles="supervisor", title=N_("Agent performance"),
                                   description=N_("Handled, handle time, response and resolution, offers, "
                                                  "occupancy and utilisation per agent.")))
