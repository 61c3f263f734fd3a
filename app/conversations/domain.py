"""The conversations domain's manifest: queues, conversations across channels, the operator console."""

from __future__ import annotations

from app.conversations import events, live, message_events, services
from app.conversations.api import ConversationsApi
from app.conversations.settings_views import QueueSettingsViews
from app.conversations.views import ConsoleViews
from app.lib.domain import Domain

DOMAIN = Domain(
    name="conversations",
    routes=(ConversationsApi, ConsoleViews, QueueSettingsViews),
    renderers=(live.console_panels,),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.conversations.piccolo_app",
    # Message events are shared by every channel (email, SMS, chat, portal), so they live below the channels.
    events=(events, message_events),
)
