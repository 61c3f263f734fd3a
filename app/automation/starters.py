"""Starter rules: ready-made definitions an admin enables in one click (each becomes an ordinary rule)."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.lib.i18n import N_


@dataclasses.dataclass(frozen=True)
class Starter:
    key: str
    name: str
    doc: str
    definition: dict[str, Any]


STARTERS: tuple[Starter, ...] = (
    Starter("order_shipped_sms", N_("SMS when an order ships"),
            N_("Texts the customer the moment their order moves to Shipped."),
            {"trigger": "event", "event": "order.status_changed",
             "conditions": {"all": [{"field": "event.status", "op": "equals", "value": "shipped"}]},
             "actions": [{"type": "send_sms", "body": "Hi {{ contact.first_name }}, your order {{ order.number }} "
                                                      "is on its way."}],
             "rate_limit": 5}),
    Starter("missed_call_task", N_("Callback task when a call is missed"),
            N_("A missed or abandoned call becomes a callback task on the caller's card."),
            {"trigger": "event", "event": "interaction.created",
             "conditions": {"all": [{"field": "interaction.channel", "op": "equals", "value": "call"},
                                    {"field": "interaction.outcome", "op": "in", "value": ["missed", "abandoned"]}]},
             "actions": [{"type": "create_task", "title": "Call back {{ contact.name }}", "kind": "callback",
                          "due_in_minutes": 60}],
             "rate_limit": 3}),
    Starter("hot_after_big_order", N_("Contact turns hot after a big order"),
            N_("An order above 500.00 makes its contact hot."),
            {"trigger": "event", "event": "order.created",
             "conditions": {"all": [{"field": "order.total", "op": "gt", "value": 50000}]},
             "actions": [{"type": "set_temperature", "temperature": "hot"}]}),
    Starter("reassign_no_reply", N_("Reassign when nobody replied in 10 minutes"),
            N_("Ten minutes after a customer wrote, if the conversation still waits for our answer, it goes back to "
               "the general queue for someone else."),
            {"trigger": "delay", "event": "message.received", "delay_minutes": 10,
             "conditions": {"all": [{"field": "conversation.awaiting_reply", "op": "equals", "value": "yes"},
                                    {"field": "conversation.status", "op": "equals", "value": "active"}]},
             "actions": [{"type": "move_to_queue", "queue": "general"}]}),
    Starter("thank_you_email", N_("Thank-you email a day after delivery"),
            N_("A day after an order is delivered, thanks the customer by email."),
            {"trigger": "delay", "event": "order.status_changed", "delay_minutes": 1440,
             "conditions": {"all": [{"field": "order.status", "op": "equals", "value": "delivered"}]},
             "actions": [{"type": "send_email", "subject": "Thank you for your order {{ order.number }}",
                          "body": "Hi {{ contact.first_name }},\n\nthank you for shopping with {{ shop }}!"}]}),
)
BY_KEY = {s.key: s for s in STARTERS}
