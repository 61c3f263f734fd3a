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
