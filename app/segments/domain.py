"""The segments domain's manifest: saved segments and static lists, RFM, temperature from behaviour."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.segments import events, live, services, temperature
from app.segments.api import SegmentsApi, TemperatureRulesApi
from app.segments.views import SegmentViews, TemperatureCardViews, TemperatureViews
from realtime.durable import DurableListener

DOMAIN = Domain(
    name="segments",
    routes=(SegmentsApi, TemperatureRulesApi, SegmentViews, TemperatureViews, TemperatureCardViews),
    jobs={
        temperature.RECOMPUTE_JOB: JobSpec(temperature.recompute_job, max_attempts=3),
        temperature.NIGHTLY_JOB: JobSpec(temperature.nightly_job, max_attempts=3),
    },
    listeners=(
        DurableListener(temperature.LISTENER_NAME, temperature.on_order_event, temperature.ORDER_EVENTS,
                        "Recomputes a buyer's temperature from the shop's rules after their order events."),
    ),
    renderers=(live.segment_rows,),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.segments.piccolo_app",
    events=events,
)
