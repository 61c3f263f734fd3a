"""Email JSON API under /t/{slug}/api/v1: SMTP settings (never the password), test email, send and list emails,
templates and canned responses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.email import config, outbound, templates
from app.email.schemas import (
    EmailConfigIn,
    EmailConfigOut,
    EmailIn,
    EmailTestIn,
    EmailTestOut,
    RenderIn,
    RenderOut,
    TemplateIn,
    TemplateKind,
    TemplateOut,
    TemplatePatch,
    as_dict,
)
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


class MessagingApi(Controller):
    path = "/api/v1"
    tags = ["email"]
    guards = [signed_in]

    @get("/channels/email", guards=[requires("admin")], summary="Email settings (never the SMTP password)")
    async def read_config(self) -> EmailConfigOut:
        return msgspec.convert(await config.public_view(), EmailConfigOut)

    @put("/channels/email", guards=[requires("admin")], summary="Set up outgoing email; the password is encrypted")
    async def save_config(self, request: Req, data: JSONBody[EmailConfigIn]) -> EmailConfigOut:
        return msgspec.convert(await config.save(request.user, as_dict(data)), EmailConfigOut)

    @post("/channels/email/test", guards=[requires("admin")], status_code=200,
          summary="Send a test email now with the saved settings; answers with the server's reason on failure")
    async def test_config(self, request: Req, data: JSONBody[EmailTestIn]) -> EmailTestOut:
        return msgspec.convert(await outbound.send_test(request.user, data.to), EmailTestOut)

    @post("/contacts/{contact_id:int}/emails", status_code=201, summary="Queue an email to a contact")
    async def send(self, request: Req, contact_id: PathId, data: JSONBody[EmailIn]) -> dict[str, Any]:
        return await outbound.compose(request.user, contact_id, as_dict(data))

    @get("/contacts/{contact_id:int}/emails")
    async def list_emails(self, contact_id: PathId) -> list[dict[str, Any]]:
        return await outbound.for_contact(contact_id)

    @get("/emails/{email_id:int}")
    async def read_email(self, email_id: PathId) -> dict[str, Any]:
        return await outbound.get(email_id)

    @get("/email-templates", summary="Email templates and canned responses (`kind` filters)")
    async def list_templates(self, kind: FromQuery[TemplateKind | None] = None) -> list[TemplateOut]:
        return msgspec.convert(await templates.list_all(kind), list[TemplateOut])

    @post("/email-templates", guards=[requires("admin")], status_code=201,
          summary="Create an email template or canned response ({{ contact.name }}, {{ operator.name }}, ...)")
    async def create_template(self, request: Req, data: JSONBody[TemplateIn]) -> TemplateOut:
        return msgspec.convert(await templates.create(request.user, as_dict(data)), TemplateOut)

    @get("/email-templates/{template_id:int}")
    async def read_template(self, template_id: PathId) -> TemplateOut:
        return msgspec.convert(await templates.get(template_id), TemplateOut)

    @patch("/email-templates/{template_id:int}", guards=[requires("admin")],
           summary="Change some fields of a template or canned response")
    async def update_template(self, request: Req, template_id: PathId,
                              data: JSONBody[TemplatePatch]) -> TemplateOut:
        return msgspec.convert(await templates.update(request.user, template_id, data.changes()), TemplateOut)

    @delete("/email-templates/{template_id:int}", guards=[requires("admin")])
    async def delete_template(self, request: Req, template_id: PathId) -> None:
        await templates.delete(request.user, template_id)

    @post("/email-templates/{template_id:int}/render", status_code=200,
          summary="A template or canned response filled in for a contact or a conversation's client (what the reply "
                  "box inserts)")
    async def render_template(self, request: Req, template_id: PathId, data: JSONBody[RenderIn]) -> RenderOut:
        return msgspec.convert(await templates.render_for(request.user, template_id, data.contact_id,
                                                          data.conversation_id), RenderOut)
