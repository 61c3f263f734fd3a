"""The web chat channel's manifest: the widget, its visitor API and socket, the operators' chat pane."""

from __future__ import annotations

from app.chat import events, live, services
from app.chat.api import ChatApi
from app.chat.socket import chat_socket
from app.chat.views import ChatConsoleViews, ChatSettingsViews
from app.chat.widget import WidgetApi, widget_js
from app.lib.domain import Domain

DOMAIN = Domain(
    name="chat",
    routes=(ChatApi, ChatConsoleViews, ChatSettingsViews, WidgetApi, widget_js, chat_socket),
    renderers=(live.chat_pane,),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.chat.piccolo_app",
    events=events,
)
