"""The hold loop's TwiML with the callback offer: only verbs Twilio runs in a waitUrl document, the digit gathered
inside it, the prompt in the workspace's language; and the digit's answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from telephony import twiml
from telephony.simulator.core import WAIT_VERBS


def urls() -> twiml.Urls:
    return twiml.Urls("shop")


def _root(xml: str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 (our own builder's output)


def test_the_offer_is_a_one_digit_gather_around_the_prompt_and_the_music() -> None:
    root = _root(twiml.wait(3, 10, 60, urls(), offer_callback=True))
    assert [v.tag for v in root] == ["Gather"] and all(v.tag in WAIT_VERBS for v in root)
    gather = root[0]
    assert gather.attrib["numDigits"] == "1" and gather.attrib["action"].endswith("/t/shop/webhooks/twilio/callback")
    assert [c.tag for c in gather] == ["Say", "Play"]
    assert "number 3 in line" in (gather[0].text or "") and "Press 1 to hang up" in (gather[0].text or "")
    assert (gather[1].text or "").endswith("/telephony/hold-music.wav")


def test_without_the_offer_the_loop_is_unchanged_and_the_timeout_still_leaves() -> None:
    root = _root(twiml.wait(1, 5, 60, urls()))
    assert [v.tag for v in root] == ["Say", "Play"] and "Press" not in (root[0].text or "")
    assert [v.tag for v in _root(twiml.wait(1, 60, 60, urls(), offer_callback=True))] == ["Leave"]


def test_the_prompt_speaks_the_workspace_language() -> None:
    gather = _root(twiml.wait(2, 5, 60, urls(), offer_callback=True, language="bg"))[0]
    say = gather[0]
    assert say.attrib["language"] == "bg-BG" and "Натиснете 1" in (say.text or "")


def test_the_digit_leaves_the_queue_and_any_other_key_keeps_waiting() -> None:
    assert [v.tag for v in _root(twiml.callback_confirmed("ru"))] == ["Say", "Leave"]
    assert list(_root(twiml.keep_waiting())) == []
    assert [v.tag for v in _root(twiml.callback_goodbye())] == ["Say", "Hangup"]


CLOSED = {"outside_hours_call": "callback", "reopens_local": None}


def test_outside_hours_the_callback_offer_falls_through_to_the_voicemail() -> None:
    xml, meta = twiml.closed_queue(urls(), "sales", CLOSED, caller="+14155550199")
    root = _root(xml)
    assert [v.tag for v in root] == ["Say", "Gather", "Say", "Record", "Say", "Hangup"]
    gather = root[1]
    assert gather.attrib["numDigits"] == "1" and int(gather.attrib["timeout"]) > 0
    assert gather.attrib["action"].endswith("/t/shop/webhooks/twilio/closed-callback?queue=sales")
    assert "Press 1 to be called back when we open" in (gather[0].text or "")
    assert meta["route"] == "voicemail" and meta["queue"] == "sales" and meta["offered"] == "callback"


def test_outside_hours_no_offer_for_voicemail_queues_or_withheld_numbers() -> None:
    for closed, caller in (({**CLOSED, "outside_hours_call": "voicemail"}, "+14155550199"), (CLOSED, "anonymous")):
        xml, meta = twiml.closed_queue(urls(), "sales", closed, caller=caller)
        assert "Gather" not in [v.tag for v in _root(xml)] and "offered" not in meta


def test_the_closed_offer_and_its_confirmation_speak_the_workspace_language() -> None:
    root = _root(twiml.closed_queue(urls(), "sales", CLOSED, caller="+14155550199", language="bg")[0])
    assert root[0].attrib["language"] == "bg-BG" and "не работим" in (root[0].text or "")
    assert "Натиснете 1" in (root[1][0].text or "")
    done = _root(twiml.closed_callback_confirmed("ru"))
    assert [v.tag for v in done] == ["Say", "Hangup"] and "когда откроемся" in (done[0].text or "")
