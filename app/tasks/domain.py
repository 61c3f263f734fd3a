"""The tasks domain's manifest: tasks on contacts, their reminders and the scheduler's view."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.tasks import events, jobs, live, services
from app.tasks.api import TasksApi
from app.tasks.views import ContactTaskViews, ScheduleViews, TaskViews

DOMAIN = Domain(
    name="tasks",
    routes=(TasksApi, TaskViews, ContactTaskViews, ScheduleViews),
    jobs={
        services.REMIND_JOB: JobSpec(jobs.remind),
        services.OVERDUE_JOB: JobSpec(jobs.overdue),
        services.ROUTE_JOB: JobSpec(jobs.route_callback),
        services.EMAIL_JOB: JobSpec(jobs.remind_email, max_attempts=20),
    },
    renderers=(live.my_tasks, live.card_tasks, live.supervisors_overdue),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.tasks.piccolo_app",
    events=events,
)
