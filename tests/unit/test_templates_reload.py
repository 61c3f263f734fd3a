"""Deployed templates are not looked at on disk per render (TEMPLATES_RELOAD): on in dev, off in prod, settable."""

from __future__ import annotations

import pytest


def test_templates_reload_is_on_in_dev_and_off_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import load_settings

    monkeypatch.delenv("TEMPLATES_RELOAD", raising=False)
    monkeypatch.delenv("WEBHOOK_ALLOW_LOOPBACK", raising=False)
    assert load_settings().app.templates_reload is True  # dev (as tests/conftest.py sets it)
    monkeypatch.setenv("SWITCHBOARD_ENV", "prod")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1:5432/x")
    assert load_settings().app.templates_reload is False
    monkeypatch.setenv("TEMPLATES_RELOAD", "true")
    assert load_settings().app.templates_reload is True


def test_the_template_environment_follows_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import settings
    from app.lib import templates

    monkeypatch.setenv("TEMPLATES_RELOAD", "false")
    settings.get_settings.cache_clear()
    templates.environment.cache_clear()
    try:
        assert templates.environment().auto_reload is False
        html = templates.render_text("_partials/ws_unread.html", {"c": {"id": 1, "unread": 2}, "oob": True})
        assert 'id="ws-unread-1"' in html and ">2</span>" in html
    finally:
        monkeypatch.delenv("TEMPLATES_RELOAD")
        settings.get_settings.cache_clear()
        templates.environment.cache_clear()
    assert templates.environment().auto_reload is True
