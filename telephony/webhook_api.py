"""Twilio's webhooks under /t/{slug}/webhooks/twilio/: signed, stored with their job, answered at once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ValidationException

from app.conversations.services import is_blocked
from app.conversations.tables import Queue
from app.hours import services as hours
from telephony import callbacks, ringing, twiml
from telephony.calls import callback_asked
from telephony.webhooks import store, verified

XML = "application/xml"
OPT = {"csrf_exempt": True}


def _xml(body: str) -> Response[str]:
    return Response(body, media_type=XML)


def _no_content() -> Response[None]:
    return Response(None, status_code=204)


def _need(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise ValidationException(f"{name} is missing.")
    return value


def _slug(request: Request[Any, Any, Any]) -> str:
    return str(request.scope["state"]["tenant"].slug)


async def _queue_names() -> dict[str, str]:
    return {q["key"]: q["name"] for q in await Queue.select(Queue.key, Queue.name)}


class TwilioWebhooks(Controller):
    path = "/webhooks/twilio"
    include_in_schema = False
    opt = OPT

    @post("/voice", opt=OPT, status_code=200)
    async def voice(self, request: Request[Any, Any, Any]) -> Response[str]:
        config, p = await verified(request)
        sid = _need(p, "CallSid")
        urls = twiml.Urls(_slug(request))
        if p.get("SwitchboardTest") == "1":  # the settings page's "test" button: signed, stored nowhere
            return _xml(twiml.inbound(config, urls, await _queue_names(), open_now=config.is_open())[0])
        closed = None if config.ivr else await hours.closed_now("general")  # with a menu: once a queue is chosen
        if await is_blocked(p.get("From", "")):  # a number blocked as spam: refused, yet on the timeline (a job)
            answer, meta = twiml.reject(), {"route": "blocked"}
        elif closed is not None and config.is_open():  # the line is open, the general queue's calendar is not
            answer, meta = twiml.closed_queue(urls, "general", closed, caller=p.get("From", ""),
                                              language=config.workspace_language)
        else:
            answer, meta = twiml.inbound(config, urls, await _queue_names(), open_now=config.is_open())
        await store("voice", sid, f"voice:{sid}", p, meta)
        return _xml(answer)

    @post("/voice-fallback", opt=OPT, status_code=200)
    async def voice_fallback(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Twilio asks this (the number's "primary handler fails" URL) when one of our answers for the call failed or
        was not valid TwiML, with ErrorCode and ErrorUrl: the caller waits in the default queue instead of hearing
        "an application error has occurred", and the error is kept for the admin (webhooks.problems)."""
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        await store("voice", sid, f"voice:{sid}", p, {"route": "queue", "queue": "general"})  # no-op if known
        await store("fallback", sid, f"fallback:{sid}:{p.get('ErrorCode', '')}:{p.get('ErrorUrl', '')}", p)
        return _xml(twiml.queued("general", twiml.Urls(_slug(request))))

    @post("/gather", opt=OPT, status_code=200)
    async def gather(self, request: Request[Any, Any, Any]) -> Response[str]:
        config, p = await verified(request)
        sid = _need(p, "CallSid")
        queue_key = config.ivr.get(p.get("Digits", ""), "general")
        closed = await hours.closed_now(queue_key)
        if closed is not None:  # the chosen queue's calendar is closed: voicemail left in that queue
            answer, meta = twiml.closed_queue(twiml.Urls(_slug(request)), queue_key, closed, caller=p.get("From", ""),
                                              language=config.workspace_language)
            await store("gather", sid, f"gather:{sid}", p, meta)
            return _xml(answer)
        await store("gather", sid, f"gather:{sid}", p, {"route": "queue", "queue": queue_key})
        return _xml(twiml.queued(queue_key, twiml.Urls(_slug(request))))

    @post("/wait", opt=OPT, status_code=200)
    async def wait(self, request: Request[Any, Any, Any]) -> Response[str]:
        config, p = await verified(request)
        position = int(p.get("QueuePosition") or 1) if (p.get("QueuePosition") or "1").isdigit() else 1
        queue_time = int(p.get("QueueTime") or 0) if (p.get("QueueTime") or "0").isdigit() else 0
        return _xml(twiml.wait(position, queue_time, config.timeout_seconds, twiml.Urls(_slug(request)),
                               offer_callback=callbacks.may_offer(config, p), language=config.workspace_language))

    @post("/callback", opt=OPT, status_code=200)
    async def callback(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The hold loop's <Gather> action: the callback digit stores the request (its job marks the queue item)
        and takes the caller out of the queue; any other key, or a second delivery, changes nothing."""
        config, p = await verified(request)
        sid = _need(p, "CallSid")
        if p.get("Digits") != twiml.CALLBACK_DIGIT or not callbacks.may_offer(config, p) \
                or not await callbacks.known_call(sid):
            return _xml(twiml.keep_waiting())
        await store("callback", sid, f"callback:{sid}", p)
        return _xml(twiml.callback_confirmed(config.workspace_language))

    @post("/closed-callback", opt=OPT, status_code=200)
    async def closed_callback(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The closed greeting's <Gather> action (twiml.closed_offer): the callback digit stores the request (its job
        opens the item in the closed queue, marked as a callback) and ends the call; any other key, a queue that
        does not offer callbacks or a call this shop did not receive leaves the caller with the voicemail."""
        config, p = await verified(request)
        sid = _need(p, "CallSid")
        queue_key = request.query_params.get("queue", "")
        urls = twiml.Urls(_slug(request))
        if p.get("Digits") != twiml.CALLBACK_DIGIT or not p.get("From", "").startswith("+") \
                or not await hours.offers_callback(queue_key) or not await callbacks.known_call(sid):
            return _xml(twiml.voicemail(urls, "after_hours"))
        await store("callback", sid, f"callback:{sid}", p, {"route": "closed", "queue": queue_key})
        return _xml(twiml.closed_callback_confirmed(config.workspace_language))

    @post("/enqueue-action", opt=OPT, status_code=200)
    async def enqueue_action(self, request: Request[Any, Any, Any]) -> Response[str]:
        config, p = await verified(request)
        sid = _need(p, "CallSid")
        result = p.get("QueueResult", "")
        if result == "leave" and await callback_asked(sid):  # out of the queue to be called back: goodbye
            return _xml(twiml.callback_goodbye(config.workspace_language))
        if result == "leave":  # the wait URL sent the caller out after the tenant's timeout
            await store("enqueue", sid, f"enqueue:{sid}:leave", p, {"route": "voicemail", "reason": "no_answer"})
            return _xml(twiml.voicemail(twiml.Urls(_slug(request)), "no_answer"))
        return _xml(twiml.empty())

    @post("/dial-action", opt=OPT, status_code=200)
    async def dial_action(self, request: Request[Any, Any, Any]) -> Response[str]:
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        status = p.get("DialCallStatus", "")
        await store("dial", sid, f"dial:{sid}:{p.get('DialCallSid', '')}:{status}", p)
        return _xml(twiml.after_dial(status, twiml.Urls(_slug(request))))

    @post("/voicemail", opt=OPT, status_code=200)
    async def voicemail(self, request: Request[Any, Any, Any]) -> Response[str]:
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        await store("voicemail", sid, f"voicemail:{sid}:{p.get('RecordingSid', '')}", p)
        return _xml(twiml.goodbye())

    @post("/status", opt=OPT, status_code=204)
    async def status(self, request: Request[Any, Any, Any]) -> Response[None]:
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        status = _need(p, "CallStatus")
        await store("status", sid, f"status:{sid}:{status}:{p.get('SequenceNumber', '')}", p)
        return _no_content()

    @post("/conference", opt=OPT, status_code=204)
    async def conference(self, request: Request[Any, Any, Any]) -> Response[None]:
        """The call's conference reports joins, leaves, mute, hold, coaching changes, start and end."""
        _, p = await verified(request)
        sid = _need(p, "ConferenceSid")
        event = _need(p, "StatusCallbackEvent")
        await store("conference", sid, f"conference:{sid}:{event}:{p.get('SequenceNumber', '')}:"
                    f"{p.get('CallSid', '')}", p)
        return _no_content()

    @post("/offer-answer", opt=OPT, status_code=200)
    async def offer_answer(self, request: Request[Any, Any, Any]) -> Response[str]:
        """An agent answered the phone that rang for a call offered to them (telephony.ringing)."""
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        if await ringing.answered(sid):
            return _xml(twiml.offer_answered(twiml.Urls(_slug(request))))
        return _xml(twiml.offer_gone())

    @post("/participant-status", opt=OPT, status_code=204)
    async def participant_status(self, request: Request[Any, Any, Any]) -> Response[None]:
        """A teammate's leg into a conference ended (no answer, busy, hung up)."""
        _, p = await verified(request)
        sid = _need(p, "CallSid")
        status = _need(p, "CallStatus")
        await store("participant-status", sid, f"participant-status:{sid}:{status}", p)
        return _no_content()

    @post("/announce", opt=OPT, status_code=200)
    async def announce(self, request: Request[Any, Any, Any]) -> Response[str]:
        """What Twilio plays to one participant when the operator uses the keypad: the digits as DTMF tones."""
        await verified(request)
        digits = request.query_params.get("digits", "")
        if not twiml.DTMF_RE.match(digits):
            raise ValidationException("digits must be 0-9, *, # or w.")
        return _xml(twiml.play_digits(digits))

    @post("/recording", opt=OPT, status_code=204)
    async def recording(self, request: Request[Any, Any, Any]) -> Response[None]:
        _, p = await verified(request)
        sid = _need(p, "RecordingSid")
        await store("recording", sid, f"recording:{sid}:{_need(p, 'RecordingStatus')}", p)
        return _no_content()

    @post("/sms", opt=OPT, status_code=200)
    async def sms(self, request: Request[Any, Any, Any]) -> Response[str]:
        _, p = await verified(request)
        sid = p.get("MessageSid") or _need(p, "SmsSid")
        await store("sms", sid, f"sms:{sid}", p)
        return _xml(twiml.empty_messaging())

    @post("/sms-status", opt=OPT, status_code=204)
    async def sms_status(self, request: Request[Any, Any, Any]) -> Response[None]:
        _, p = await verified(request)
        sid = p.get("MessageSid") or _need(p, "SmsSid")
        status = p.get("MessageStatus") or _need(p, "SmsStatus")
        await store("sms-status", sid, f"sms-status:{sid}:{status}", p)
        return _no_content()


@get(twiml.HOLD_MUSIC_PATH, include_in_schema=False, cache=3600)
async def hold_music() -> Response[bytes]:
    """What callers hear in the queue; Twilio fetches it without credentials, so it is public and generated."""
    return Response(twiml.hold_music_wav(), media_type="audio/wav")
