"""Background jobs of the email channel: deliver an outbound email, process a stored inbound one."""

from __future__ import annotations

from app.email.inbound import process as process_inbound
from app.email.outbound import deliver as send_email

__all__ = ["process_inbound", "send_email"]
