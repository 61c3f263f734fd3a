"""Onboarding: the wizard that walks a new shop through profile, phone, email, web chat, queues and team, and the
checklist of what is left that the owner's home keeps until it is all done."""

from app.onboarding.services import STEPS, checklist, mark_done

__all__ = ["STEPS", "checklist", "mark_done"]
