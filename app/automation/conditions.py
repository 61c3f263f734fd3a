"""Condition trees: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` and leaves `{"field", "op", "value"}`,
checked for shape when a rule is saved and evaluated (pure, no I/O) against the records loaded for an event.

The shape, the operators and the evaluation live in app.lib.conditions (segments compile the same tree to SQL);
the contact's fields are the segments' (app.segments.fields), so a rule and a segment speak of a contact alike.

Evaluating returns the result and every leaf that was looked at, with the value it read: the run log and "test
against a record" show them ("would this fire, and why")."""

from __future__ import annotations

from typing import Any

from app import channels
from app.lib import conditions as _lib
from app.lib.conditions import FIELDLESS, MAX_DEPTH, MAX_LEAVES, OPS, Evaluation, Field, evaluate, read
from app.lib.i18n import N_
from app.segments.fields import CONTACT_FIELDS

ENTITIES: dict[str, str] = {"contact": N_("Contact"), "conversation": N_("Conversation"), "message": N_("Message"),
                            "order": N_("Order"), "task": N_("Task"), "interaction": N_("Timeline entry"),
                            "event": N_("Event")}
FIELDS: tuple[Field, ...] = (
    *CONTACT_FIELDS,
    Field("conversation.channel", N_("Channel"), "choice", channels.KEYS),
    Field("conversation.status", N_("Status"), "choice", ("waiting", "active", "wrapup", "snoozed", "closed")),
    Field("conversation.queue", N_("Queue"), "text"),
    Field("conversation.assigned_to_id", N_("Assigned to (user id)"), "number"),
    Field("conversation.awaiting_reply", N_("Awaiting our reply"), "choice", ("yes", "no")),
    Field("conversation.inside_hours", N_("Inside the queue's business hours now"), "choice", ("yes", "no")),
    Field("message.body", N_("Text"), "text"),
    Field("message.channel", N_("Channel"), "choice", ("sms", "email", "portal")),
    Field("message.direction", N_("Direction"), "choice", ("in", "out")),
    Field("message.answered", N_("Answered since (the other side wrote)"), "choice", ("yes", "no")),
    Field("order.number", N_("Number"), "text"),
    Field("order.status", N_("Status"), "text"),
    Field("order.total", N_("Total (minor units)"), "number"),
    Field("order.currency", N_("Currency"), "text"),
    Field("task.kind", N_("Kind"), "choice", ("callback", "follow_up", "todo")),
    Field("task.status", N_("Status"), "choice", ("open", "done", "cancelled", "missed")),
    Field("task.priority", N_("Priority"), "number"),
    Field("interaction.channel", N_("Channel"), "choice", (*channels.KEYS, "note", "order", "task")),
    Field("interaction.outcome", N_("Call outcome"), "choice", ("answered", "missed", "abandoned", "voicemail")),
    Field("interaction.direction", N_("Direction"), "choice", ("in", "out", "internal")),
    Field("event.name", N_("Event name"), "text"),
    Field("event.status", N_("Status in the event"), "text"),
)
BY_PATH = {f.path: f for f in FIELDS}

def known_field(path: str) -> bool:
    return path in BY_PATH or (path.startswith("contact.custom.") and len(path) > len("contact.custom."))


def check(tree: Any, *, where: str = "conditions") -> dict[str, Any]:
    """The tree as stored, or Invalid naming the first node that is wrong. An empty tree matches everything."""
    return _lib.check(tree, known_field, where=where, fields=tuple(BY_PATH))


__all__ = ["ENTITIES", "FIELDLESS", "FIELDS", "MAX_DEPTH", "MAX_LEAVES", "OPS", "Evaluation", "Field", "check",
           "evaluate", "known_field", "read"]
