"""The simulator's Conferences and their Participants, as Twilio's docs describe them.

- `<Dial><Conference>` (TwiML) and `Conferences/{Sid or FriendlyName}/Participants.json` (REST) both create the
  conference on first use; it starts (audio mixed) once a participant with startConferenceOnEnter joins, and ends
  when a participant with endConferenceOnExit leaves, the last one leaves, or `Status=completed` is posted.
- Participants: muted, hold (the held one hears HoldUrl), coaching with CallSidToCoach (only the coached call hears
  the coach), label; the Participants list shows only those connecting or connected, never historical ones.
- The conference's statusCallback gets signed form POSTs with StatusCallbackEvent conference-start/-end,
  participant-join/-leave/-mute/-unmute/-hold/-unhold/-modify, announcement-end, each with SequenceNumber.
- `record="record-from-start"` records the mix; the recording status callback names the ConferenceSid.
- AnnounceUrl on a participant plays a TwiML document (<Say>, <Play>, <Play digits>) to that participant only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from telephony.simulator.resources import API_VERSION, rfc2822, sid, utcnow

if TYPE_CHECKING:
    from telephony.simulator.core import Call, Simulator

CONFERENCE_EVENTS = {"start": ("conference-start",), "end": ("conference-end",),
                     "join": ("participant-join",), "leave": ("participant-leave",),
                     "mute": ("participant-mute", "participant-unmute"),
                     "hold": ("participant-hold", "participant-unhold"), "modify": ("participant-modify",),
                     "announcement": ("announcement-end", "announcement-fail"), "speaker": ()}


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def _tf(value: bool) -> str:
    return "true" if value else "false"


@dataclasses.dataclass
class Participant:
    call_sid: str
    conference: Conference
    label: str | None = None
    muted: bool = False
    hold: bool = False
    hold_url: str = ""
    coaching: bool = False
    call_sid_to_coach: str | None = None
    start_on_enter: bool = True
    end_on_exit: bool = False
    status: str = "queued"  # queued | connecting | ringing | connected | complete | failed
    created: dt.datetime = dataclasses.field(default_factory=utcnow)
    updated: dt.datetime = dataclasses.field(default_factory=utcnow)
    left: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    leave_reason: str = ""
    staying: bool = False
    """In the room and waiting for nothing but people (what `Simulator.settle` counts as idle)."""

    def json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.conference.account_sid}/Conferences/{self.conference.sid}"
        return {"account_sid": self.conference.account_sid, "call_sid": self.call_sid, "label": self.label,
                "call_sid_to_coach": self.call_sid_to_coach, "coaching": self.coaching,
                "conference_sid": self.conference.sid, "date_created": rfc2822(self.created),
                "date_updated": rfc2822(self.updated), "end_conference_on_exit": self.end_on_exit,
                "muted": self.muted, "hold": self.hold, "start_conference_on_enter": self.start_on_enter,
                "status": self.status, "queue_time": None, "uri": f"{base}/Participants/{self.call_sid}.json"}


@dataclasses.dataclass
class Conference:
    sid: str
    account_sid: str
    friendly_name: str
    status: str = "init"  # init | in-progress | completed
    status_callback: str = ""
    status_events: tuple[str, ...] = ()
    record: bool = False
    recording_callback: str = ""
    recording_events: tuple[str, ...] = ("completed",)
    participants: dict[str, Participant] = dataclasses.field(default_factory=dict)
    """Every participant ever, by CallSid (the REST list shows only the live ones)."""
    sequence: int = 0
    created: dt.datetime = dataclasses.field(default_factory=utcnow)
    updated: dt.datetime = dataclasses.field(default_factory=utcnow)
    started_clock: float | None = None
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def live(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.status in ("queued", "connecting", "ringing", "connected")]

    def connected(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.status == "connected"]

    def find(self, sid_or_label: str) -> Participant | None:
        found = self.participants.get(sid_or_label)
        if found is None:
            found = next((p for p in self.live() if p.label and p.label == sid_or_label), None)
        return found if found is not None and found.status != "complete" else None

    def json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.sid}"
        return {"sid": self.sid, "account_sid": self.account_sid, "friendly_name": self.friendly_name,
                "status": self.status, "region": "us1", "api_version": API_VERSION,
                "date_created": rfc2822(self.created), "date_updated": rfc2822(self.updated),
                "reason_conference_ended": self.reason_ended, "call_sid_ending_conference": self.call_sid_ending,
                "uri": base + ".json", "subresource_uris": {"participants": base + "/Participants.json",
                                                            "recordings": base + "/Recordings.json"}}


class Conferences:
    """The conferences of one simulator; `sim` runs the calls, this keeps who is in which room."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.rooms: dict[str, Conference] = {}

    # -- lookup ------------------------------------------------------------------------------------------------

    def get(self, account_sid: str, sid_or_name: str, *, create: bool = False) -> Conference | None:
        """By sid, or the live conference of that friendly name (created when `create`)."""
        room = self.rooms.get(sid_or_name)
        if room is not None and room.account_sid == account_sid:
            return room
        for room in self.rooms.values():
            if room.account_sid == account_sid and room.friendly_name == sid_or_name and room.status != "completed":
                return room
        if not create:
            return None
        room = Conference(sid=sid("CF"), account_sid=account_sid, friendly_name=sid_or_name)
        self.rooms[room.sid] = room
        return room

    def of_call(self, call_sid: str) -> tuple[Conference, Participant] | None:
        """The live conference the call is in now."""
        for room in self.rooms.values():
            p = room.participants.get(call_sid)
            if p is not None and p.status in ("connecting", "ringing", "connected") and room.status != "completed":
                return room, p
        return None

    def together(self, *call_sids: str) -> Conference | None:
        """The started conference in which all these calls are connected now (they hear each other unless held)."""
        for room in self.rooms.values():
            if room.status == "in-progress" and all(
                    (p := room.participants.get(s)) is not None and p.status == "connected" for s in call_sids):
                return room
        return None

    def configure(self, room: Conference, *, status_callback: str = "", events: str = "", record: str = "",
                  recording_callback: str = "", recording_events: str = "") -> None:
        """The first participant to give a setting fixes it for the conference (Twilio: the first to join)."""
        if status_callback and not room.status_callback:
            room.status_callback = status_callback
            room.status_events = tuple(events.split()) if events else ("start", "end")
        if record and record != "do-not-record" and not room.record:
            room.record = True
            room.recording_callback = recording_callback
            room.recording_events = tuple(recording_events.split()) if recording_events else ("completed",)

    # -- callbacks ---------------------------------------------------------------------------------------------

    async def _callback(self, room: Conference, event: str, p: Participant | None = None, **extra: str) -> None:
        if not room.status_callback:
            return
        if not any(event in CONFERENCE_EVENTS.get(kind, ()) for kind in room.status_events):
            return
        params = {"AccountSid": room.account_sid, "ConferenceSid": room.sid, "FriendlyName": room.friendly_name,
                  "StatusCallbackEvent": event, "Timestamp": rfc2822(utcnow()) or "",
                  "SequenceNumber": str(room.sequence)}
        room.sequence += 1
        if p is not None:
            params.update({"CallSid": p.call_sid, "Muted": _tf(p.muted), "Hold": _tf(p.hold),
                           "Coaching": _tf(p.coaching), "EndConferenceOnExit": _tf(p.end_on_exit),
                           "StartConferenceOnEnter": _tf(p.start_on_enter)})
            if p.label:
                params["ParticipantLabel"] = p.label
            if p.call_sid_to_coach:
                params["CallSidToCoach"] = p.call_sid_to_coach
        params.update(extra)
        await self.sim.post(room.account_sid, room.status_callback, params)

    # -- membership --------------------------------------------------------------------------------------------

    async def join(self, room: Conference, call: Call, p: Participant) -> None:
        p.status, p.updated = "connected", utcnow()
        room.participants[call.sid] = p
        await self._callback(room, "participant-join", p)
        if room.status == "init" and p.start_on_enter:
            room.status, room.started_clock, room.updated = "in-progress", self.sim.clock.now(), utcnow()
            await self._callback(room, "conference-start")
            if room.record and room.recording_callback and "in-progress" in room.recording_events:
                self.sim.spawn(self._recording_callback(room, "in-progress", 0, None))
        if p.hold:
            self._play_hold(call, p)
        elif room.status == "init":
            call.heard.append("[conference wait music]")

    async def stay(self, room: Conference, call: Call, p: Participant) -> str:
        """Wait in the room until this participant leaves: 'kicked', 'ended' (the conference), or CallEnded/cancel
        propagate from the caller (the call hung up or was redirected to new TwiML)."""
        waiters = {asyncio.ensure_future(p.left.wait()), asyncio.ensure_future(room.ended.wait())}
        p.staying = True
        try:
            await self.sim._wait(call, asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED))
        finally:
            p.staying = False
            for w in waiters:
                w.cancel()
        return p.leave_reason or ("ended" if room.ended.is_set() else "kicked")

    async def leave(self, room: Conference, p: Participant, reason: str) -> None:
        """The participant is out (hung up, kicked, redirected, the conference ended): say so, and end the room when
        its end-on-exit participant or its last participant left."""
        if p.status == "complete":
            return
        p.status, p.updated, p.leave_reason = "complete", utcnow(), reason
        p.left.set()
        call = self.sim.calls.get(p.call_sid)
        if call is not None:
            call.held = False
        if room.status == "completed":
            return
        await self._callback(room, "participant-leave", p)
        if p.end_on_exit and room.status == "in-progress":
            await self.end(room, "participant-with-end-conference-on-exit-left", p)
        elif not room.connected():
            await self.end(room, "last-participant-left", p)

    async def end(self, room: Conference, reason: str, by: Participant | None = None) -> None:
        if room.status == "completed":
            return
        was_started = room.status == "in-progress"
        room.status, room.updated, room.reason_ended = "completed", utcnow(), reason
        room.call_sid_ending = by.call_sid if by else None
        extra = {"ReasonConferenceEnded": reason, "Reason": {
            "participant-with-end-conference-on-exit-left": "Participant with End Conference On Exit left",
            "last-participant-left": "Last participant left", "conference-ended-via-api": "Ended via API"}
            .get(reason, reason)}
        if by is not None:
            extra["CallSidEndingConference"] = by.call_sid
            if by.label:
                extra["ParticipantLabelEndingConference"] = by.label
        for other in room.live():  # everyone still in the room is disconnected, each with its leave event
            was_connected = other.status == "connected"
            other.status, other.updated, other.leave_reason = "complete", utcnow(), "ended"
            other.left.set()
            if was_connected:
                await self._callback(room, "participant-leave", other)
        room.ended.set()
        await self._callback(room, "conference-end", **extra)
        if was_started and room.record and room.recording_callback:
            seconds = max(0, round(self.sim.clock.now() - (room.started_clock or self.sim.clock.now())))
            rec = self.sim._make_recording_of(room.account_sid, "", seconds, "Conference", 2, conference_sid=room.sid)
            self.sim.spawn(self._recording_callback(room, "completed", seconds, rec))

    async def _recording_callback(self, room: Conference, status: str, seconds: int, rec: Any) -> None:
        await self.sim.clock.sleep(0.1)
        params = {"AccountSid": room.account_sid, "ConferenceSid": room.sid, "RecordingStatus": status,
                  "RecordingSource": "Conference",
                  "RecordingChannels": "2", "RecordingTrack": "both",
                  "RecordingStartTime": rfc2822(room.created) or ""}
        if rec is not None:
            params.update({"RecordingSid": rec.sid, "RecordingUrl": self.sim.recording_url(rec),
                           "RecordingDuration": str(seconds)})
        else:
            params["RecordingSid"] = f"RE{room.sid[2:]}"
        if status != "completed" and "in-progress" not in room.recording_events:
            return
        await self.sim.post(room.account_sid, room.recording_callback, params)

    def _play_hold(self, call: Call, p: Participant) -> None:
        call.held = True
        call.heard.append(f"[play {p.hold_url}]" if p.hold_url else "[hold music]")

    # -- TwiML: <Dial><Conference> -----------------------------------------------------------------------------

    async def dial(self, call: Call, verb: ET.Element, noun: ET.Element) -> tuple[str, str] | None:
        """Run a <Dial><Conference>: the call joins the room and stays until it leaves; then the Dial's action
        (DialCallStatus completed) or the next verb."""
        a = noun.attrib
        room = self.get(call.account_sid, (noun.text or "").strip(), create=True)
        assert room is not None
        if room.status == "completed":
            room = self.get(call.account_sid, room.friendly_name, create=True)
            assert room is not None
        self.configure(room, status_callback=a.get("statusCallback", ""), events=a.get("statusCallbackEvent", ""),
                       record=a.get("record", ""), recording_callback=a.get("recordingStatusCallback", ""),
                       recording_events=a.get("recordingStatusCallbackEvent", ""))
        coach = a.get("coach") or None
        p = Participant(call_sid=call.sid, conference=room, label=a.get("participantLabel") or None,
                        muted=_flag(a.get("muted")), start_on_enter=_flag(a.get("startConferenceOnEnter"), True),
                        end_on_exit=_flag(a.get("endConferenceOnExit")), coaching=coach is not None,
                        call_sid_to_coach=coach)
        call.current = "Joining"  # busy (not idle) until the join's callbacks are delivered
        try:
            # The join is inside: a redirect can come while its callbacks are still in flight (slow webhooks under
            # load), and Twilio takes a redirected call out of its conference whatever it was doing.
            await self.join(room, call, p)
            call.current = "Dial"
            await self.stay(room, call, p)
        except BaseException:
            # hung up (CallEnded) or redirected by REST (cancelled): out of the room, and the call goes on elsewhere
            await asyncio.shield(self.leave(room, p, "hangup" if call.ended.is_set() else "redirected"))
            raise
        await asyncio.shield(self.leave(room, p, "kicked"))  # a redirect now must not leave the room half-ended
        action = verb.attrib.get("action", "")
        if action:
            doc = await self.sim._fetch(call, action, self.sim._call_params(call, DialCallStatus="completed"))
            return action, doc
        return None

    # -- REST: Participants ------------------------------------------------------------------------------------

    def add(self, room: Conference, form: Any, leg: Call) -> Participant:
        """Participants.json POST: a new call to `To`; when it answers it joins the room with these settings."""
        p = Participant(call_sid=leg.sid, conference=room, label=form.get("Label") or None,
                        muted=_flag(form.get("Muted")), hold=_flag(form.get("Hold")),
                        hold_url=form.get("HoldUrl", ""), coaching=_flag(form.get("Coaching")),
                        call_sid_to_coach=form.get("CallSidToCoach") or None,
                        start_on_enter=_flag(form.get("StartConferenceOnEnter"), True),
                        end_on_exit=_flag(form.get("EndConferenceOnExit")), status="queued")
        if p.call_sid_to_coach and "Coaching" not in form:
            p.coaching = True
        room.participants[leg.sid] = p
        self.configure(room, status_callback=form.get("ConferenceStatusCallback", ""),
                       events=" ".join(form.getall("ConferenceStatusCallbackEvent", [])),
                       record=form.get("ConferenceRecord", ""),
                       recording_callback=form.get("ConferenceRecordingStatusCallback", ""),
                       recording_events=" ".join(form.getall("ConferenceRecordingStatusCallbackEvent", [])))
        leg.task = self.sim.spawn(self._participant_leg(room, leg, p, int(form.get("Timeout", "60") or 60)))
        return p

    async def _participant_leg(self, room: Conference, leg: Call, p: Participant, ring_for: int) -> None:
        sim = self.sim
        await sim._status_callback(leg, "initiated", "initiated")
        p.status = "ringing"
        await sim._status_callback(leg, "ringing", "ringing")
        task = asyncio.current_task()
        task.sb_idle = lambda: leg.status == "ringing" or p.staying  # type: ignore[union-attr]
        answered = asyncio.ensure_future(leg.answered.wait())
        ended = asyncio.ensure_future(leg.ended.wait())
        gone = asyncio.ensure_future(room.ended.wait())
        done, pending = await asyncio.wait({answered, ended, gone}, timeout=ring_for,
                                           return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        if answered not in done or room.status == "completed":
            p.status = "failed" if answered not in done else "complete"
            p.left.set()
            leg.end_clock = leg.start_clock = sim.clock.now()
            await sim._status_callback(leg, "no-answer" if answered not in done and not leg.ended.is_set()
                                       else "canceled", "completed")
            if room.status != "completed" and not room.connected():
                await self.end(room, "last-participant-left")
            return
        leg.start_clock, leg.start_time = sim.clock.now(), utcnow()
        await sim._status_callback(leg, "in-progress", "answered")
        leg.current = "Conference"
        await self.join(room, leg, p)
        try:
            await self.stay(room, leg, p)
        except Exception:  # noqa: S110 (CallEnded: the person hung up; their leave is below)
            pass
        await self.leave(room, p, "hangup" if leg.ended.is_set() else p.leave_reason or "kicked")
        await sim._complete(leg)

    async def update(self, room: Conference, p: Participant, form: Any) -> None:
        """Participants/{CallSid}.json POST: mute, hold (with HoldUrl), coaching, announce; callbacks follow."""
        call = self.sim.calls.get(p.call_sid)
        events: list[str] = []
        if "Muted" in form and _flag(form.get("Muted")) != p.muted:
            p.muted = _flag(form.get("Muted"))
            events.append("participant-mute" if p.muted else "participant-unmute")
        if "HoldUrl" in form:
            p.hold_url = form.get("HoldUrl", "")
        if "Hold" in form and _flag(form.get("Hold")) != p.hold:
            p.hold = _flag(form.get("Hold"))
            events.append("participant-hold" if p.hold else "participant-unhold")
            if call is not None:
                if p.hold:
                    self._play_hold(call, p)
                else:
                    call.held = False
        modified = False
        if "Coaching" in form and _flag(form.get("Coaching")) != p.coaching:
            p.coaching, modified = _flag(form.get("Coaching")), True
            if not p.coaching:
                p.call_sid_to_coach = None
        if form.get("CallSidToCoach") and form.get("CallSidToCoach") != p.call_sid_to_coach:
            p.call_sid_to_coach, modified = form.get("CallSidToCoach"), True
            p.coaching = True
        if "EndConferenceOnExit" in form:
            p.end_on_exit = _flag(form.get("EndConferenceOnExit"))
        if modified:
            events.append("participant-modify")
        p.updated = utcnow()
        if events:  # Twilio answers the update first; its callbacks follow on their own
            self.sim.spawn(self._callbacks(room, events, p))
        if form.get("AnnounceUrl") and call is not None:
            self.sim.spawn(self._announce(room, p, call, form.get("AnnounceUrl", "")))

    async def _callbacks(self, room: Conference, events: list[str], p: Participant) -> None:
        for event in events:
            await self._callback(room, event, p)

    async def _announce(self, room: Conference, p: Participant, call: Call, url: str) -> None:
        """Twilio requests the AnnounceUrl (signed) and plays the document to this participant only."""
        params = {"AccountSid": room.account_sid, "ConferenceSid": room.sid, "FriendlyName": room.friendly_name,
                  "CallSid": p.call_sid}
        try:
            text = await self.sim._fetch(call, url, params)
            root = ET.fromstring(text)  # noqa: S314 (our own app's answer, parsed by a test double)
        except Exception:  # any failure is Twilio's announcement-fail
            await self._callback(room, "announcement-fail", p)
            return
        for verb in root:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Play" and verb.attrib.get("digits"):
                call.heard.append(f"[dtmf {verb.attrib['digits']}]")
                call.dtmf_heard += verb.attrib["digits"]
            elif verb.tag == "Play":
                call.heard.append(f"[play {verb.text}]")
        await self._callback(room, "announcement-end", p)

    async def kick(self, room: Conference, p: Participant) -> None:
        """Participants/{CallSid}.json DELETE: out of the room; an API-created leg then ends, a TwiML one goes on."""
        p.leave_reason = "kicked"
        p.left.set()

    async def end_by_api(self, room: Conference) -> None:
        await self.end(room, "conference-ended-via-api")
