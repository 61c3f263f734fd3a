"""The simulated Twilio: accounts, numbers, calls that execute the TwiML our webhooks answer, SMS, recordings.

Faithful to Twilio's documented behaviour, not to our app:
- every webhook is a form POST signed with the account's Auth Token (X-Twilio-Signature);
- call status callbacks carry SequenceNumber; Calls.create sends the StatusCallbackEvent events asked for, an
  incoming number's StatusCallback only `completed`;
- invalid TwiML (not XML, root not <Response>, unknown verb) or a non-2xx answer is an application error: the
  simulator records a Notification (error 12100 "Document parse failure", 12200 "Schema validation warning",
  11200 "HTTP retrieval failure"), requests the number's VoiceFallbackUrl with ErrorCode and ErrorUrl if one is
  set, and otherwise says "An application error has occurred" and ends the call, as Twilio's docs describe
  (https://www.twilio.com/docs/usage/security/availability-reliability, https://www.twilio.com/docs/api/errors/12100).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from telephony.simulator.clock import Clock
from telephony.simulator.conference import Conferences
from telephony.simulator.resources import (
    API_VERSION,
    PUBLIC_API,
    Account,
    Message,
    PhoneNumber,
    Recording,
    rfc2822,
    sid,
    utcnow,
    wav,
)

FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
"""Twilio's default opt-out and opt-in keywords (https://help.twilio.com/articles/223134027)."""
VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Enqueue", "Dial", "Record", "Redirect", "Hangup", "Leave",
                   "Reject"})
WAIT_VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Leave"})
"""What Twilio runs in an <Enqueue> waitUrl document (https://www.twilio.com/docs/voice/twiml/enqueue#attributes-wait-url)."""


class CallEnded(Exception):
    """The caller (or Twilio) ended the call while a verb was running."""


class TwimlError(Exception):
    def __init__(self, code: int, message: str, url: str) -> None:
        super().__init__(message)
        self.code, self.message, self.url = code, message, url


@dataclasses.dataclass
class Call:
    sid: str
    account_sid: str
    from_: str
    to: str
    direction: str
    status: str = "queued"
    parent_sid: str | None = None
    status_callback: str = ""
    status_events: tuple[str, ...] = ()
    created: dt.datetime = dataclasses.field(default_factory=utcnow)
    start_clock: float | None = None
    end_clock: float | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    sequence: int = 0
    heard: list[str] = dataclasses.field(default_factory=list)
    verbs: list[str] = dataclasses.field(default_factory=list)
    """Every verb started, in order ("Say", "Gather", "Enqueue", ...): what a test asserts the caller went through."""
    current: str = ""
    queue: str | None = None
    message_seconds: int = 0
    digits: asyncio.Queue[str] = dataclasses.field(default_factory=asyncio.Queue)
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    answered: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    bridged_to: str | None = None
    task: asyncio.Task[None] | None = None
    dequeued: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    looping: bool = False
    held: bool = False
    """On hold in a conference: hearing the participant's HoldUrl."""
    dtmf_heard: str = ""
    """Digits played to this call (<Play digits> in an announcement): what the person's phone received."""

    @property
    def duration(self) -> int:
        if self.start_clock is None or self.end_clock is None:
            return 0
        return max(0, round(self.end_clock - self.start_clock))

    def json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {"sid": self.sid, "account_sid": self.account_sid, "parent_call_sid": self.parent_sid,
                "to": self.to, "to_formatted": self.to, "from": self.from_, "from_formatted": self.from_,
                "status": self.status, "direction": self.direction, "api_version": API_VERSION,
                "date_created": rfc2822(self.created), "date_updated": rfc2822(utcnow()),
                "start_time": rfc2822(self.start_time), "end_time": rfc2822(self.end_time),
                "duration": str(self.duration) if self.status in FINAL else None, "price": None, "price_unit": "USD",
                "answered_by": None, "forwarded_from": None, "caller_name": None, "group_sid": None,
                "phone_number_sid": None, "queue_time": "0", "trunk_sid": None, "uri": base + ".json",
                "subresource_uris": {"recordings": base + "/Recordings.json"}}


