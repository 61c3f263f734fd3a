"""The deals board page: stages as columns, deals as cards dragged between them (htmx + native drag and drop)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.contacts.queries import ContactFilter
from app.deals import services
from app.deals.schemas import DealIn
from app.deals.tables import KINDS
from app.lib import money
from app.lib.errors import DomainError
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


async def _context(error: str | None = None) -> dict[str, Any]:
    recent, _ = await contacts.search(ContactFilter(sort="updated"), limit=200)
    return {"stages": await services.board(), "fmt": money.fmt, "error": error, "contacts": recent,
            "users": await accounts.list_users(), "kinds": KINDS}


class DealViews(Controller):
    path = "/deals"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def board(self, request: Req) -> Template:
        return render_page(request, "pages/deals.html", await _context())

    @post("/")
    async def create(self, request: Req) -> Template:
        form = await request.form()
        try:
            currency = money.check_currency(str(form.get("currency", "")))
            contact = str(form.get("contact_id", ""))
            owner = str(form.get("owner_id", ""))
            close = str(form.get("expected_close", ""))
            await services.create(request.user, DealIn(
                title=str(form.get("title", "")), contact_id=int(contact) if contact.isdigit() else 0,
                currency=currency, value=money.parse_major(str(form.get("value") or "0"), currency, "value"),
                owner_id=int(owner) if owner.isdigit() else None,
                expected_close=dt.date.fromisoformat(close) if close else None))
        except (DomainError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, DomainError) else "expected_close must be a date."
            return render_page(request, "_partials/deals_board.html", await _context(detail), status_code=400)
        return render_page(request, "_partials/deals_board.html", await _context())

    @post("/{deal_id:int}/move")
    async def move(self, request: Req, deal_id: PathId) -> Template:
        form = await request.form()
        position = str(form.get("position", ""))
        try:
            await services.move(request.user, deal_id, str(form.get("stage", "")), reason=str(form.get("reason", "")),
                                position=int(position) if position.isdigit() else None)
        except DomainError as exc:
            return render_page(request, "_partials/deals_board.html", await _context(exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "_partials/deals_board.html", await _context())

    @post("/stages")
    async def add_stage(self, request: Req) -> Template:
        """Admins add a stage to the pipeline (open, won or lost); the board comes back with its new column."""
        form = await request.form()
        position = str(form.get("position", "")).strip()
        try:
            await services.create_stage(request.user, key=str(form.get("key", "")), label=str(form.get("label", "")),
                                        kind=str(form.get("kind", "open")),
                                        position=int(position) if position.isdigit() else None)
        except DomainError as exc:
            return render_page(request, "_partials/deals_board.html", await _context(exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "_partials/deals_board.html", await _context())
