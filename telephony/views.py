"""Twilio settings page: connect the account, see the webhook URLs to paste into Twilio, and test the setup."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.errors import DomainError
from app.lib.forms import fields
from app.lib.templates import render_page
from app.lib.wire import PathId
from telephony import config, selftest, webhooks

Req = Request[Principal, Any, Any]
PAGE = "pages/twilio_settings.html"


def _ivr_text(ivr: dict[str, str]) -> str:
    return "\n".join(f"{d}={q}" for d, q in sorted(ivr.items()))


def _parse_ivr(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digit, _, queue = line.partition("=")
            out[digit.strip()] = queue.strip()
    return out


class TwilioSettingsViews(Controller):
    path = "/settings/twilio"
    include_in_schema = False
    guards = [requires("admin")]

    async def _context(self, error: str | None = None, notice: str | None = None,
                       form: dict[str, Any] | None = None) -> dict[str, Any]:
        view = await config.public_view()
        return {"cfg": view, "error": error, "notice": notice, "problems": await webhooks.problems(), "form": form or {
            "account_sid": view.get("account_sid", ""), "numbers": ", ".join(view.get("numbers", [])),
            "record_calls": view.get("record_calls", False), "greeting": view.get("greeting", ""),
            "timeout_seconds": view.get("timeout_seconds", 60), "ivr": _ivr_text(view.get("ivr") or {}),
            "offer_callback": view.get("offer_callback", False),
            "business_hours": json.dumps(view.get("business_hours") or {}),
            "devices": "\n".join(f"{d['user_id']}={d['address']}" for d in view.get("devices", []))}}

    @get("/")
    async def page(self, request: Req) -> Template:
        return render_page(request, PAGE, await self._context())

    @post("/")
    async def save(self, request: Req) -> Template:
        form = await fields(request, "account_sid", "auth_token", "numbers", "record_calls", "greeting",
                            "timeout_seconds", "ivr", "business_hours", "devices", "offer_callback")
        try:
            hours = json.loads(form["business_hours"] or "{}")
        except ValueError:
            hours = "invalid"
        devices = []
        for line in form["devices"].splitlines():
            user, _, address = line.partition("=")
            if line.strip():
                devices.append({"user_id": int(user) if user.strip().isdigit() else user, "address": address.strip()})
        data = {"account_sid": form["account_sid"], "auth_token": form["auth_token"],
                "numbers": [n.strip() for n in form["numbers"].split(",") if n.strip()],
                "record_calls": form["record_calls"] == "on", "greeting": form["greeting"],
                "timeout_seconds": int(form["timeout_seconds"]) if form["timeout_seconds"].isdigit() else -1,
                "ivr": _parse_ivr(form["ivr"]), "business_hours": hours, "devices": devices,
                "offer_callback": form["offer_callback"] == "on"}
        try:
            await config.save(request.user, data)
        except DomainError as exc:
            return render_page(request, PAGE, await self._context(error=exc.labelled, form=form),
                               status_code=exc.status_code)
        return render_page(request, PAGE, await self._context(notice="Saved. Paste the webhook URLs into Twilio."))

    @post("/test")
    async def test(self, request: Req) -> Template:
        try:
            result = await selftest.run()
        except DomainError as exc:
            result = {"ok": False, "checks": [{"check": "settings", "ok": False, "detail": exc.detail}]}
        return render_page(request, "_partials/twilio_test.html", {"result": result})

    @post("/webhooks/{webhook_id:int}/retry")
    async def retry(self, request: Req, webhook_id: PathId) -> Template:
        try:
            done = await webhooks.retry(webhook_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return render_page(request, PAGE, await self._context(error=exc.detail), status_code=exc.status_code)
        return render_page(request, PAGE, await self._context(
            notice=f"The {done['kind']} webhook of {done['sid']} is queued again."))
