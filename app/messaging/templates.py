"""Email templates and canned responses: admins define them, operators fill them in for a contact."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.accounts.tables import Workspace
from app.audit import services as audit
from app.contacts import services as contacts
from app.lib.errors import Conflict, Invalid, NotFound
from app.messaging import templating
from app.messaging.tables import EmailTemplate

KINDS = ("email", "canned")
SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
COLUMNS = (EmailTemplate.id, EmailTemplate.kind, EmailTemplate.name, EmailTemplate.shortcut, EmailTemplate.subject,
           EmailTemplate.body)


async def list_all(kind: str | None = None) -> list[dict[str, Any]]:
    query = EmailTemplate.select(*COLUMNS).order_by(EmailTemplate.name)
    if kind:
        query = query.where(EmailTemplate.kind == kind)
    return await query


async def create(actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    kind = str(data.get("kind") or "email")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of: {', '.join(KINDS)}.", field="kind")
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise Invalid("The name must be 1 to 100 characters.", field="name")
    shortcut = str(data.get("shortcut") or "").strip().lower().lstrip("/")
    if shortcut and not SHORTCUT_RE.match(shortcut):
        raise Invalid("A shortcut is up to 40 lowercase letters, digits, - or _.", field="shortcut")
    if shortcut and await EmailTemplate.exists().where(EmailTemplate.shortcut == shortcut):
        raise Conflict(f"The shortcut /{shortcut} is taken.", field="shortcut")
    subject, body = str(data.get("subject") or ""), str(data.get("body") or "")
    if not body.strip() or len(body) > 20_000 or len(subject) > 300:
        raise Invalid("The body must be 1 to 20000 characters (subject at most 300).", field="body")
    templating.render(subject, {}, field="subject")  # syntax errors surface now, not when an operator uses it
    templating.render(body, {}, field="body")
    rows = await EmailTemplate.insert(EmailTemplate(kind=kind, name=name, shortcut=shortcut, subject=subject,
                                                    body=body)).returning(EmailTemplate.id)
    await audit.record("email_template.created", actor_id=actor.user_id, actor=actor.label, target_type="template",
                       target_id=rows[0]["id"])
    return await EmailTemplate.select(*COLUMNS).where(EmailTemplate.id == rows[0]["id"]).first()  # type: ignore[return-value]


async def render_for(actor: Principal, template_id: int, contact_id: Any) -> dict[str, Any]:
    tpl = await EmailTemplate.select(*COLUMNS).where(EmailTemplate.id == template_id).first()
    if tpl is None:
        raise NotFound(f"No template {template_id}.")
    contact = await contacts.get(int(contact_id)) if isinstance(contact_id, int) else {}
    ws = await Workspace.select(Workspace.display_name).first()
    variables = templating.variables_for(contact, actor, ws["display_name"] if ws else "")
    return {"id": tpl["id"], "subject": templating.render(tpl["subject"], variables, field="subject"),
            "body": templating.render(tpl["body"], variables, field="body")}
