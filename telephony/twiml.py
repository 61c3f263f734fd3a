"""TwiML our webhooks answer, built with twilio's VoiceResponse (no hand-written XML)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import struct
import wave
from typing import Any
from urllib.parse import urlencode

from babel import dates as babel_dates
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, VoiceResponse

from app.lib import i18n
from telephony.config import Config, webhook_base

VOICEMAIL_MAX_SECONDS = 120
CALLBACK_DIGIT = "1"
CLOSED_OFFER_SECONDS = 5
"""How long the closed greeting's callback offer waits for the digit before the voicemail's beep."""
HOLD_MUSIC_PATH = "/telephony/hold-music.wav"


class Urls:
    """The tenant's webhook URLs as Twilio must call them (absolute, from BASE_URL)."""

    def __init__(self, slug: str) -> None:
        self.base = webhook_base(slug)

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return f"{self.base}/{name.replace('_', '-')}"

    @property
    def hold_music(self) -> str:
        return self.base.split("/t/", 1)[0] + HOLD_MUSIC_PATH


def empty() -> str:
    return str(VoiceResponse())


def empty_messaging() -> str:
    return str(MessagingResponse())


def _voicemail(r: VoiceResponse, urls: Urls, prompt: str, *, language: str | None = None,
               silence: str = "We did not get a message. Goodbye.") -> VoiceResponse:
    r.say(prompt, language=language)
    r.record(action=urls.voicemail, method="POST", max_length=VOICEMAIL_MAX_SECONDS, play_beep=True,
             recording_status_callback=urls.recording, recording_status_callback_event="completed absent",
             recording_status_callback_method="POST")
    r.say(silence, language=language)
    r.hangup()
    return r


def voicemail(urls: Urls, reason: str, reopens: dt.datetime | None = None) -> str:
    """`reopens`: when the queue's calendar opens again, in its own zone (said as "We open again Monday at 09:00")."""
    prompt = ("We are closed right now." if reason == "after_hours" else "Nobody could take your call.")
    if reopens is not None:
        prompt += f" We open again {reopens.strftime('%A')} at {reopens.strftime('%H:%M')}."
    prompt += " Please leave a message after the beep, and we will call you back."
    return str(_voicemail(VoiceResponse(), urls, prompt))


def closed_queue(urls: Urls, queue_key: str, closed: dict[str, Any], *, caller: str = "",
                 language: str = "") -> tuple[str, dict[str, Any]]:
    """A call to a queue whose calendar is closed (app.hours.services.closed_now): voicemail with the closed greeting.
    A queue set to offer a callback outside hours (and a caller with a number to call back) first hears the offer in
    a one-digit <Gather> (closed_offer); no key falls through to the same voicemail."""
    meta = {"route": "voicemail", "reason": "after_hours", "queue": queue_key,
            "outside_hours_call": closed["outside_hours_call"]}
    if closed["outside_hours_call"] == "callback" and caller.startswith("+"):
        return closed_offer(urls, queue_key, closed["reopens_local"], language), {**meta, "offered": "callback"}
    return voicemail(urls, "after_hours", closed["reopens_local"]), meta


def closed_offer(urls: Urls, queue_key: str, reopens: dt.datetime | None, language: str = "") -> str:
    """Outside hours, with callbacks offered: the closed greeting and the offer in the workspace language; pressing
    CALLBACK_DIGIT posts to the closed-callback URL (which names the queue), silence leaves a message."""
    r = VoiceResponse()
    with i18n.viewing(language or None):
        lang = _say_language()
        greeting = i18n.gettext("We are closed right now.")
        if reopens is not None:
            day = babel_dates.format_date(reopens, "EEEE", locale=i18n.babel_locale(i18n.current().language))
            greeting += " " + i18n.gettext("We open again %(day)s at %(time)s.", day=day,
                                           time=reopens.strftime("%H:%M"))
        r.say(greeting, language=lang)
        gather = r.gather(num_digits=1, action=f"{urls.closed_callback}?{urlencode({'queue': queue_key})}",
                          method="POST", timeout=CLOSED_OFFER_SECONDS)
        gather.say(i18n.gettext("Press %(digit)s to be called back when we open, or stay on the line to leave a "
                                "message.", digit=CALLBACK_DIGIT), language=lang)
        _voicemail(r, urls, i18n.gettext("Please leave a message after the beep, and we will call you back."),
                   language=lang, silence=i18n.gettext("We did not get a message. Goodbye."))
    return str(r)


