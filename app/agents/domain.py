"""The agents domain's manifest: presence from behaviour (states and their intervals), capacity and load."""

from __future__ import annotations

from app.agents import events, live, services, sockets
from app.agents.api import AgentsApi
from app.agents.views import AgentSettingsViews
from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from realtime.durable import DurableListener

DOMAIN = Domain(
    name="agents",
    routes=(AgentsApi, AgentSettingsViews),
    jobs={services.WRAPUP_JOB: JobSpec(services.wrapup_over)},
    listeners=(DurableListener("agents.work", services.on_work, services.WORK_EVENTS,
                               "Derives each agent's busy and wrap-up state from conversations and calls, and starts "
                               "the queue's timed wrap-up after a close."),),
    renderers=(live.console_team, live.console_my_status),
    console_extras=(live.console_context,),
    socket_messages={"presence": sockets.on_presence},
    presence_watchers=(sockets.on_presence_change,),
    piccolo_app="app.agents.piccolo_app",
    events=events,
)
