"""The workspace domain's manifest: the operator's three-pane screen, its API, live renderers and socket message."""

from __future__ import annotations

from app.lib.domain import Domain
from app.workspace import events, live
from app.workspace.api import WorkspaceApi
from app.workspace.views import WorkspaceViews

DOMAIN = Domain(
    name="workspace",
    routes=(WorkspaceApi, WorkspaceViews),
    renderers=(live.thread_item, live.delivery, live.left_queue, live.left_mine, live.left_unread,
               live.conversation_state, live.conversation_state_mine, live.typing, live.mentioned),
    piccolo_app="app.workspace.piccolo_app",
    events=events,
    socket_messages={"typing": live.on_typing},
)
