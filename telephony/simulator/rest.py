"""The simulator's REST API under /2010-04-01/Accounts/{AccountSid}/: basic auth, form bodies, Twilio JSON."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any
from urllib.parse import quote, unquote

from litestar import Litestar, Request, Response, route
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath

from telephony.simulator.core import FINAL, Simulator
from telephony.simulator.page import handlers
from telephony.simulator.resources import error_body, mp3

PREFIX = "/2010-04-01/Accounts"
ROUTES = [
    ("GET", re.compile(r"^/(?P<acct>AC\w+)\.json$"), "account"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Calls\.json$"), "create_call"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Calls\.json$"), "list_calls"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Calls/(?P<sid>CA\w+)\.json$"), "fetch_call"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Calls/(?P<sid>CA\w+)\.json$"), "update_call"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Messages\.json$"), "create_message"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Messages\.json$"), "list_messages"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Messages/(?P<sid>SM\w+)\.json$"), "fetch_message"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Recordings/(?P<sid>RE\w+)\.json$"), "fetch_recording"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Recordings/(?P<sid>RE\w+)(?P<ext>\.wav|\.mp3)?$"), "recording_media"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Notifications\.json$"), "notifications"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Conferences\.json$"), "list_conferences"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>[^/]+)/Participants\.json$"), "list_participants"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>[^/]+)/Participants\.json$"), "create_participant"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>[^/]+)/Participants/(?P<who>[^/]+)\.json$"),
     "fetch_participant"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>[^/]+)/Participants/(?P<who>[^/]+)\.json$"),
     "update_participant"),
    ("DELETE", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>[^/]+)/Participants/(?P<who>[^/]+)\.json$"),
     "delete_participant"),
    ("GET", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>CF\w+)\.json$"), "fetch_conference"),
    ("POST", re.compile(r"^/(?P<acct>AC\w+)/Conferences/(?P<conf>CF\w+)\.json$"), "update_conference"),
]


def _date_filter(value: str) -> dt.datetime | None:
    """A `DateSent` filter value: `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`, as twilio-python sends."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _error(status: int, code: int, message: str) -> Response[Any]:
    return Response(error_body(status, code, message), status_code=status)


