"""The automation domain's manifest: rules, the engine (a durable listener and its jobs), the builder pages."""

from __future__ import annotations

from app.automation import engine, events, live, services
from app.automation.api import AutomationApi
from app.automation.views import AutomationCardViews, AutomationViews
from app.lib.domain import Domain
from realtime.durable import DurableListener
from realtime.events import CATALOGUE


def _subscribed() -> frozenset[str]:
    """Every durable event: a rule may be triggered by any of them (the handler finds the rules for each)."""
    return frozenset(name for name, t in CATALOGUE.items() if not t.ephemeral)


LISTENER = DurableListener(
    services.LISTENER_NAME, engine.on_event, _subscribed(),
    doc="Evaluates the enabled automation rules whose trigger is the event and runs their actions (run log under "
        "Automation).")

DOMAIN = Domain(
    name="automation",
    routes=(AutomationApi, AutomationViews, AutomationCardViews),
    jobs=engine.JOBS,
    listeners=(LISTENER,),
    renderers=(live.card_runs, live.toast),
    piccolo_app="app.automation.piccolo_app",
    events=events,
)
