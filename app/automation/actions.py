"""The actions a rule runs, in order: each checks its parameters when the rule is saved (`check`) and runs against
the records loaded for the event (`run`), as the rule's actor, inside the engine's savepoint. A `wait` is not run
here: the engine turns it into a delayed continuation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import User, Workspace
from app.automation.events import NOTIFIED
from app.contacts import services as contacts
from app.contacts.tables import TEMPERATURES
from app.conversations import actions as conversation_actions
from app.email import outbound as email_out
from app.email import templating
from app.lib import i18n
from app.lib.errors import Invalid
from app.lib.i18n import N_
from app.orders import services as orders
from app.routing import services as routing
from app.segments import services as segments
from app.tasks import services as tasks
from app.webhooks_out import services as webhooks
from realtime import channels
from realtime.publish import emit
from telephony import sms


@dataclasses.dataclass(frozen=True)
class AutomationActor(Principal):
    """Who an automated action acts as: the rule's author's account, labelled with the rule (timeline, audit)."""

    rule_name: str = ""

    @property
    def label(self) -> str:
        return f"Automation: {self.rule_name}"


Said = dict[str, Any]
"""What an action did, for the run log: {"text": catalogue template, "params": {...}}, shown in the reader's
language (`said()`)."""
Run = Callable[[AutomationActor, dict[str, Any], dict[str, Any]], Awaitable[Said]]


def _said(text: str, **params: Any) -> Said:
    return {"text": text, "params": params}


def said(value: Any) -> str:
    """A logged outcome or note as the viewer reads it (older plain strings as stored)."""
    if isinstance(value, dict) and "text" in value:
        return i18n.fill(i18n.gettext(value["text"]), value.get("params") or {})
    return i18n.gettext(value) if isinstance(value, str) and value else ""


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    label: str
    kind: str = "text"
    """text | longtext | number | choice | user | queue | status | segment (a static list's id)"""
    required: bool = True
    options: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Action:
    key: str
    label: str
    params: tuple[Param, ...]
    run: Run | None
    needs: str = ""
    """The record the action acts on (contact, conversation, order), or empty."""


def _need(ctx: dict[str, Any], entity: str) -> dict[str, Any]:
    record = ctx.get(entity)
    if not record:
        raise Invalid("This event has no %(entity)s to act on.", field=entity, entity=entity)
    return dict(record)


def _variables(ctx: dict[str, Any], actor: AutomationActor, shop: str) -> dict[str, Any]:
    contact = ctx.get("contact") or {}
    order = ctx.get("order") or {}
    return templating.variables_for(contact, actor, shop, {
        "order": {"number": order.get("number", ""), "status": order.get("status", ""),
                  "total": order.get("total", "")},
        "message": {"body": (ctx.get("message") or {}).get("body", "")}})


async def _text(ctx: dict[str, Any], actor: AutomationActor, text: str, field: str) -> str:
    ws = await Workspace.select(Workspace.display_name).first()
    return templating.render(text, _variables(ctx, actor, ws["display_name"] if ws else ""), field=field).strip()


async def _tags(actor: AutomationActor, ctx: dict[str, Any], tag: str, add: bool) -> Said:
    contact = _need(ctx, "contact")
    tags = list(contact.get("tags") or [])
    tag = tag.strip()
    if (tag in tags) == add:
        return _said(N_("Tag %(tag)s was already so"), tag=tag)
    tags = [*tags, tag] if add else [t for t in tags if t != tag]
    card = await contacts.update(actor, contact["id"], {"tags": tags})
    ctx["contact"] = {**ctx["contact"], "tags": list(card.get("tags") or [])}
    return _said(N_("Tag %(tag)s added") if add else N_("Tag %(tag)s removed"), tag=tag)


async def add_tag(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    return await _tags(actor, ctx, str(p["tag"]), True)


async def remove_tag(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    return await _tags(actor, ctx, str(p["tag"]), False)


async def add_to_list(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    contact = _need(ctx, "contact")
    added = await segments.add_members(actor, int(p["segment_id"]), [int(contact["id"])], "automation")
    in_segment = ctx["contact"].setdefault("in_segment", [])
    if int(p["segment_id"]) not in in_segment:
        in_segment.append(int(p["segment_id"]))
    return _said(N_("Added to list %(segment_id)s") if added else N_("Already on list %(segment_id)s"),
                 segment_id=p["segment_id"])


async def set_temperature(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    contact = _need(ctx, "contact")
    await contacts.update(actor, contact["id"], {"temperature": p["temperature"]})
    ctx["contact"]["temperature"] = p["temperature"]
    return _said(N_("Temperature set to %(temperature)s"), temperature=p["temperature"])


async def set_field(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    contact = _need(ctx, "contact")
    custom = dict(contact.get("custom") or {})
    custom[str(p["field"])] = p["value"]
    await contacts.update(actor, contact["id"], {"custom": custom})
    return _said(N_("Field %(field)s set to %(value)s"), field=p["field"], value=p["value"])


async def move_to_queue(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    conv = _need(ctx, "conversation")
    await conversation_actions.move(actor, conv["id"], str(p["queue"]))
    return _said(N_("Moved to the queue %(queue)s"), queue=p["queue"])


async def set_priority(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    conv = _need(ctx, "conversation")
    await routing.set_priority(actor, conv["id"], int(p["priority"]))
    return _said(N_("Priority set to %(priority)s"), priority=p["priority"])


async def assign_agent(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    conv = _need(ctx, "conversation")
    await conversation_actions.assign(actor, conv["id"], int(p["user_id"]))
    return _said(N_("Assigned to user %(user_id)s"), user_id=p["user_id"])


async def send_sms(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    contact = _need(ctx, "contact")
    msg = await sms.send(actor, contact["id"], await _text(ctx, actor, str(p["body"]), "body"))
    return _said(N_("SMS %(sid)s sent"), sid=msg["sid"])


async def send_email(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    contact = _need(ctx, "contact")
    data: dict[str, Any] = {"subject": p.get("subject") or "", "body": p.get("body") or "",
                            "variables": _variables(ctx, actor, "")}
    if p.get("template_id"):
        data["template_id"] = int(p["template_id"])
    email = await email_out.compose(actor, contact["id"], data)
    return _said(N_("Email %(email_id)s queued"), email_id=email["id"])


async def reply(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    """Answer in the conversation, on its own channel (SMS to the number that wrote, email threaded)."""
    conv = _need(ctx, "conversation")
    body = await _text(ctx, actor, str(p["body"]), "body")
    if conv["channel"] == "sms":
        msg = await sms.send(actor, conv["contact_id"], body, conv.get("from_address") or None,
                             links={"conversation_id": conv["id"]})
        return _said(N_("SMS %(sid)s sent"), sid=msg["sid"])
    if conv["channel"] == "email":
        email = await email_out.reply(actor, conv["id"], {"body": body})
        return _said(N_("Email %(email_id)s queued"), email_id=email["id"])
    raise Invalid("Automations reply by SMS or email; this conversation is on %(channel)s.", field="conversation",
                  channel=conv["channel"])


async def order_status(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    order = _need(ctx, "order")
    await orders.change_status(actor, order["id"], str(p["status"]), note="automation")
    return _said(N_("Order %(number)s moved to %(status)s"), number=order["number"], status=p["status"])


async def notify_user(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    """A live toast on every page the user has open (their own channel)."""
    user_id = int(p["user_id"])
    if not await User.exists().where(User.id == user_id):
        raise Invalid("No user %(user_id)s.", field="user_id", user_id=user_id)
    text = await _text(ctx, actor, str(p["text"]), "text")
    contact_id = (ctx.get("contact") or {}).get("id")
    await emit(NOTIFIED, channels=[channels.user(user_id)], user_id=user_id, text=text[:300], contact_id=contact_id)
    return _said(N_("User %(user_id)s notified"), user_id=user_id)


async def create_task(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    """A task on the contact (due in so many minutes, for an assignee or the rule's author)."""
    contact = _need(ctx, "contact")
    minutes = int(p.get("due_in_minutes") or 0)
    due = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes) if minutes else None
    assignee = int(p["assignee_id"]) if p.get("assignee_id") else None
    task = await tasks.create(actor, contact_id=contact["id"], title=await _text(ctx, actor, str(p["title"]), "title"),
                              kind=str(p.get("kind") or "todo"), due_at=due, assignee_id=assignee,
                              conversation_id=(ctx.get("conversation") or {}).get("id"),
                              order_id=(ctx.get("order") or {}).get("id"))
    return _said(N_("Task %(task_id)s created"), task_id=task["id"])


async def call_webhook(actor: AutomationActor, ctx: dict[str, Any], p: dict[str, Any]) -> Said:
    """One signed delivery of the event's records (ids and a few fields) to a URL (app.webhooks_out)."""
    run = ctx.get("run") or {}
    contact = ctx.get("contact") or {}
    data = {**{k: v for k, v in (ctx.get("ids") or {}).items() if v is not None}, "rule": actor.rule_name,
            "contact": {"id": contact.get("id"), "name": contact.get("name"), "tags": contact.get("tags"),
                        "temperature": contact.get("temperature")}}
    delivery = await webhooks.deliver_once(str(p["url"]), str(p.get("event_type") or ctx["event"]["name"] or
                                                             "automation.webhook"), data,
                                           secret=p.get("secret") or None, causation=run or None)
    return _said(N_("Webhook delivery %(delivery_id)s queued"), delivery_id=delivery)


KINDS = ("callback", "follow_up", "todo")
ACTIONS: dict[str, Action] = {a.key: a for a in (
    Action("add_tag", N_("Add a tag"), (Param("tag", N_("Tag")),), add_tag, "contact"),
    Action("remove_tag", N_("Remove a tag"), (Param("tag", N_("Tag")),), remove_tag, "contact"),
    Action("add_to_list", N_("Add to a static list"), (Param("segment_id", N_("List"), "segment"),), add_to_list,
           "contact"),
    Action("set_temperature", N_("Set temperature"),
           (Param("temperature", N_("Temperature"), "choice", options=TEMPERATURES),), set_temperature, "contact"),
    Action("set_field", N_("Set a custom field"), (Param("field", N_("Field key")), Param("value", N_("Value"))),
           set_field, "contact"),
    Action("move_to_queue", N_("Move to a queue"), (Param("queue", N_("Queue"), "queue"),), move_to_queue,
           "conversation"),
    Action("set_priority", N_("Set the priority (-10 to 10)"), (Param("priority", N_("Priority"), "number"),),
           set_priority, "conversation"),
    Action("assign_agent", N_("Assign to an agent"), (Param("user_id", N_("Agent"), "user"),), assign_agent,
           "conversation"),
    Action("create_task", N_("Create a task"), (
        Param("title", N_("Title")), Param("kind", N_("Kind"), "choice", options=KINDS),
        Param("due_in_minutes", N_("Due in (minutes)"), "number", required=False),
        Param("assignee_id", N_("Assignee"), "user", required=False)), create_task, "contact"),
    Action("send_sms", N_("Send an SMS"), (Param("body", N_("Text (template)"), "longtext"),), send_sms, "contact"),
    Action("send_email", N_("Send an email"), (
        Param("subject", N_("Subject (template)"), required=False),
        Param("body", N_("Body (template)"), "longtext", required=False),
        Param("template_id", N_("Email template"), "template", required=False)), send_email, "contact"),
    Action("reply", N_("Reply in the conversation"), (Param("body", N_("Text (template)"), "longtext"),), reply,
           "conversation"),
    Action("order_status", N_("Change the order's status"), (Param("status", N_("Status"), "status"),),
           order_status, "order"),
    Action("call_webhook", N_("Call a webhook"), (Param("url", N_("URL")),
                                                  Param("secret", N_("Signing secret (whsec_…)"), required=False)),
           call_webhook),
    Action("notify_user", N_("Notify a user"), (Param("user_id", N_("User"), "user"),
                                                Param("text", N_("Text (template)"))), notify_user),
    Action("wait", N_("Wait, then check the conditions again"), (Param("minutes", N_("Minutes"), "number"),), None),
)}
MAX_ACTIONS = 20


def check(actions: Any) -> list[dict[str, Any]]:
    """The ordered actions as stored: `[{"type": key, ...params}]`, or Invalid naming the first wrong one."""
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        raise Invalid("Actions are a list of at most %(max)s steps.", field="actions", max=MAX_ACTIONS)
    out = []
    for i, raw in enumerate(actions):
        where = f"actions[{i}]"
        if not isinstance(raw, dict) or raw.get("type") not in ACTIONS:
            raise Invalid("Unknown action; choose one of: %(choices)s.", field=f"{where}.type",
                          choices=", ".join(ACTIONS))
        action = ACTIONS[raw["type"]]
        clean: dict[str, Any] = {"type": action.key}
        for param in action.params:
            value = raw.get(param.name)
            if value in (None, ""):
                if param.required:
                    raise Invalid("%(action)s needs %(param)s.", field=f"{where}.{param.name}", action=action.key,
                                  param=param.name)
                continue
            if param.kind in ("number", "user", "segment"):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise Invalid("%(param)s must be a whole number.", field=f"{where}.{param.name}",
                                  param=param.name) from None
                if value < 0 or (param.name == "minutes" and not 1 <= value <= 60 * 24 * 60):
                    raise Invalid("%(param)s is out of range.", field=f"{where}.{param.name}", param=param.name)
            elif param.options and value not in param.options:
                raise Invalid("%(param)s must be one of: %(choices)s.", field=f"{where}.{param.name}",
                              param=param.name, choices=", ".join(param.options))
            elif param.kind in ("text", "longtext") and param.name in ("body", "text", "title", "subject"):
                templating.check(str(value), field=f"{where}.{param.name}")
            clean[param.name] = value
        if action.key == "call_webhook":
            clean["url"] = webhooks.check_url(str(clean["url"]))
            if clean.get("secret"):
                webhooks.check_secret(str(clean["secret"]))
        if action.key == "send_email" and not (clean.get("template_id") or clean.get("body")):
            raise Invalid("Send an email needs a body or a template.", field=f"{where}.body")
        out.append(clean)
    return out
