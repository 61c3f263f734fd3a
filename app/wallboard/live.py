"""The live wallboard: one renderer re-renders the whole board on every queue, agent or conversation change, once
per audience (language and zone) for every wallboard socket, and never for a console's socket (its own surface).

A wallboard socket is held by a `BoardViewer`: no user behind it (a supervisor's board is rendered as nobody in
particular, a wall TV has nobody), role "wallboard", surface "wallboard"; it hears only the tenant's console
channel (`queue`), which carries every event the board shows. Service level and abandons come from the reporting
facts, written by the reports listener after the event that changed them: its `reports.facts_changed` redraws the
board with them."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.lib.db import TenantRef
from app.lib.templates import render_text
from app.wallboard import services
from realtime import renders
from realtime.events import Event
from realtime.render import Audience

WALLBOARD = Audience("role", surface="wallboard")
"""The same board for every wallboard socket of a language and zone; consoles never get it."""
TOPICS = {"queue"}
"""What a wallboard socket hears: the tenant-wide console channel (queue, agent and conversation events, and the
reports listener's `reports.facts_changed`)."""
EVENTS = ("queue.item_added", "queue.item_taken", "queue.item_removed", "agent.state_changed",
          "conversation.assigned", "conversation.closed", "conversation.reopened", "conversation.snoozed",
          "conversation.merged", "reports.facts_changed")


@dataclasses.dataclass(frozen=True)
class BoardViewer:
    """Who a wallboard socket serves (realtime.viewer.Viewer's shape): a signed-in supervisor's session or a
    wallboard link (`via="wallboard"`, credential = the link's id), never a user's own items."""

    via: str
    credential_id: int
    language: str
    timezone: str
    user_id: int = 0
    role: str = "wallboard"
    surface: str = "wallboard"

    def has_role(self, role: str) -> bool:
        return False

    def as_audience(self, role: str) -> BoardViewer:
        return self


@renders(*EVENTS, audience=WALLBOARD)
async def board(event: Event, tenant: TenantRef, viewer: Any) -> str:
    """The whole board, reloaded (an out-of-band swap of `#wallboard-board`)."""
    ctx = {"board": await services.board(), "tenant": tenant, "oob": True, "sl": services.service_level_text}
    return render_text("_partials/wallboard_board.html", ctx)
