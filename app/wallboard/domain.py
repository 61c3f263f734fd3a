"""The wallboard domain's manifest: the live board, its socket, its wallboard-only links and their API."""

from __future__ import annotations

from app.lib.domain import Domain
from app.wallboard import live
from app.wallboard.api import WallboardApi
from app.wallboard.views import WallboardViews, wallboard_socket

DOMAIN = Domain(
    name="wallboard",
    routes=(WallboardViews, WallboardApi, wallboard_socket),
    renderers=(live.board,),
    piccolo_app="app.wallboard.piccolo_app",
)
