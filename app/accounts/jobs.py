"""Background jobs of the accounts domain."""

from __future__ import annotations

from typing import Any

from app.accounts import services
from app.accounts.tables import Invitation, Workspace
from app.lib import i18n, mail
from app.lib.db import resolve_active, tenant_context
from app.lib.templates import render_text, word
from app.settings import get_settings


async def send_invitation(payload: dict[str, Any]) -> None:
    """Email the invitation link. Idempotent enough: re-sending the same link twice is harmless."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return  # the shop was suspended or removed since; nothing to send
    async with tenant_context(tenant):
        inv = await Invitation.select(
            Invitation.id, Invitation.email, Invitation.role, Invitation.created_at, Invitation.accepted_at,
            Invitation.revoked_at, Invitation.invited_by.name.as_alias("inviter"),
        ).where(Invitation.id == payload["invitation_id"]).first()
        ws = await Workspace.select(Workspace.display_name, Workspace.language).first()
    if inv is None or inv["accepted_at"] is not None or inv["revoked_at"] is not None:
        return
    token = services.invitation_token(tenant.slug, inv["id"], inv["created_at"])
    context = {"url": services.invitation_url(tenant.slug, token), "shop": ws["display_name"] if ws else tenant.name,
               "inviter": inv["inviter"], "role": inv["role"]}
    settings = get_settings()
    with i18n.viewing(ws["language"] if ws else None):  # not a user yet: the workspace's language
        context["role"] = word(inv["role"])
        context["inviter"] = context["inviter"] or i18n.gettext("An admin")
        message = mail.build_message(
            settings.mail.from_address, inv["email"],
            i18n.gettext("You are invited to %(shop)s on Switchboard", shop=context["shop"]),
            render_text("emails/invitation.txt", context), render_text("emails/invitation.html", context),
        )
    await mail.send(mail.SmtpAccount.platform(settings.mail), message)
