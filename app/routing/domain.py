"""The routing domain's manifest: per-queue strategies, skills, offers with timeouts, why this agent, overflow."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.routing import events, jobs, live, services
from app.routing.api import RoutingApi
from app.routing.views import OfferViews, RoutingSettingsViews, WhyViews
from realtime.durable import DurableListener

DOMAIN = Domain(
    name="routing",
    routes=(RoutingApi, OfferViews, WhyViews, RoutingSettingsViews),
    jobs={
        services.ROUTE_JOB: JobSpec(jobs.route),
        services.TIMEOUT_JOB: JobSpec(jobs.offer_timeout),
        services.OVERFLOW_JOB: JobSpec(jobs.overflow),
    },
    listeners=(
        DurableListener("routing.items", jobs.on_item, jobs.ITEM_EVENTS,
                        "Routes new and freed work; withdraws an offer whose item was taken, moved or closed."),
        DurableListener("routing.agents", jobs.on_agent, frozenset({"agent.state_changed"}),
                        "Withdraws the offers of an agent who left work; routes the backlog when one is available."),
        DurableListener("routing.offer_answered", jobs.on_offer_answered, frozenset({"call.offer_answered"}),
                        "Accepts a call offer when the agent answers the phone that rang for it."),
    ),
    renderers=(live.console_offers, live.console_team_offers, live.console_missed_away),
    assign_checks=(services.capacity_warning,),
    piccolo_app="app.routing.piccolo_app",
    events=events,
)
