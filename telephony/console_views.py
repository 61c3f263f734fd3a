"""The console's call buttons (htmx): hang up, hold/resume, transfer; the card's phone panel: click-to-call and SMS.
Each button answers a flash fragment."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import gettext as _
from app.lib.templates import flash, render_page
from app.lib.wire import PathId
from telephony import callbacks, calls, config, controls, sms

Req = Request[Principal, Any, Any]


class CallConsoleViews(Controller):
    path = "/console/calls/{conversation_id:int}"
    include_in_schema = False
    guards = [signed_in]

    @post("/hangup")
    async def hang_up(self, request: Req, conversation_id: PathId) -> Template:
        try:
            await controls.hang_up(request.user, conversation_id)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, "Call ended.", ok=True)

    @post("/callback/cancel")
    async def cancel_callback(self, request: Req, conversation_id: PathId) -> Template:
        """A supervisor drops a waiting callback from the queue."""
        try:
            await callbacks.cancel(request.user, conversation_id, str((await request.form()).get("reason", "")))
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("The callback is cancelled."), ok=True)

    @post("/hold")
    async def hold(self, request: Req, conversation_id: PathId) -> Template:
        on = str((await request.form()).get("on", "1")) == "1"
        try:
            await controls.hold(request.user, conversation_id, on)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("The caller is on hold.") if on else _("Resumed: you and the caller hear each other."),
                     ok=True)

    @post("/mute")
    async def mute(self, request: Req, conversation_id: PathId) -> Template:
        on = str((await request.form()).get("on", "1")) == "1"
        try:
            await controls.mute(request.user, conversation_id, on)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("You are muted.") if on else _("You are no longer muted."), ok=True)

    @post("/digits")
    async def digits(self, request: Req, conversation_id: PathId) -> Template:
        try:
            digits = str((await request.form()).get("digits", ""))
            sent = await controls.send_digits(request.user, conversation_id, digits)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("Tones sent: %(digits)s", digits=sent["digits"]), ok=True)

    @post("/warm-transfer")
    async def warm_transfer(self, request: Req, conversation_id: PathId) -> Template:
        value = str((await request.form()).get("user_id", ""))
        try:
            if not value.isdigit():
                raise Invalid("Choose a colleague.", field="user_id")
            await controls.warm_transfer(request.user, conversation_id, int(value))
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("The caller is on hold; your colleague's phone rings."), ok=True)

    @post("/warm-transfer/connect")
    async def warm_connect(self, request: Req, conversation_id: PathId) -> Template:
        return await self._warm_step(request, conversation_id, connect=True)

    @post("/warm-transfer/back")
    async def warm_back(self, request: Req, conversation_id: PathId) -> Template:
        return await self._warm_step(request, conversation_id, connect=False)

    async def _warm_step(self, request: Req, conversation_id: int, *, connect: bool) -> Template:
        try:
            await controls.warm_complete(request.user, conversation_id, connect=connect)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("Connected: your colleague has the call.") if connect
                     else _("You are back with the caller."), ok=True)

    @post("/monitor")
    async def monitor(self, request: Req, conversation_id: PathId) -> Template:
        mode = str((await request.form()).get("mode", ""))
        try:
            if mode == "leave":
                await controls.stop_monitoring(request.user, conversation_id)
            else:
                await controls.monitor(request.user, conversation_id, mode)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, {"listen": _("Your phone rings: you will listen, muted."),
                               "whisper": _("Whispering: only the operator hears you."),
                               "barge": _("Barged in: everyone on the call hears you."),
                               "leave": _("You left the call.")}[mode], ok=True)

    @post("/transfer")
    async def transfer(self, request: Req, conversation_id: PathId) -> Template:
        target = str((await request.form()).get("target", ""))
        kind, _, value = target.partition(":")
        try:
            if kind == "user" and value.isdigit():
                await controls.transfer(request.user, conversation_id, user_id=int(value))
            else:
                await controls.transfer(request.user, conversation_id, queue_key=value if kind == "queue" else None)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, "Transferred.", ok=True)


class ContactPhoneViews(Controller):
    """The phone panel of a contact's card (loaded by htmx): call the contact (your device rings first) and text
    them; each SMS shows on the timeline, its delivery status following Twilio's callbacks live."""

    path = "/contacts/{contact_id:int}/phone"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        card = await contacts.get(contact_id)
        connected = bool((await config.public_view())["connected"])
        return render_page(request, "_partials/contact_phone.html", {"c": card, "connected": connected})

    @post("/call")
    async def call(self, request: Req, contact_id: PathId) -> Template:
        number = str((await request.form()).get("number", "")).strip() or None
        try:
            await calls.click_to_call(request.user, contact_id, number)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, "Your phone rings: answer it and the customer is dialled.", ok=True)

    @post("/sms")
    async def send_sms(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        number = str(form.get("number", "")).strip() or None
        try:
            await sms.send(request.user, contact_id, str(form.get("body", "")), number)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, "SMS sent; its delivery status shows on the timeline.", ok=True)
