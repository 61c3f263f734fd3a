"""The channel registry (app/channels.py) is the one list of channels, and every channel declares all of its shape."""

from __future__ import annotations

import pathlib
import re

import pytest

from app import channels
from app.asgi import create_app
from app.contacts import merge
from app.conversations import services as conversations
from app.timeline import services as timeline
from app.timeline.tables import CHANNELS as TIMELINE_CHANNELS

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "frontend" / "templates"


@pytest.fixture(scope="module")
def fx_app_paths() -> set[str]:
    """Every route path of the app (building it loads every domain, so merge steps and renderers are registered)."""
    return {route.path for route in create_app().routes}


def test_the_registry_is_what_timeline_and_conversations_read() -> None:
    assert channels.KEYS == ("call", "sms", "email", "chat")
    assert conversations.LIVE_CHANNELS == channels.KEYS
    assert set(channels.KEYS) <= set(TIMELINE_CHANNELS)
    assert timeline.CONTACT_CHANNELS == frozenset(channels.KEYS)
    # The timeline's other entries are its own kinds of item, not channels a customer writes on.
    assert set(TIMELINE_CHANNELS) - set(channels.KEYS) == {"note", "file", "order", "task", "system"}


def test_no_other_module_writes_the_channel_list() -> None:
    """A second hand-written list (a tuple or set naming call, sms, email and chat) would drift from the registry."""
    listing = re.compile(r"""["']call["']\s*,\s*["']sms["']\s*,\s*["']email["']\s*,\s*["']chat["']""")
    found = [str(path.relative_to(ROOT)) for package in ("app", "telephony", "realtime", "tenants")
             for path in (ROOT / package).rglob("*.py")
             if "piccolo_migrations" not in path.parts and listing.search(path.read_text())]
    assert found == []


def test_every_channel_declares_its_whole_shape(fx_app_paths: set[str]) -> None:
    loaded = channels.implementations()
    assert list(loaded) == list(channels.KEYS)
    steps = merge.registered()
    for key, channel in loaded.items():
        assert isinstance(channel, channels.Channel)
        assert channel.key == key and len(key) <= 10
        assert channel.label and channel.icon
        assert f"/t/{{slug:str}}/{channel.settings_path}" in fx_app_paths or f"/{channel.settings_path}" in \
            fx_app_paths, f"{key}: no settings page at {channel.settings_path}"
        assert channel.merge_step in steps, f"{key}: merge step {channel.merge_step!r} is not registered"
        assert steps[channel.merge_step], f"{key}: merge step {channel.merge_step!r} names no table"
        if channel.console_partial:
            assert (TEMPLATES / channel.console_partial).is_file()
            assert channel.console_partial in (TEMPLATES / "_partials" / "console_mine.html").read_text()
    # Whatever a customer writes on can be answered from the console; a call is placed, not sent.
    assert {k for k, c in loaded.items() if c.send is not None} == {"sms", "email", "chat"}
    assert {k for k, c in loaded.items() if c.take is not None} == {"call"}


def test_a_line_that_names_the_wrong_object_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.CHANNELS, "chat", "app.email.channel:EMAIL")
    channels.implementations.cache_clear()
    try:
        with pytest.raises(TypeError, match="not the Channel 'chat'"):
            channels.implementations()
    finally:
        monkeypatch.undo()
        channels.implementations.cache_clear()
    assert channels.get("chat").key == "chat"


def test_answers_and_inbound_messages_go_through_the_one_shape() -> None:
    """Handlers answer a customer through `channels.get(key).send`, never the channel's own reply function, and
    every channel's inbound path ends in `conversations.receive_inbound` (no second way to open + record)."""
    direct = re.compile(r"\b(?:operator_reply|outbound\.reply)\(")
    handlers = [path for package in ("app", "telephony") for path in (ROOT / package).rglob("*.py")
                if path.name in ("api.py", "views.py", "console_views.py", "webhook_api.py")]
    assert [str(p.relative_to(ROOT)) for p in handlers if direct.search(p.read_text())] == []
    for inbound in ("telephony/sms.py", "app/email/inbound.py", "app/chat/services.py"):
        source = (ROOT / inbound).read_text()
        assert "receive_inbound(" in source and "conversations.open_conversation(" not in source, inbound
