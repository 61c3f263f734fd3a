"""Email templates and canned responses: admins define them, operators fill them in for a contact."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import Workspace
from app.audit import services as audit
from app.contacts import services as contacts
from app.conversations import actions
from app.email import templating
from app.email.tables import EmailTemplate
from app.lib.clock import now
from app.lib.errors import Conflict, Invalid, NotFound

KINDS = ("email", "canned")
SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_BODY = 20_000
COLUMNS = (EmailTemplate.id, EmailTemplate.kind, EmailTemplate.name, EmailTemplate.shortcut, EmailTemplate.subject,
           EmailTemplate.body)


async def list_all(kind: str | None = None) -> list[dict[str, Any]]:
    query = EmailTemplate.select(*COLUMNS).order_by(EmailTemplate.kind, EmailTemplate.name)
    if kind:
        query = query.where(EmailTemplate.kind == kind)
    return await query


async def get(template_id: int) -> dict[str, Any]:
    row = await EmailTemplate.select(*COLUMNS).where(EmailTemplate.id == template_id).first()
    if row is None:
        raise NotFound("No template %(template_id)s.", template_id=template_id)
    return row


async def _clean(values: dict[str, Any], *, template_id: int | None = None) -> dict[str, Any]:
    """The checked values of a new or edited template (every field present)."""
    kind = str(values.get("kind") or "email")
    if kind not in KINDS:
        raise Invalid("kind must be one of: %(choices)s.", field="kind", choices=', '.join(KINDS))
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 100:
        raise Invalid("The name must be 1 to 100 characters.", field="name")
    shortcut = str(values.get("shortcut") or "").strip().lower().lstrip("/")
    if shortcut and not SHORTCUT_RE.match(shortcut):
        raise Invalid("A shortcut is up to 40 lowercase letters, digits, - or _ (e.g. /thanks).", field="shortcut")
    if shortcut:
        taken = EmailTemplate.exists().where(EmailTemplate.shortcut == shortcut)
        if template_id is not None:
            taken = taken.where(EmailTemplate.id != template_id)
        if await taken:
            raise Conflict("The shortcut /%(shortcut)s is taken.", field="shortcut", shortcut=shortcut)
    subject, body = str(values.get("subject") or ""), str(values.get("body") or "")
    if len(subject) > 300 or "\n" in subject:
        raise Invalid("The subject is one line of at most 300 characters.", field="subject")
    if not body.strip() or len(body) > MAX_BODY:
        raise Invalid("The body must be 1 to %(max_body)s characters.", field="body", max_body=MAX_BODY)
    templating.check(subject, field="subject")  # syntax errors surface now, not when an operator uses it
    templating.check(body, field="body")
    return {"kind": kind, "name": name, "shortcut": shortcut, "subject": subject, "body": body}


async def create(actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    values = await _clean(data)
    rows = await EmailTemplate.insert(EmailTemplate(**values)).returning(EmailTemplate.id)
    await audit.record("email_template.created", actor_id=actor.user_id, actor=actor.label, target_type="template",
                       target_id=rows[0]["id"], detail={"kind": values["kind"], "shortcut": values["shortcut"]})
    return await get(rows[0]["id"])


async def update(actor: Principal, template_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given; the others keep their values."""
    current = await get(template_id)
    values = await _clean({**current, **changes}, template_id=template_id)
    await EmailTemplate.update({getattr(EmailTemplate, k): v for k, v in values.items()} | {
        EmailTemplate.updated_at: now()}).where(EmailTemplate.id == template_id)
    await audit.record("email_template.updated", actor_id=actor.user_id, actor=actor.label, target_type="template",
                       target_id=template_id, detail={"fields": sorted(changes)})
    return await get(template_id)


async def delete(actor: Principal, template_id: int) -> None:
    row = await get(template_id)
    await EmailTemplate.delete().where(EmailTemplate.id == template_id)
    await audit.record("email_template.deleted", actor_id=actor.user_id, actor=actor.label, target_type="template",
                       target_id=template_id, detail={"name": row["name"], "kind": row["kind"]})


async def render_for(actor: Principal, template_id: int, contact_id: int | None,
                     conversation_id: int | None = None) -> dict[str, Any]:
    """The template filled in with the contact's (or the conversation's client's), the operator's and the shop's
    details."""
    if conversation_id is not None:
        conversation = await actions.visible(actor, conversation_id)
        if contact_id is not None and contact_id != conversation["contact_id"]:
            raise Invalid("Give a conversation or a contact, not both.", field="contact_id")
        contact_id = conversation["contact_id"]
    tpl = await get(template_id)
    contact = await contacts.get(contact_id) if contact_id is not None else {}
    ws = await Workspace.select(Workspace.display_name).first()
    variables = templating.variables_for(contact, actor, ws["display_name"] if ws else "")
    return {"id": tpl["id"], "subject": templating.render(tpl["subject"], variables, field="subject"),
            "body": templating.render(tpl["body"], variables, field="body")}


async def canned_for_picker() -> list[dict[str, Any]]:
    """What `_partials/canned_picker.html` lists (context `canned`): every canned response, by name."""
    return [{"id": r["id"], "name": r["name"], "shortcut": r["shortcut"]} for r in await list_all("canned")]