def closed_callback_confirmed(language: str = "") -> str:
    """The closed offer's digit was taken: a word, and the call ends (no voicemail)."""
    r = VoiceResponse()
    with i18n.viewing(language or None):
        r.say(i18n.gettext("Thank you. We will call you back when we open. Goodbye."), language=_say_language())
    r.hangup()
    return str(r)


def ivr_prompt(config: Config, queue_names: dict[str, str]) -> str:
    parts = [f"For {queue_names.get(key, key)}, press {digit}." for digit, key in sorted(config.ivr.items())]
    return " ".join(parts)


def reject() -> str:
    """Refuse the call before it is answered (the caller hears busy; nothing is billed): a blocked number."""
    r = VoiceResponse()
    r.reject(reason="busy")
    return str(r)


def inbound(config: Config, urls: Urls, queue_names: dict[str, str], *, open_now: bool) -> tuple[str, dict[str, str]]:
    """The answer to a new call, and what it decided (for the processing job)."""
    if not open_now:
        return voicemail(urls, "after_hours"), {"route": "voicemail", "reason": "after_hours"}
    r = VoiceResponse()
    if config.greeting:
        r.say(config.greeting)
    if config.ivr:
        gather = r.gather(num_digits=1, action=urls.gather, method="POST", timeout=6)
        gather.say(ivr_prompt(config, queue_names))
        # No key pressed: Twilio falls through to the next verb; the gather URL then routes to the default queue.
        r.redirect(urls.gather, method="POST")
        return str(r), {"route": "ivr"}
    return str(enqueue(r, urls, "general")), {"route": "queue", "queue": "general"}


def enqueue(r: VoiceResponse, urls: Urls, queue_key: str) -> VoiceResponse:
    r.enqueue(queue_key, action=urls.enqueue_action, method="POST", wait_url=urls.wait, wait_url_method="POST")
    return r


def queued(queue_key: str, urls: Urls) -> str:
    return str(enqueue(VoiceResponse(), urls, queue_key))


SAY_LANGUAGES = {"en": "en-US", "ru": "ru-RU", "bg": "bg-BG"}
"""<Say language> per workspace language (Twilio's codes)."""


def _say_language() -> str:
    return SAY_LANGUAGES.get(i18n.current().language, "en-US")


def wait(position: int, queue_seconds: int, timeout: int, urls: Urls, *, offer_callback: bool = False,
         language: str = "") -> str:
    """The hold loop (the Enqueue's waitUrl document, run again each time it ends). With `offer_callback`, the
    prompt and the music sit in a one-digit <Gather> (a verb Twilio allows in a waitUrl document): pressing
    CALLBACK_DIGIT posts it to our callback URL, which answers <Leave/>."""
    r = VoiceResponse()
    if queue_seconds >= timeout:
        r.leave()
        return str(r)
    with i18n.viewing(language or None):
        line = i18n.gettext("You are number %(position)s in line. Thank you for waiting.", position=position)
        if not offer_callback:
            r.say(line, language=_say_language())
            r.play(urls.hold_music)
            return str(r)
        offer = i18n.gettext("Press %(digit)s to hang up and be called back without losing your place.",
                             digit=CALLBACK_DIGIT)
        gather = r.gather(num_digits=1, action=urls.callback, method="POST", timeout=1)
        gather.say(f"{line} {offer}", language=_say_language())
        gather.play(urls.hold_music)
    return str(r)


def callback_confirmed(language: str = "") -> str:
    """The callback digit's answer, still in the queue's wait: a word, then out of the queue (the Enqueue's action
    URL is requested with QueueResult=leave and ends the call)."""
    r = VoiceResponse()
    with i18n.viewing(language or None):
        r.say(i18n.gettext("Thank you. We will call you back and you keep your place in line."),
              language=_say_language())
    r.leave()
    return str(r)


