"""Admin UI for agents at /t/{slug}/settings/agents: each teammate's state and capacity per channel, editable.
The team page (/settings/team) loads the same panel below its user list."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import requires
from app.accounts.services import Principal
from app.agents import services
from app.agents.tables import CHANNELS
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.forms import optional_int
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]
PANEL = "_partials/agent_capacity.html"
PAGE = "pages/agents.html"


async def _context(error: str | None = None, notice: str | None = None) -> dict[str, Any]:
    users = [u for u in await accounts.list_users() if u["status"] == "active"]
    ids = [u["id"] for u in users]
    states = await services.statuses(ids)
    caps = {uid: await services.capacity_of(uid) for uid in ids}
    return {"agents": [{**u, "state": states[u["id"]], "capacity": caps[u["id"]]} for u in users],
            "channels": CHANNELS, "error": error, "notice": notice}


class AgentSettingsViews(Controller):
    path = "/settings/agents"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def panel(self, request: Req) -> Template:
        """The panel alone for the team page's htmx load; the whole page when opened by its address."""
        return render_page(request, PANEL if request.headers.get("hx-request") else PAGE, await _context())

    @post("/{user_id:int}")
    async def save(self, request: Req, user_id: PathId) -> Template:
        form = await request.form()
        try:
            user = await accounts.get_user(user_id)
            slots = {c: optional_int(form.get(c)) for c in CHANNELS}
            bad = next((c for c in CHANNELS if str(form.get(c, "")).strip() and slots[c] is None), None)
            if bad:
                raise Invalid("Slots must be 0 to %(max)s.", field=bad, max=services.MAX_SLOTS)
            await services.set_capacity(request.user, user_id, slots, form.get("call_blocks") is not None)
        except DomainError as exc:
            return render_page(request, PANEL, await _context(error=exc.labelled), status_code=exc.status_code)
        return render_page(request, PANEL, await _context(
            notice=i18n.gettext("Capacity of %(name)s saved.", name=user["name"] or user["email"])))