class Api:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def authenticate(self, request: Request[Any, Any, Any], acct: str) -> Response[Any] | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        account = self.sim.accounts.get(user)
        if scheme.lower() != "basic" or account is None or account.auth_token != password:
            return _error(401, 20003, "Authenticate")
        if user != acct:
            return _error(403, 20003, "Authenticated account does not match the AccountSid in the URL")
        return None

    async def dispatch(self, request: Request[Any, Any, Any], rest: str) -> Response[Any]:
        for method, pattern, name in ROUTES:
            match = pattern.match(rest)
            if match and request.method == method:
                denied = self.authenticate(request, match["acct"])
                if denied is not None:
                    return denied
                form = await request.form() if method == "POST" else FormMultiDict(request.query_params.multi_items())
                return await getattr(self, name)(form=form, **match.groupdict())
        return _error(404, 20404, f"The requested resource {PREFIX}{rest} was not found")

    async def account(self, form: FormMultiDict, acct: str) -> Response[Any]:
        return Response(self.sim.accounts[acct].json())

    async def create_call(self, form: FormMultiDict, acct: str) -> Response[Any]:
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not from_:
            return _error(400, 21213, "No 'From' number is specified")
        if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
            return _error(400, 21205, "Url parameter is required")
        if from_ not in self.sim.numbers or self.sim.numbers[from_].account_sid != acct:
            return _error(400, 21210, f"The source phone number provided, {from_}, is not yet verified for your "
                          "account")
        events = tuple(e for v in form.getall("StatusCallbackEvent", []) for e in v.split())
        call = self.sim.create_call(acct, to=to, from_=from_, url=form.get("Url", ""), twiml=form.get("Twiml", ""),
                                    status_callback=form.get("StatusCallback", ""), status_events=events)
        return Response(call.json(), status_code=201)

    async def list_calls(self, form: FormMultiDict, acct: str) -> Response[Any]:
        calls = [c.json() for c in self.sim.calls.values() if c.account_sid == acct]
        return Response({"calls": calls, "page": 0, "page_size": 50, "start": 0, "end": len(calls) - 1,
                         "first_page_uri": f"{PREFIX}/{acct}/Calls.json?PageSize=50&Page=0",
                         "next_page_uri": None, "previous_page_uri": None, "uri": f"{PREFIX}/{acct}/Calls.json"})

    def _call(self, acct: str, sid: str) -> Any:
        call = self.sim.calls.get(sid)
        return call if call is not None and call.account_sid == acct else None

    async def fetch_call(self, form: FormMultiDict, acct: str, sid: str) -> Response[Any]:
        call = self._call(acct, sid)
        if call is None:
            return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Calls/{sid}.json was not found")
        return Response(call.json())

    async def update_call(self, form: FormMultiDict, acct: str, sid: str) -> Response[Any]:
        call = self._call(acct, sid)
        if call is None:
            return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Calls/{sid}.json was not found")
        if call.status in FINAL:
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        status = form.get("Status", "")
        if not status and not form.get("Url") and not form.get("Twiml"):
            return _error(400, 21205, "Url parameter is required")
        self.sim.update_call(call, url=form.get("Url", ""), twiml=form.get("Twiml", ""), status=status)
        return Response(call.json())

    async def create_message(self, form: FormMultiDict, acct: str) -> Response[Any]:
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if from_ not in self.sim.numbers or self.sim.numbers[from_].account_sid != acct:
            return _error(400, 21606, "The From phone number provided is not a valid message-capable Twilio phone "
                          "number for this account.")
        if (to, from_) in self.sim.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        msg = self.sim.create_message(acct, to=to, from_=from_, body=body,
                                      status_callback=form.get("StatusCallback", ""))
        return Response(msg.json(), status_code=201)

    async def list_messages(self, form: FormMultiDict, acct: str) -> Response[Any]:
        """Messages.json GET, as Twilio filters it: `To`, `From`, `DateSent` (that UTC day), `DateSent<` and
        `DateSent>` (a day or an ISO 8601 UTC instant; Twilio's bounds are inclusive), newest first, paged by
        `PageSize` (default 50, at most 1000) and `Page` with a `next_page_uri` that carries the filters."""
        try:
            bounds = {key: _date_filter(form.get(key, "")) for key in ("DateSent", "DateSent<", "DateSent>")}
            size = min(max(int(form.get("PageSize") or 50), 1), 1000)
            page = max(int(form.get("Page") or 0), 0)
        except ValueError:
            return _error(400, 20001, "Invalid DateSent, PageSize or Page parameter")
        to, from_ = form.get("To", ""), form.get("From", "")

        def keep(msg: Any) -> bool:
            sent = msg.created.replace(microsecond=0)
            on, before, after = bounds["DateSent"], bounds["DateSent<"], bounds["DateSent>"]
            return (msg.account_sid == acct and (not to or msg.to == to) and (not from_ or msg.from_ == from_)
                    and (on is None or sent.date() == on.date()) and (before is None or sent <= before)
                    and (after is None or sent >= after))

        found = sorted((m for m in self.sim.messages.values() if keep(m)), key=lambda m: (m.created, m.sid),
                       reverse=True)
        # PageToken is a cursor (the last SID of the previous page), as Twilio's: messages created while a client
        # pages through the list do not shift it, so no message is listed twice.
        token = form.get("PageToken", "")
        start = page * size
        if token.startswith("PA"):
            after = next((i for i, m in enumerate(found) if m.sid == token[2:]), None)
            start = after + 1 if after is not None else start
        chunk = found[start:start + size]
        query = "&".join(f"{k}={quote(v)}" for k, v in form.multi_items() if k not in ("Page", "PageSize", "PageToken"))
        base = f"{PREFIX}/{acct}/Messages.json?{query + '&' if query else ''}PageSize={size}"
        more = start + size < len(found) and bool(chunk)
        return Response({"messages": [m.json() for m in chunk], "page": page, "page_size": size,
                         "start": start, "end": start + max(len(chunk) - 1, 0),
                         "first_page_uri": f"{base}&Page=0",
                         "next_page_uri": f"{base}&Page={page + 1}&PageToken=PA{chunk[-1].sid}" if more else None,
                         "previous_page_uri": f"{base}&Page={page - 1}" if page else None,
                         "uri": f"{base}&Page={page}"})

    async def fetch_message(self, form: FormMultiDict, acct: str, sid: str) -> Response[Any]:
        msg = self.sim.messages.get(sid)
        if msg is None or msg.account_sid != acct:
            return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Messages/{sid}.json was not found")
        return Response(msg.json())

    def _recording(self, acct: str, sid: str) -> Any:
        rec = self.sim.recordings.get(sid)
        return rec if rec is not None and rec.account_sid == acct else None

    async def fetch_recording(self, form: FormMultiDict, acct: str, sid: str) -> Response[Any]:
        rec = self._recording(acct, sid)
        if rec is None:
            return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Recordings/{sid}.json was not found")
        return Response(rec.json())

    async def recording_media(self, form: FormMultiDict, acct: str, sid: str, ext: str | None) -> Response[Any]:
        rec = self._recording(acct, sid)
        if rec is None:
            return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Recordings/{sid} was not found")
        if ext == ".mp3":
            return Response(mp3(min(rec.duration, 600)), media_type="audio/mpeg")
        return Response(rec.audio, media_type="audio/x-wav")  # Twilio: no extension or .wav -> WAV

    async def notifications(self, form: FormMultiDict, acct: str) -> Response[Any]:
        items = [n for n in self.sim.notifications if n["account_sid"] == acct]
        return Response({"notifications": items, "page": 0, "page_size": 50, "start": 0, "end": len(items) - 1,
                         "uri": f"{PREFIX}/{acct}/Notifications.json"})


    # -- Conferences and Participants ---------------------------------------------------------------------------

    def _room(self, acct: str, conf: str) -> Any:
        return self.sim.conferences.get(acct, unquote(conf))

    def _missing(self, acct: str, what: str) -> Response[Any]:
        return _error(404, 20404, f"The requested resource {PREFIX}/{acct}/Conferences/{what} was not found")

    async def list_conferences(self, form: FormMultiDict, acct: str) -> Response[Any]:
        rooms = [r for r in self.sim.conferences.rooms.values() if r.account_sid == acct
                 and (not form.get("FriendlyName") or r.friendly_name == form.get("FriendlyName"))
                 and (not form.get("Status") or r.status == form.get("Status"))]
        items = [r.json() for r in reversed(rooms)]
        return Response({"conferences": items, "page": 0, "page_size": 50, "start": 0, "end": len(items) - 1,
                         "first_page_uri": f"{PREFIX}/{acct}/Conferences.json?PageSize=50&Page=0",
                         "next_page_uri": None, "previous_page_uri": None, "uri": f"{PREFIX}/{acct}/Conferences.json"})

    async def fetch_conference(self, form: FormMultiDict, acct: str, conf: str) -> Response[Any]:
        room = self._room(acct, conf)
        return Response(room.json()) if room is not None else self._missing(acct, f"{conf}.json")

    async def update_conference(self, form: FormMultiDict, acct: str, conf: str) -> Response[Any]:
        room = self._room(acct, conf)
        if room is None:
            return self._missing(acct, f"{conf}.json")
        if form.get("Status") == "completed":
            await self.sim.conferences.end_by_api(room)
        return Response(room.json())

    async def list_participants(self, form: FormMultiDict, acct: str, conf: str) -> Response[Any]:
        room = self._room(acct, conf)
        if room is None:
            return self._missing(acct, f"{conf}/Participants.json")
        items = [p.json() for p in room.live()]
        for name, key in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching")):
            if form.get(name):
                items = [i for i in items if i[key] == (form.get(name).lower() == "true")]
        return Response({"participants": items, "page": 0, "page_size": 50, "start": 0, "end": len(items) - 1,
                         "first_page_uri": f"{PREFIX}/{acct}/Conferences/{room.sid}/Participants.json?PageSize=50"
                                           "&Page=0", "next_page_uri": None, "previous_page_uri": None,
                         "uri": f"{PREFIX}/{acct}/Conferences/{room.sid}/Participants.json"})

    async def create_participant(self, form: FormMultiDict, acct: str, conf: str) -> Response[Any]:
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not from_:
            return _error(400, 21213, "No 'From' number is specified")
        if from_ not in self.sim.numbers or self.sim.numbers[from_].account_sid != acct:
            return _error(400, 21210, f"The source phone number provided, {from_}, is not yet verified for your "
                          "account")
        name = unquote(conf)
        room = self.sim.conferences.get(acct, name, create=not name.startswith("CF"))
        if room is None or room.status == "completed":
            return self._missing(acct, f"{conf}/Participants.json")
        coach = form.get("CallSidToCoach", "")
        if form.get("Coaching", "").lower() == "true" and not coach:
            return _error(400, 16027, "CallSidToCoach is required when Coaching is true")
        if coach and room.find(coach) is None:
            return _error(400, 16028, f"The participant to coach, {coach}, is not in this conference")
        events = tuple(e for v in form.getall("StatusCallbackEvent", []) for e in v.split())
        leg = self.sim.new_leg(acct, to=to, from_=from_, status_callback=form.get("StatusCallback", ""),
                               status_events=events)
        participant = self.sim.conferences.add(room, form, leg)
        return Response(participant.json(), status_code=201)

    def _participant(self, acct: str, conf: str, who: str) -> Any:
        room = self._room(acct, conf)
        return (room, room.find(unquote(who))) if room is not None else (None, None)

    async def fetch_participant(self, form: FormMultiDict, acct: str, conf: str, who: str) -> Response[Any]:
        _, p = self._participant(acct, conf, who)
        return Response(p.json()) if p is not None else self._missing(acct, f"{conf}/Participants/{who}.json")

    async def update_participant(self, form: FormMultiDict, acct: str, conf: str, who: str) -> Response[Any]:
        room, p = self._participant(acct, conf, who)
        if p is None:
            return self._missing(acct, f"{conf}/Participants/{who}.json")
        coach = form.get("CallSidToCoach", "")
        if coach and room.find(coach) is None:
            return _error(400, 16028, f"The participant to coach, {coach}, is not in this conference")
        if form.get("Coaching", "").lower() == "true" and not (coach or p.call_sid_to_coach):
            return _error(400, 16027, "CallSidToCoach is required when Coaching is true")
        await self.sim.conferences.update(room, p, form)
        return Response(p.json())

    async def delete_participant(self, form: FormMultiDict, acct: str, conf: str, who: str) -> Response[Any]:
        room, p = self._participant(acct, conf, who)
        if p is None:
            return self._missing(acct, f"{conf}/Participants/{who}.json")
        await self.sim.conferences.kick(room, p)
        return Response(None, status_code=204)


def create_app(sim: Simulator) -> Litestar:
    """The simulator as an ASGI app: Twilio's REST API, and the phone page for `make run` at /."""
    api = Api(sim)

    @route(PREFIX + "/{rest:path}", http_method=["GET", "POST", "DELETE"], include_in_schema=False, status_code=200)
    async def twilio_api(request: Request[Any, Any, Any], rest: FromPath[str]) -> Response[Any]:
        return await api.dispatch(request, rest)

    return Litestar(route_handlers=[twilio_api, *handlers(sim)], openapi_config=None, debug=False)
