"""The security console's JSON API under /t/{slug}/api/v1/security (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from app.accounts.guards import requires
from app.security import services
from app.security.schemas import DayCountOut, RejectionOut, RejectionsOut


class SecurityApi(Controller):
    path = "/api/v1/security"
    tags = ["security"]
    guards = [requires("admin")]

    @get("/rejections", summary="Rejected inbound requests (bad or replayed webhook signatures, chat calls from "
                                "foreign origins), newest first, with counts per day and reason")
    async def rejections(
        self,
        since: Annotated[dt.datetime | None, Parameter(description="At or after (ISO 8601 with offset)")] = None,
    ) -> RejectionsOut:
        items = [RejectionOut(reason=r["reason"], source=r["source"], path=r["path"], at=r["at"], detail=r["detail"])
                 for r in await services.latest(since=since)]
        days = [DayCountOut(day=d["day"], reason=d["reason"], count=d["count"], dropped=d["dropped"])
                for d in await services.per_day()]
        return RejectionsOut(items=items, per_day=days)