def callback_goodbye(language: str = "") -> str:
    r = VoiceResponse()
    with i18n.viewing(language or None):
        r.say(i18n.gettext("Goodbye."), language=_say_language())
    r.hangup()
    return str(r)


def keep_waiting() -> str:
    """Any other key in the hold loop: nothing happens; the wait document runs again."""
    return str(VoiceResponse())


def _dial(config: Config, urls: Urls, **extra: str | int) -> Dial:
    attrs: dict[str, str | int] = {"action": urls.dial_action, "method": "POST", "timeout": 20, **extra}
    if config.record_calls:
        attrs.update(record="record-from-answer-dual", recording_status_callback=urls.recording,
                     recording_status_callback_event="completed absent", recording_status_callback_method="POST")
    return Dial(**attrs)


CONFERENCE_EVENTS = "start end join leave mute hold modify announcement"


def _conference_dial(r: VoiceResponse, config: Config, urls: Urls, name: str, *, label: str, start: bool) -> str:
    dial = Dial()
    attrs: dict[str, str] = {}
    if config.record_calls:
        attrs.update(record="record-from-start", recording_status_callback=urls.recording,
                     recording_status_callback_event="in-progress completed absent",
                     recording_status_callback_method="POST")
    dial.conference(name, start_conference_on_enter=start, end_conference_on_exit=True, beep="false",
                    wait_url=urls.hold_music, wait_method="GET", status_callback=urls.conference,
                    status_callback_event=CONFERENCE_EVENTS, status_callback_method="POST",
                    participant_label=label, **attrs)
    r.append(dial)
    return str(r)


def join_conference(config: Config, urls: Urls, name: str) -> str:
    """The customer's leg joins the call's conference: hold music until an operator joins (startConferenceOnEnter
    false), and their hang-up ends it for everyone (endConferenceOnExit). The conference reports every join, leave,
    mute, hold and coaching change to our conference callback; the recording, when the shop records calls, is of
    the whole conference."""
    return _conference_dial(VoiceResponse(), config, urls, name, label="customer", start=False)


def click_to_call(config: Config, urls: Urls, name: str, user_id: int) -> str:
    """Runs on the operator's leg of a click-to-call once they answer: they start the call's conference (the same
    callbacks and recording as an inbound call's); their join makes us add the customer as a participant."""
    r = VoiceResponse()
    r.say("Connecting you to the customer.")
    return _conference_dial(r, config, urls, name, label=f"operator-{user_id}", start=True)


def offer_answered(urls: Urls) -> str:
    """The agent answered the phone that rang for an offered call: music until the accept joins them to the caller."""
    r = VoiceResponse()
    r.say("Connecting you to the caller.")
    r.play(urls.hold_music, loop=0)
    return str(r)


def offer_gone() -> str:
    """The agent answered after the offer closed (timed out, taken, withdrawn)."""
    r = VoiceResponse()
    r.say("This call is no longer offered to you. Goodbye.")
    r.hangup()
    return str(r)


def operator_join(config: Config, urls: Urls, name: str, user_id: int) -> str:
    """An answered offer leg, once the offer is accepted: into the call's conference as its operator."""
    return _conference_dial(VoiceResponse(), config, urls, name, label=f"operator-{user_id}", start=True)


DTMF_RE = re.compile(r"^[0-9*#wW]{1,32}$")


def play_digits(digits: str) -> str:
    """An announcement to one conference participant: the keypad's tones (w: half a second's pause)."""
    r = VoiceResponse()
    r.play(digits=digits)
    return str(r)


def after_dial(dial_status: str, urls: Urls) -> str:
    if dial_status in ("completed", "answered"):
        r = VoiceResponse()
        r.hangup()
        return str(r)
    return voicemail(urls, "no_answer")


def goodbye() -> str:
    r = VoiceResponse()
    r.say("Thank you. Goodbye.")
    r.hangup()
    return str(r)


@functools.cache
def hold_music_wav() -> bytes:
    """Two seconds of a soft two-tone chime (8 kHz mono), generated: nothing is fetched from elsewhere."""
    rate, buf = 8000, io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(rate * 2):
            freq = 440.0 if i < rate else 554.37
            frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate)))
        w.writeframes(bytes(frames))
    return buf.getvalue()
