"""Email JSON API under /t/{slug}/api/v1: SMTP settings (never the password), test email, send and list emails."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.messaging import config, outbound, templates

Req = Request[Principal, Any, Any]


class MessagingApi(Controller):
    path = "/t/{slug:str}/api/v1"
    tags = ["email"]
    guards = [signed_in]

    @get("/channels/email", guards=[requires("admin")], summary="Email settings (never the SMTP password)")
    async def read_config(self) -> dict[str, Any]:
        return await config.public_view()

    @put("/channels/email", guards=[requires("admin")], summary="Set up outgoing email; the password is encrypted")
    async def save_config(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await config.save(request.user, data)

    @post("/channels/email/test", guards=[requires("admin")], status_code=200,
          summary="Send a test email now with the saved settings; answers with the server's reason on failure")
    async def test_config(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await outbound.send_test(request.user, str(data.get("to") or ""))

    @post("/contacts/{contact_id:int}/emails", status_code=201, summary="Queue an email to a contact")
    async def send(self, request: Req, contact_id: FromPath[int], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """Body: subject, body (plain text; an HTML part is made from it), optional to, template_id, variables,
        reply_to (an email id) or conversation_id, attachments [{filename, content_type, data (base64)}]."""
        return await outbound.compose(request.user, contact_id, data)

    @get("/contacts/{contact_id:int}/emails")
    async def list_emails(self, contact_id: FromPath[int]) -> list[dict[str, Any]]:
        return await outbound.for_contact(contact_id)

    @get("/emails/{email_id:int}")
    async def read_email(self, email_id: FromPath[int]) -> dict[str, Any]:
        return await outbound.get(email_id)

    @get("/email-templates")
    async def list_templates(self, kind: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return await templates.list_all(kind)

    @post("/email-templates", guards=[requires("admin")], status_code=201,
          summary="Create an email template or canned response ({{ contact.name }}, {{ operator.name }}, ...)")
    async def create_template(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await templates.create(request.user, data)

    @post("/email-templates/{template_id:int}/render", status_code=200,
          summary="A template or canned response filled in for a contact (what the reply box inserts)")
    async def render_template(self, request: Req, template_id: FromPath[int],
                              data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return await templates.render_for(request.user, template_id, data.get("contact_id"))