class Simulator:
    """One simulated Twilio. `webhooks` is the HTTP client that reaches the app (tests hand in an ASGI transport)."""

    def __init__(self, *, webhooks: httpx.AsyncClient | None = None, speed: float = 1.0,
                 public_api: str = PUBLIC_API) -> None:
        self.http = webhooks or httpx.AsyncClient(timeout=15)
        self.clock = Clock(speed)
        self.public_api = public_api
        self.accounts: dict[str, Account] = {}
        self.numbers: dict[str, PhoneNumber] = {}
        self.calls: dict[str, Call] = {}
        self.messages: dict[str, Message] = {}
        self.recordings: dict[str, Recording] = {}
        self.queues: dict[tuple[str, str], list[str]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.webhook_log: list[dict[str, Any]] = []
        self.undeliverable: set[str] = set()
        """Destinations whose SMS fail (error 30003 Unreachable destination handset)."""
        self.opted_out: set[tuple[str, str]] = set()
        """(customer, Twilio number) pairs that texted an opt-out keyword: Twilio refuses to send to them (21610)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.conferences = Conferences(self)
        self.devices: list[str] = []
        self.shop_widget = ""
        """The web chat snippet's src of the shop the phone page plays the customer of: /shop embeds it."""
        """Operator phones the phone page shows (a call to any address rings it; this is only for display)."""

    # -- set-up ------------------------------------------------------------------------------------------------

    def add_account(self, account_sid: str | None = None, auth_token: str | None = None) -> Account:
        acct = Account(account_sid or sid("AC"), auth_token or sid("")[:32])
        self.accounts[acct.sid] = acct
        return acct

    def add_number(self, account_sid: str, number: str, **urls: str) -> PhoneNumber:
        pn = PhoneNumber(number=number, account_sid=account_sid, **urls)
        self.numbers[number] = pn
        return pn

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for _ in range(5):  # a cancelled call may still spawn its last callbacks (a conference ending): those too
            if not self._tasks:
                break
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.http.aclose()

    async def settle(self, within: float = 10) -> None:
        """Wait until nothing but calls blocked on a person (ringing, queued, gathering) is running."""
        await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            busy = [t for t in self._tasks if not t.done() and not getattr(t, "sb_idle", lambda: False)()]
            if not busy:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("the simulator did not settle")

    async def until(self, predicate: Callable[[], bool], within: float = 10, what: str = "condition") -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"simulator: timed out waiting for {what}")
            await asyncio.sleep(0.02)

    # -- signed webhooks ---------------------------------------------------------------------------------------

    async def post(self, account_sid: str, url: str, params: dict[str, str]) -> httpx.Response:
        """A form POST signed the way Twilio signs it: HMAC-SHA1 over the URL and the sorted parameters."""
        token = self.accounts[account_sid].auth_token
        signature = RequestValidator(token).compute_signature(url, params)
        response = await self.http.post(url, data=params, headers={"X-Twilio-Signature": signature,
                                                                   "User-Agent": "TwilioProxy/1.1"})
        self.webhook_log.append({"url": url, "params": params, "status": response.status_code})
        return response

    def _call_params(self, call: Call, **extra: str) -> dict[str, str]:
        params = {"CallSid": call.sid, "AccountSid": call.account_sid, "From": call.from_, "To": call.to,
                  "Caller": call.from_, "Called": call.to, "CallStatus": call.status, "ApiVersion": API_VERSION,
                  "Direction": call.direction, "FromCity": "", "FromState": "", "FromZip": "", "FromCountry": "US",
                  "ToCity": "", "ToState": "", "ToZip": "", "ToCountry": "US"}
        if call.parent_sid:
            params["ParentCallSid"] = call.parent_sid
        params.update(extra)
        return params

    async def _status_callback(self, call: Call, status: str, event: str) -> None:
        call.status = status
        if not call.status_callback or (call.status_events and event not in call.status_events):
            return
        extra = {"Timestamp": rfc2822(utcnow()) or "", "SequenceNumber": str(call.sequence),
                 "CallbackSource": "call-progress-events"}
        call.sequence += 1
        if status in FINAL:
            extra["CallDuration"] = str(call.duration)
            extra["Duration"] = str(max(1, (call.duration + 59) // 60))
        await self.post(call.account_sid, call.status_callback, self._call_params(call, **extra))

    # -- driver: what a customer and operators do --------------------------------------------------------------

    def place_call(self, from_: str, to: str, *, message_seconds: int = 0) -> Call:
        """A customer dials one of the account's numbers: Twilio requests its VoiceUrl and runs the answer."""
        number = self.numbers[to]
        call = Call(sid=sid("CA"), account_sid=number.account_sid, from_=from_, to=to, direction="inbound",
                    status="ringing", status_callback=number.status_callback, status_events=("completed",),
                    message_seconds=message_seconds)
        self.calls[call.sid] = call
        call.task = self.spawn(self._run(call, url=number.voice_url))
        return call

    async def press(self, call_sid: str, digits: str) -> None:
        call = self.calls[call_sid]
        await self.until(lambda: call.current == "Gather" or call.status in FINAL, what=f"{call_sid} to gather")
        for d in digits:
            call.digits.put_nowait(d)

    def ringing(self, address: str | None = None) -> list[Call]:
        """Calls ringing on a device (an operator's phone number or SIP address), oldest first."""
        return [c for c in self.calls.values() if c.status == "ringing" and c.direction != "inbound"
                and (address is None or c.to == address)]

    async def answer(self, address: str, within: float = 10) -> Call:
        await self.until(lambda: bool(self.ringing(address)), within, what=f"{address} to ring")
        leg = self.ringing(address)[0]
        leg.answered.set()
        await self.until(lambda: leg.status == "in-progress", within, what="the answer")
        return leg

    async def hangup(self, call_sid: str) -> None:
        """The person on this leg hangs up."""
        call = self.calls[call_sid]
        if call.status in FINAL:
            return
        call.ended.set()
        await self.until(lambda: call.status in FINAL, what=f"{call_sid} to end")

    def send_sms(self, from_: str, to: str, body: str) -> Message:
        """A customer texts one of the account's numbers: Twilio posts it to the number's SmsUrl."""
        number = self.numbers[to]
        msg = Message(sid=sid("SM"), account_sid=number.account_sid, from_=from_, to=to, body=body,
                      direction="inbound", status="received")
        self.messages[msg.sid] = msg
        params = {"MessageSid": msg.sid, "SmsSid": msg.sid, "SmsMessageSid": msg.sid, "AccountSid": msg.account_sid,
                  "From": from_, "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
                  "ApiVersion": API_VERSION, "FromCity": "", "FromState": "", "FromZip": "", "FromCountry": "US",
                  "ToCity": "", "ToState": "", "ToZip": "", "ToCountry": "US"}
        # Twilio's default opt-out handling: the standard keywords (the whole body, any case) block or unblock the
        # pair; the message is still delivered to the webhook, with OptOutType as Advanced Opt-Out adds it.
        keyword = body.strip().upper()
        if keyword in OPT_OUT_KEYWORDS:
            self.opted_out.add((from_, to))
            params["OptOutType"] = "STOP"
        elif keyword in OPT_IN_KEYWORDS:
            self.opted_out.discard((from_, to))
            params["OptOutType"] = "START"
        self.spawn(self.post(msg.account_sid, number.sms_url, params))
        return msg

    # -- REST-side actions (the resources' POSTs call these) ---------------------------------------------------

    def create_call(self, account_sid: str, *, to: str, from_: str, url: str = "", twiml: str = "",
                    status_callback: str = "", status_events: tuple[str, ...] = ("completed",)) -> Call:
        call = Call(sid=sid("CA"), account_sid=account_sid, from_=from_, to=to, direction="outbound-api",
                    status="queued", status_callback=status_callback, status_events=status_events or ("completed",))
        self.calls[call.sid] = call
        call.task = self.spawn(self._outbound(call, url, twiml))
        return call

    def new_leg(self, account_sid: str, *, to: str, from_: str, status_callback: str = "",
                status_events: tuple[str, ...] = ()) -> Call:
        """A call Twilio places for a conference participant (Participants.json POST); the conference runs it."""
        call = Call(sid=sid("CA"), account_sid=account_sid, from_=from_, to=to, direction="outbound-api",
                    status="queued", status_callback=status_callback, status_events=status_events or ("completed",))
        self.calls[call.sid] = call
        return call

    def update_call(self, call: Call, *, url: str = "", twiml: str = "", status: str = "") -> None:
        """Calls/{Sid} POST: redirect a live call to new TwiML (it leaves any queue) or end it."""
        if status in ("completed", "canceled"):
            call.ended.set()
            return
        if call.task is not None:
            call.task.cancel()
        call.dequeued.set()
        call.task = self.spawn(self._run(call, url=url, twiml=twiml, started=True))

    def create_message(self, account_sid: str, *, to: str, from_: str, body: str, status_callback: str) -> Message:
        msg = Message(sid=sid("SM"), account_sid=account_sid, from_=from_, to=to, body=body,
                      direction="outbound-api", status="queued", status_callback=status_callback)
        self.messages[msg.sid] = msg
        self.spawn(self._deliver(msg))
        return msg

    async def _deliver(self, msg: Message) -> None:
        await self.clock.sleep(0.2)
        steps = ["sent", "undelivered"] if msg.to in self.undeliverable else ["sent", "delivered"]
        for status in steps:
            msg.status, msg.updated = status, utcnow()
            if status == "undelivered":
                msg.error_code = 30003
            if msg.status_callback:
                params = {"MessageSid": msg.sid, "SmsSid": msg.sid, "AccountSid": msg.account_sid, "From": msg.from_,
                          "To": msg.to, "MessageStatus": status, "SmsStatus": status, "ApiVersion": API_VERSION}
                if msg.error_code:
                    params["ErrorCode"] = str(msg.error_code)
                await self.post(msg.account_sid, msg.status_callback, params)
            await self.clock.sleep(0.2)

    # -- call execution ----------------------------------------------------------------------------------------

    async def _outbound(self, call: Call, url: str, twiml: str) -> None:
        await self._status_callback(call, "initiated", "initiated")
        await self._status_callback(call, "ringing", "ringing")
        task = asyncio.current_task()
        task.sb_idle = lambda: call.status == "ringing"
        answered = asyncio.ensure_future(call.answered.wait())
        ended = asyncio.ensure_future(call.ended.wait())
        done, pending = await asyncio.wait({answered, ended}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        for p in pending:
            p.cancel()
        if answered not in done:
            call.end_clock = call.start_clock = self.clock.now()
            await self._status_callback(call, "no-answer" if not call.ended.is_set() else "canceled", "completed")
            return
        call.start_clock, call.start_time = self.clock.now(), utcnow()
        await self._status_callback(call, "in-progress", "answered")
        call.task = self.spawn(self._run(call, url=url, twiml=twiml, started=True))

    async def _run(self, call: Call, *, url: str = "", twiml: str = "", started: bool = False) -> None:
        """Execute documents until the call ends. A REST update cancels this task and starts another."""
        task = asyncio.current_task()
        task.sb_idle = lambda: call.current in ("Gather", "Enqueue", "Dial", "Record") or call.looping
        try:
            if not started:
                call.start_clock, call.start_time = self.clock.now(), utcnow()
            document: tuple[str, str] | None = (url, twiml)
            while document is not None and call.status not in FINAL:
                doc_url, doc_twiml = document
                if not doc_twiml:
                    doc_twiml = await self._fetch(call, doc_url, self._call_params(call))
                    if call.status == "ringing":
                        call.status = "in-progress"
                document = await self._execute(call, doc_url, doc_twiml)
        except TwimlError as exc:
            await self._application_error(call, exc)
        except CallEnded:
            pass
        except asyncio.CancelledError:
            if call.ended.is_set() or call.status in FINAL:
                raise
            raise
        await self._complete(call)

    async def _complete(self, call: Call) -> None:
        if call.status in FINAL:
            return
        call.current = ""
        call.end_clock, call.end_time = self.clock.now(), utcnow()
        call.ended.set()
        await self._status_callback(call, "completed", "completed")

    async def _fetch(self, call: Call, url: str, params: dict[str, str], method: str = "POST") -> str:
        if not url:
            raise TwimlError(11200, "HTTP retrieval failure: no URL", url)
        try:
            response = await self.post(call.account_sid, url, params)
        except httpx.HTTPError as exc:
            raise TwimlError(11200, f"HTTP retrieval failure: {exc.__class__.__name__}", url) from None
        if response.status_code >= 300:
            raise TwimlError(11200, f"HTTP retrieval failure: {response.status_code}", url)
        return response.text

    async def _application_error(self, call: Call, exc: TwimlError) -> None:
        self.notifications.append({"sid": sid("NO"), "account_sid": call.account_sid, "call_sid": call.sid,
                                   "error_code": str(exc.code), "log": "0", "message_text": exc.message,
                                   "request_url": exc.url, "date_created": rfc2822(utcnow())})
        number = self.numbers.get(call.to)
        if number and number.voice_fallback_url and exc.url != number.voice_fallback_url:
            try:
                doc = await self._fetch(call, number.voice_fallback_url,
                                        self._call_params(call, ErrorCode=str(exc.code), ErrorUrl=exc.url))
                await self._execute(call, number.voice_fallback_url, doc)
                return
            except (TwimlError, CallEnded):
                pass
        call.heard.append("An application error has occurred. Goodbye.")

    def _parse(self, url: str, text: str) -> ET.Element:
        try:
            root = ET.fromstring(text)  # noqa: S314 (our own app's answer, parsed by a test double)
        except ET.ParseError as exc:
            raise TwimlError(12100, f"Document parse failure: {exc}", url) from None
        if root.tag != "Response":
            raise TwimlError(12100, f"Document parse failure: root element is <{root.tag}>, not <Response>", url)
        for verb in root:
            if verb.tag not in VERBS:
                raise TwimlError(12200, f"Schema validation warning: <{verb.tag}> is not a TwiML verb", url)
        return root

    async def _wait(self, call: Call, aw: Any, within: float | None = None) -> Any:
        """Await `aw` unless the caller hangs up first (CallEnded) or simulated `within` seconds pass (None)."""
        main = asyncio.ensure_future(aw)
        ended = asyncio.ensure_future(call.ended.wait())
        waiters = {main, ended}
        timer = asyncio.ensure_future(self.clock.sleep(within)) if within is not None else None
        if timer:
            waiters.add(timer)
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                if not w.done():
                    w.cancel()
        if main in done:
            return main.result()
        if ended in done:
            raise CallEnded
        return None

    async def _execute(self, call: Call, url: str, text: str) -> tuple[str, str] | None:
        """Run one document; the next document to run (action, redirect), or None when the call is over."""
        root = self._parse(url, text)
        for verb in root:
            call.current = verb.tag
            call.verbs.append(verb.tag)
            a = verb.attrib
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play":
                call.heard.append(f"[play {verb.text}]")
                loops = int(a.get("loop", "1") or 1)
                call.looping = loops == 0  # Twilio: loop="0" plays until the call is redirected or hung up
                await self._wait(call, asyncio.sleep(3600), within=None if call.looping else 2 * loops)
                call.looping = False
            elif verb.tag == "Pause":
                await self._wait(call, asyncio.sleep(3600), within=int(a.get("length", "1")))
            elif verb.tag == "Hangup":
                return None
            elif verb.tag == "Reject":
                call.end_clock = call.start_clock
                await self._status_callback(call, a.get("reason", "busy"), "completed")
                return None
            elif verb.tag == "Redirect":
                return verb.text or "", ""
            elif verb.tag == "Gather":
                result = await self._gather(call, verb)
                if result is not None:
                    return result
            elif verb.tag == "Enqueue":
                return await self._enqueue(call, verb)
            elif verb.tag == "Dial":
                return await self._dial(call, verb)
            elif verb.tag == "Record":
                result = await self._record(call, verb, url)
                if result is not None:
                    return result
            elif verb.tag == "Leave":
                return None
        return None

    async def _gather(self, call: Call, verb: ET.Element) -> tuple[str, str] | None:
        for child in verb:
            if child.tag == "Say":
                call.heard.append(child.text or "")
        num = int(verb.attrib.get("numDigits", "0") or 0)
        timeout = int(verb.attrib.get("timeout", "5"))
        digits = ""
        while True:
            d = await self._wait(call, call.digits.get(), within=timeout)
            if d is None or (d == verb.attrib.get("finishOnKey", "#") and not num):
                break
            digits += d
            if num and len(digits) >= num:
                break
        if not digits:
            return None  # no input: Twilio continues with the next verb
        action = verb.attrib.get("action", "")
        doc = await self._fetch(call, action, self._call_params(call, Digits=digits))
        return action, doc

    async def _enqueue(self, call: Call, verb: ET.Element) -> tuple[str, str] | None:
        name = (verb.text or "").strip()
        key = (call.account_sid, name)
        members = self.queues.setdefault(key, [])
        members.append(call.sid)
        call.queue = name
        call.dequeued.clear()
        entered = self.clock.now()
        wait_url = verb.attrib.get("waitUrl", "")
        result = "hangup"
        try:
            while True:
                if call.dequeued.is_set():
                    result = "bridged"
                    break
                params = self._call_params(call, QueuePosition=str(members.index(call.sid) + 1),
                                           QueueSid="QU" + "0" * 32, QueueTime=str(int(self.clock.now() - entered)),
                                           AvgQueueTime="0", CurrentQueueSize=str(len(members)), MaxQueueSize="100")
                if wait_url:
                    root = self._parse(wait_url, await self._fetch(call, wait_url, params))
                    outcome = await self._wait_document(call, root, wait_url)
                    if outcome in ("leave", "hangup"):
                        result = outcome
                        break
                    if outcome is not None:  # a Redirect out of the queue
                        return outcome
                await self._wait(call, call.dequeued.wait(), within=1)
        except CallEnded:
            raise
        finally:
            if call.sid in members:
                members.remove(call.sid)
            call.queue = None
        if result == "hangup":
            return None
        action = verb.attrib.get("action", "")
        if not action:
            return None
        doc = await self._fetch(call, action, self._call_params(call, QueueResult=result,
                                                                QueueTime=str(int(self.clock.now() - entered))))
        return action, doc

    async def _wait_document(self, call: Call, root: ET.Element, url: str = "") -> Any:
        """Run a waitUrl document (or the answer of a <Gather> inside one) while the caller stays queued. Twilio allows
        only Play, Say, Pause, Hangup, Redirect, Leave and Gather there."""
        for verb in root:
            if verb.tag not in WAIT_VERBS:
                raise TwimlError(12200, f"Schema validation warning: <{verb.tag}> is not allowed in a waitUrl "
                                 "document", url)
        for verb in root:
            if verb.tag == "Gather":
                outcome = await self._wait_gather(call, verb)
                if outcome is not None:
                    return outcome
            elif verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play":
                call.heard.append(f"[play {verb.text}]")
                await self._wait(call, call.dequeued.wait(), within=2)
            elif verb.tag == "Pause":
                await self._wait(call, call.dequeued.wait(), within=int(verb.attrib.get("length", "1")))
            elif verb.tag == "Leave":
                return "leave"
            elif verb.tag == "Hangup":
                return "hangup"
            elif verb.tag == "Redirect":
                url = verb.text or ""
                return url, await self._fetch(call, url, self._call_params(call))
            if call.dequeued.is_set():
                return None
        return None

    async def _digit_or_dequeued(self, call: Call, within: float) -> str | None:
        """A key the queued caller presses within `within` simulated seconds; None on silence or when dequeued."""
        key = asyncio.ensure_future(call.digits.get())
        out = asyncio.ensure_future(call.dequeued.wait())
        try:
            await self._wait(call, asyncio.wait({key, out}, return_when=asyncio.FIRST_COMPLETED), within=within)
            return key.result() if key.done() else None
        finally:
            for f in (key, out):
                if not f.done():
                    f.cancel()

    async def _wait_gather(self, call: Call, verb: ET.Element) -> Any:
        """<Gather> in the hold loop: its Say and Play run (a key interrupts them), then it waits `timeout` seconds
        for more keys. Keys: its action is requested with Digits (and the queue's parameters), and the answer runs in
        the same waiting context (<Leave/> takes the caller out of the queue; an empty answer: the wait goes on)."""
        a = verb.attrib
        num = int(a.get("numDigits", "0") or 0)
        timeout = int(a.get("timeout", "5") or 5)
        finish = a.get("finishOnKey", "#")
        digits = ""
        call.current = "Gather"
        try:
            for child in verb:
                if child.tag == "Say":
                    call.heard.append(child.text or "")
                elif child.tag in ("Play", "Pause"):
                    if child.tag == "Play":
                        call.heard.append(f"[play {child.text}]")
                    length = 2 if child.tag == "Play" else int(child.attrib.get("length", "1"))
                    key = await self._digit_or_dequeued(call, length)
                    if key is not None:
                        digits += key
                        break
                if call.dequeued.is_set():
                    return None
            while not call.dequeued.is_set() and not (num and len(digits) >= num):
                key = await self._digit_or_dequeued(call, timeout)
                if key is None or (key == finish and not num):
                    break
                digits += key
        finally:
            call.current = "Enqueue"
        if call.dequeued.is_set() or not digits:
            return None
        action = a.get("action", "")
        doc = await self._fetch(call, action, self._call_params(call, Digits=digits, FinishedOnKey=""))
        return await self._wait_document(call, self._parse(action, doc), action)

    async def _dial(self, call: Call, verb: ET.Element) -> tuple[str, str] | None:
        a = verb.attrib
        timeout = int(a.get("timeout", "30"))
        nouns = [c for c in verb if c.tag in ("Number", "Sip", "Client", "Queue", "Conference")]
        if nouns and nouns[0].tag == "Conference":
            return await self.conferences.dial(call, verb, nouns[0])
        leg: Call | None = None
        dial_status = "no-answer"
        answered_at = self.clock.now()
        if nouns and nouns[0].tag == "Queue":
            members = self.queues.get((call.account_sid, (nouns[0].text or "").strip()), [])
            if members:
                other = self.calls[members[0]]
                other.dequeued.set()
                leg = other
                dial_status = "completed"
                call.bridged_to = other.sid
        elif nouns:
            address = (nouns[0].text or "").strip()
            leg = Call(sid=sid("CA"), account_sid=call.account_sid, from_=a.get("callerId", call.from_), to=address,
                       direction="outbound-dial", status="ringing", parent_sid=call.sid)
            self.calls[leg.sid] = leg
            try:
                got = await self._wait(call, leg.answered.wait(), within=timeout)
            except asyncio.CancelledError:  # the parent was redirected (REST update): the ringing leg stops
                leg.status = "canceled"
                leg.end_clock = leg.start_clock = self.clock.now()
                leg.ended.set()
                raise
            if got is None and not leg.answered.is_set():
                leg.status = "no-answer"
                leg.end_clock = leg.start_clock = self.clock.now()
            else:
                leg.status = "in-progress"
                leg.start_clock, leg.start_time = self.clock.now(), utcnow()
                answered_at = self.clock.now()
                call.bridged_to = leg.sid
                dial_status = "completed"
                try:
                    await self._wait(call, leg.ended.wait())
                except CallEnded:
                    call.ended.set()
                except asyncio.CancelledError:
                    # The parent was redirected (hold, transfer, hang-up by REST): Twilio disconnects the dialed
                    # leg, ends the Dial without requesting its action URL, and still delivers the recording.
                    self._end_leg(leg)
                    self._record_dial(call, a, max(0, round(self.clock.now() - answered_at)))
                    raise
                leg.status = "completed"
                leg.end_clock, leg.end_time = self.clock.now(), utcnow()
                leg.ended.set()
        talk = max(0, round(self.clock.now() - answered_at)) if dial_status == "completed" else 0
        if dial_status == "completed":
            self._record_dial(call, a, talk)
        action = a.get("action", "")
        hung_up = call.ended.is_set()
        if action:
            extra = {"DialCallStatus": dial_status, "DialCallSid": leg.sid if leg else "",
                     "DialCallDuration": str(talk), "DialBridged": "true" if dial_status == "completed" else "false"}
            doc = await self._fetch(call, action, self._call_params(call, **extra))
            if hung_up:
                return None  # Twilio requests the action, but nobody is left to hear its answer
            return action, doc
        if hung_up:
            raise CallEnded
        return None

    def _end_leg(self, leg: Call) -> None:
        leg.status = "completed"
        leg.end_clock, leg.end_time = self.clock.now(), utcnow()
        leg.ended.set()

    def _record_dial(self, call: Call, a: dict[str, str], talk: int) -> None:
        if a.get("record", "do-not-record").startswith("record-from"):
            rec = self._make_recording(call, talk, "DialVerb", 2 if a["record"].endswith("dual") else 1)
            if a.get("recordingStatusCallback"):
                self.spawn(self._recording_callback(call, rec, a["recordingStatusCallback"]))

    def _make_recording(self, call: Call, seconds: int, source: str, channels: int) -> Recording:
        return self._make_recording_of(call.account_sid, call.sid, seconds, source, channels)

    def _make_recording_of(self, account_sid: str, call_sid: str, seconds: int, source: str, channels: int,
                           conference_sid: str | None = None) -> Recording:
        rec = Recording(sid=sid("RE"), account_sid=account_sid, call_sid=call_sid, duration=seconds,
                        source=source, channels=channels, audio=wav(min(seconds, 600), channels=channels),
                        conference_sid=conference_sid)
        self.recordings[rec.sid] = rec
        return rec

    def recording_url(self, rec: Recording) -> str:
        return f"{self.public_api}/{API_VERSION}/Accounts/{rec.account_sid}/Recordings/{rec.sid}"

    async def _recording_callback(self, call: Call, rec: Recording, url: str) -> None:
        await self.clock.sleep(0.1)  # Twilio calls back once the audio is processed, after the call's own events
        params = {"AccountSid": call.account_sid, "CallSid": call.sid, "RecordingSid": rec.sid,
                  "RecordingUrl": self.recording_url(rec), "RecordingStatus": rec.status,
                  "RecordingDuration": str(rec.duration), "RecordingChannels": str(rec.channels),
                  "RecordingStartTime": rfc2822(rec.created) or "", "RecordingSource": rec.source,
                  "RecordingTrack": "both"}
        await self.post(call.account_sid, url, params)

    async def _record(self, call: Call, verb: ET.Element, url: str) -> tuple[str, str] | None:
        a = verb.attrib
        call.heard.append("[beep]" if a.get("playBeep", "true") == "true" else "")
        seconds = min(call.message_seconds, int(a.get("maxLength", "3600")))
        if seconds <= 0:
            return None  # silence: Twilio skips the action and goes on with the next verb
        await self._wait(call, asyncio.sleep(3600), within=seconds)
        rec = self._make_recording(call, seconds, "RecordVerb", 1)
        callback = a.get("recordingStatusCallback")
        if callback:
            self.spawn(self._recording_callback(call, rec, callback))
        action = a.get("action", "") or url
        doc = await self._fetch(call, action, self._call_params(
            call, RecordingUrl=self.recording_url(rec), RecordingSid=rec.sid, RecordingDuration=str(seconds),
            Digits="#"))
        return action, doc
