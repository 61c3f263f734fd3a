"""Telephony JSON API under /t/{slug}/api/v1: Twilio settings, accept a queued call, click-to-call, SMS, recordings."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations.schemas import ConversationOut
from app.lib.wire import PathId
from telephony import callbacks, calls, config, controls, selftest, sms, webhooks
from telephony.schemas import (
    CallbackCancelIn,
    CallIn,
    CallTransferIn,
    DigitsIn,
    HoldIn,
    MonitorIn,
    MuteIn,
    SmsIn,
    TwilioConfigIn,
    WarmTransferIn,
)

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

    @post("/calls/{conversation_id:int}/callback/cancel", guards=[requires("supervisor")], status_code=200,
          summary="Cancel a waiting callback (supervisors): the item leaves the queue")
    async def cancel_callback(self, request: Req, conversation_id: PathId,
                              data: JSONBody[CallbackCancelIn]) -> ConversationOut:
        return to_struct(ConversationOut, await callbacks.cancel(request.user, conversation_id, data.reason))

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

    @post("/calls/{conversation_id:int}/mute", status_code=200,
          summary='Mute your own line ({"on": true}) or speak again ({"on": false})')
    async def mute(self, request: Req, conversation_id: PathId, data: JSONBody[MuteIn]) -> dict[str, Any]:
        return await controls.mute(request.user, conversation_id, data.on)

    @post("/calls/{conversation_id:int}/digits", status_code=200,
          summary='Keypad: play DTMF tones to the caller ({"digits": "1#"})')
    async def digits(self, request: Req, conversation_id: PathId, data: JSONBody[DigitsIn]) -> dict[str, Any]:
        return await controls.send_digits(request.user, conversation_id, data.digits)

    @post("/calls/{conversation_id:int}/warm-transfer", status_code=200,
          summary='Warm transfer: the caller is held and a colleague ({"user_id": N}) joins you on the line')
    async def warm_transfer(self, request: Req, conversation_id: PathId,
                            data: JSONBody[WarmTransferIn]) -> dict[str, Any]:
        return await controls.warm_transfer(request.user, conversation_id, data.user_id)

    @post("/calls/{conversation_id:int}/warm-transfer/connect", status_code=200,
          summary="Warm transfer: you leave, the caller talks to the colleague, who now handles the call")
    async def warm_connect(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.warm_complete(request.user, conversation_id, connect=True)

    @post("/calls/{conversation_id:int}/warm-transfer/back", status_code=200,
          summary="Warm transfer: the colleague leaves and the caller talks to you again")
    async def warm_back(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.warm_complete(request.user, conversation_id, connect=False)

    @post("/calls/{conversation_id:int}/monitor", status_code=200,
          summary='Supervisors: listen, whisper or barge on a live call ({"mode": "listen"}); again to switch')
    async def monitor(self, request: Req, conversation_id: PathId, data: JSONBody[MonitorIn]) -> dict[str, Any]:
        return await controls.monitor(request.user, conversation_id, data.mode)

    @post("/calls/{conversation_id:int}/monitor/leave", status_code=200,
          summary="Supervisors: leave the call you listen to")
    async def monitor_leave(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.stop_monitoring(request.user, conversation_id)

    @get("/calls/{conversation_id:int}/participants",
         summary="Who is on the call's line: customer, operator, colleague, supervisor, with muted/hold/coaching")
    async def participants(self, request: Req, conversation_id: PathId) -> dict[str, Any]:
        return await controls.line(request.user, conversation_id)

    @get("/calls/live", guards=[requires("supervisor")], summary="Every live call of the team (supervisors)")
    async def live_calls(self) -> list[dict[str, Any]]:
        return await controls.live_calls()

    @get("/calls/{call_id:int}")
    async def read_call(self, call_id: PathId) -> dict[str, Any]:
        return controls.public(await calls.get(call_id))

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
