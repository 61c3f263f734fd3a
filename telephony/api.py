"""Telephony JSON API under /t/{slug}/api/v1: Twilio settings, accept a queued call, click-to-call, SMS, recordings."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.lib.wire import PathId
from telephony import calls, config, controls, selftest, sms, webhooks
from telephony.schemas import CallIn, CallTransferIn, HoldIn, SmsIn, TwilioConfigIn

Req = Request[Principal, Any, Any]


class TelephonyApi(Controller):
    path = "/api/v1"
    tags = ["telephony"]
    guards = [signed_in]

    @get("/channels/twilio", guards=[requires("admin")], summary="Twilio settings (never the Auth Token)")
    async def read_config(self) -> dict[str, Any]:
        return await config.public_view()

    @put("/channels/twilio", guards=[requires("admin")], summary="Connect Twilio; the Auth Token is stored encrypted")
    async def save_config(self, request: Req, data: JSONBody[TwilioConfigIn]) -> dict[str, Any]:
        body = msgspec.to_builtins(data)
        if data.devices is None:
            body.pop("devices", None)
        return await config.save(request.user, body)

    @post("/channels/twilio/test", guards=[requires("admin")], status_code=200,
          summary="Prove the settings: Twilio's API and a signed request to our voice webhook")
    async def test_config(self) -> dict[str, Any]:
        return await selftest.run()

    @get("/channels/twilio/problems", guards=[requires("admin")],
         summary="Webhooks whose processing failed (kept and retried) and errors Twilio reported via the fallback URL")
    async def problems(self) -> dict[str, Any]:
        return await webhooks.problems()

    @post("/channels/twilio/webhooks/{webhook_id:int}/retry", guards=[requires("admin")], status_code=202,
          summary="Queue a failed webhook's processing again")
    async def retry_webhook(self, webhook_id: PathId) -> dict[str, Any]:
        return await webhooks.retry(webhook_id)

    @post("/calls/{conversation_id:int}/accept", status_code=200,
          summary="Take a queued call and bridge it to your phone or SIP device")
    async def accept(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.accept(request.user, conversation_id)

    @post("/calls/{conversation_id:int}/hangup", status_code=200, summary="End an active call for both sides")
    async def hang_up(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.hang_up(request.user, conversation_id)

    @post("/calls/{conversation_id:int}/hold", status_code=200,
          summary='Hold ({"on": true}: the caller hears music) or resume ({"on": false}: your phone rings again)')
    async def hold(self, request: Req, conversation_id: PathId,
                   data: JSONBody[HoldIn]) -> dict[str, Any]:
        return await controls.hold(request.user, conversation_id, data.on)

    @post("/calls/{conversation_id:int}/transfer", status_code=200,
          summary='Transfer an active call: {"user_id": N} rings their device, {"queue": "key"} back to a queue')
    async def transfer(self, request: Req, conversation_id: PathId,
                       data: JSONBody[CallTransferIn]) -> dict[str, Any]:
        return await controls.transfer(request.user, conversation_id, user_id=data.user_id,
                                       queue_key=data.queue or None)

    @get("/calls/{call_id:int}")
    async def read_call(self, call_id: PathId) -> dict[str, Any]:
        call = await calls.get(call_id)
        return {k: v for k, v in call.items() if k != "recording_key"} | {"has_recording": bool(call["recording_key"])}

    @get("/calls/{call_id:int}/recording", summary="The call's recording, streamed from our storage")
    async def recording(self, call_id: PathId) -> Response[bytes]:
        body, media_type = await calls.recording_media(call_id)
        return Response(body, media_type=media_type, headers={"Cache-Control": "private, no-store",
                                                               "X-Content-Type-Options": "nosniff"})

    @post("/contacts/{contact_id:int}/call", status_code=201, summary="Click-to-call: your device rings first")
    async def click_to_call(self, request: Req, contact_id: PathId,
                            data: JSONBody[CallIn]) -> dict[str, Any]:
        """Body: {} to call the contact's first phone, or {"number": "+1..."}."""
        return await calls.click_to_call(request.user, contact_id, data.number)

    @post("/contacts/{contact_id:int}/sms", status_code=201, summary="Send an SMS from the shop's number")
    async def send_sms(self, request: Req, contact_id: PathId, data: JSONBody[SmsIn]) -> dict[str, Any]:
        return await sms.send(request.user, contact_id, data.body, data.number)

    @get("/contacts/{contact_id:int}/sms")
    async def list_sms(self, contact_id: PathId) -> list[dict[str, Any]]:
        return await sms.for_contact(contact_id)
