"""The conversations domain's manifest: queues, conversations across channels, the operator console."""

from __future__ import annotations

from app.conversations import actions, events, live, message_events, services
from app.conversations.actions_api import ConversationActionsApi
from app.conversations.actions_views import BlockedSettingsViews, ConversationActionViews
from app.conversations.api import ConversationsApi
from app.conversations.dispositions_api import DispositionsApi
from app.conversations.settings_views import QueueSettingsViews
from app.conversations.views import ConsoleViews
from app.lib.domain import Domain
from app.lib.jobs import JobSpec

DOMAIN = Domain(
    name="conversations",
    routes=(ConversationsApi, ConsoleViews, QueueSettingsViews, ConversationActionsApi, ConversationActionViews,
            BlockedSettingsViews, DispositionsApi),
    jobs={actions.WAKE_JOB: JobSpec(actions.wake)},
    renderers=(live.console_shared, live.console_mine, live.console_live_calls),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.conversations.piccolo_app",
    # Message events are shared by every channel (email, SMS, chat, portal), so they live below the channels.
    events=(events, message_events),
)
