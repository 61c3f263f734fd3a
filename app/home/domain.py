"""The home domain's manifest: the workspace's home page per role, live like the console."""

from __future__ import annotations

from app.home import live
from app.home.views import HomeViews
from app.lib.domain import Domain

DOMAIN = Domain(
    name="home",
    routes=(HomeViews,),
    renderers=(live.home_business, live.home_open_conversations),
)
