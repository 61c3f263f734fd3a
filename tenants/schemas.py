"""Wire shapes of the platform API."""

from __future__ import annotations

import msgspec


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    shop_name: str
    slug: str
    email: str
    password: str
    owner_name: str = ""


class SignupOut(msgspec.Struct):
    slug: str
    api_key: str
    workspace_url: str


class QueueDepthOut(msgspec.Struct):
    ready: int
    """Jobs waiting for a worker now."""
    running: int
    held: int
    """Jobs that failed their last attempt and wait for a person."""
    oldest_ready_seconds: int


class HealthOut(msgspec.Struct):
    status: str
    """`ok`, or `degraded` when a part in `failing` is down (the answer is then 503)."""
    db: str
    redis: str
    worker: str
    """The job worker this process runs (EMBEDDED_WORKER), or "not run in this process" (`switchboard worker
    answers on its own health port)."""
    listeners: str = "not run in this process"
    """The event spine's durable listeners, run beside the job worker."""
    mail_in: str = "not run in this process"
    """The inbound SMTP listener, when this process runs it."""
    jobs: QueueDepthOut | None = None
    failing: list[str] = msgspec.field(default_factory=list)
    """The parts that are down, by the names above."""
