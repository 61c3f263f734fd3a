"""The consent domain's manifest: the append-only ledger, the suppression list, the card's panel and the API."""

from __future__ import annotations

from app.consent import events, services
from app.consent.api import ConsentApi, ConsentSettingsApi
from app.consent.unsubscribe import UnsubscribeViews
from app.consent.views import ConsentSettingsViews, ConsentViews
from app.lib.domain import Domain

DOMAIN = Domain(
    name="consent",
    routes=(ConsentApi, ConsentViews, ConsentSettingsApi, ConsentSettingsViews, UnsubscribeViews),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.consent.piccolo_app",
    events=events,
)
