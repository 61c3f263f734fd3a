"""Append to and read the audit log of the current tenant."""

from __future__ import annotations

from typing import Any

from app.audit.tables import AuditEntry
from app.lib import i18n, reqctx
from app.lib.i18n import N_

ACTIONS: dict[str, str] = {
    "tenant.created": N_("Workspace created"),
    "workspace.updated": N_("Workspace settings changed"),
    "login.succeeded": N_("Signed in"),
    "login.failed": N_("Sign-in failed"),
    "login.locked": N_("Sign-in locked after failed attempts"),
    "logout": N_("Signed out"),
    "api_key.created": N_("API key created"),
    "api_key.revoked": N_("API key revoked"),
    "user.updated": N_("User changed"),
    "sessions.revoked": N_("User signed out everywhere"),
    "user.invited": N_("User invited"),
    "user.preferences_changed": N_("Own preferences changed"),
    "invitation.revoked": N_("Invitation revoked"),
    "invitation.accepted": N_("Invitation accepted"),
    "contact.created": N_("Contact created"),
    "contact.updated": N_("Contact changed"),
    "contact.deleted": N_("Contact deleted"),
    "contact.merged": N_("Contacts merged"),
    "contact.temperature_automatic": N_("Temperature handed back to the rules"),
    "segment.created": N_("Segment created"),
    "segment.updated": N_("Segment changed"),
    "segment.deleted": N_("Segment deleted"),
    "segment.members_added": N_("Contacts added to a list"),
    "segment.members_removed": N_("Contacts removed from a list"),
    "segments.temperature_rules": N_("Temperature rules changed"),
    "note.added": N_("Note added"),
    "file.uploaded": N_("File uploaded"),
    "file.deleted": N_("File deleted"),
    "custom_field.created": N_("Custom field created"),
    "custom_field.archived": N_("Custom field archived"),
    "contact_import.uploaded": N_("Contact import uploaded"),
    "contact_import.started": N_("Contact import started"),
    "contact_import.resumed": N_("Contact import resumed"),
    "contact_import.failed": N_("Contact import failed"),
    "contact_import.finished": N_("Contact import finished"),
    "order_import.uploaded": N_("Order import uploaded"),
    "order_import.started": N_("Order import started"),
    "order_import.resumed": N_("Order import resumed"),
    "order_import.failed": N_("Order import failed"),
    "order_import.finished": N_("Order import finished"),
    "order.created": N_("Order created"),
    "order.updated": N_("Order changed"),
    "order.status_changed": N_("Order status changed"),
    "order.payment": N_("Payment recorded"),
    "order.refund": N_("Refund recorded"),
    "order.portal_issued": N_("Order tracking link issued"),
    "order.portal_revoked": N_("Order tracking link revoked"),
    "order.message_sent": N_("Message to the customer sent"),
    "order_notification.updated": N_("Order notification changed"),
    "order_status.created": N_("Order status created"),
    "order_status.updated": N_("Order status changed in settings"),
    "deal.created": N_("Deal created"),
    "deal.moved": N_("Deal moved to another stage"),
    "deal_stage.created": N_("Deal stage created"),
    "queue.created": N_("Queue created"),
    "queue.updated": N_("Queue changed"),
    "hours_calendar.created": N_("Business-hours calendar created"),
    "hours_calendar.updated": N_("Business-hours calendar changed"),
    "hours_calendar.deleted": N_("Business-hours calendar deleted"),
    "hours_closed_date.added": N_("Closed date added"),
    "hours_closed_date.removed": N_("Closed date removed"),
    "hours_override.set": N_("Opening-hours override set"),
    "hours_override.removed": N_("Opening-hours override removed"),
    "hours_queue.updated": N_("Queue's business hours changed"),
    "queue.disposition_added": N_("Disposition code added to a queue"),
    "queue.disposition_updated": N_("Disposition code changed"),
    "queue.disposition_removed": N_("Disposition code removed from a queue"),
    "agent.capacity_changed": N_("Agent capacity changed"),
    "queue.routing_updated": N_("Queue routing changed"),
    "user.skills_updated": N_("Skills changed"),
    "conversation.priority": N_("Conversation priority changed"),
    "sla_policy.created": N_("SLA policy created"),
    "sla_policy.updated": N_("SLA policy changed"),
    "sla_policy.deleted": N_("SLA policy deleted"),
    "report_settings.updated": N_("Service-level settings changed"),
    "conversation.opened": N_("Conversation opened"),
    "conversation.transferred": N_("Conversation transferred"),
    "conversation.linked": N_("Conversation linked to a client"),
    "conversation.assigned": N_("Conversation assigned"),
    "conversation.moved": N_("Conversation moved to another queue"),
    "conversation.snoozed": N_("Conversation snoozed"),
    "conversation.closed": N_("Conversation closed"),
    "conversation.reopened": N_("Conversation reopened"),
    "conversation.merged": N_("Conversations merged"),
    "address.blocked": N_("Sender blocked as spam"),
    "address.unblocked": N_("Sender unblocked"),
    "chat.settings_updated": N_("Web chat settings changed"),
    "email.configured": N_("Email settings changed"),
    "email_template.created": N_("Email template created"),
    "email_template.updated": N_("Email template changed"),
    "email_template.deleted": N_("Email template deleted"),
    "twilio.configured": N_("Twilio settings changed"),
    "callback.cancelled": N_("Callback cancelled"),
    "demo.seeded": N_("Demo data created"),
    "automation_rule.created": N_("Automation rule created"),
    "automation_rule.updated": N_("Automation rule changed (new version)"),
    "automation_rule.enabled": N_("Automation rule enabled"),
    "automation_rule.disabled": N_("Automation rule disabled"),
    "automation_rule.moved": N_("Automation rule moved in the order"),
    "automation_rule.deleted": N_("Automation rule deleted"),
    "webhook.created": N_("Webhook endpoint created"),
    "webhook.updated": N_("Webhook endpoint changed"),
    "webhook.deleted": N_("Webhook endpoint removed"),
    "webhook.secret_rotated": N_("Webhook signing secret rotated"),
    "webhook.redelivered": N_("Webhook delivery sent again"),
    "webhook.disabled": N_("Webhook endpoint turned off after failures"),
    "twofa.enabled": N_("Two-factor sign-in turned on"),
    "twofa.disabled": N_("Two-factor sign-in turned off"),
    "twofa.reset": N_("Two-factor sign-in reset by an admin"),
    "twofa.recovery_codes_renewed": N_("New recovery codes made"),
    "twofa.policy_changed": N_("Two-factor sign-in policy changed"),
    "privacy.export_requested": N_("Export of a client's data requested"),
    "privacy.erased": N_("Client's personal data erased"),
    "privacy.hold_set": N_("Legal hold set"),
    "privacy.hold_cleared": N_("Legal hold lifted"),
    "retention.policy_set": N_("Retention policy changed"),
    "retention.purged": N_("Retention purge ran"),
    "reports.targets_changed": N_("KPI targets changed"),
    "revenue_settings.updated": N_("Revenue report settings changed"),
    "consent.settings_saved": N_("Consent settings changed"),
}
"""What each stored action (an English key) means, as the audit page shows it in the reader's language."""


def describe(action: str) -> str:
    """An action as a person reads it; one without a description shows its key."""
    text = ACTIONS.get(action)
    return i18n.gettext(text) if text else action


async def record(action: str, *, actor_id: int | None = None, actor: str = "", target_type: str = "",
                 target_id: Any = "", detail: dict[str, Any] | None = None) -> None:
    """Write one entry inside the current unit of work (it commits or rolls back with the change it records)."""
    await AuditEntry.insert(AuditEntry(
        actor_id=actor_id, actor=actor, action=action, target_type=target_type,
        target_id=str(target_id) if target_id is not None else "", detail=detail or {}, ip=reqctx.client_ip.get(),
    ))


async def page(limit: int = 50, before_id: int | None = None, action: str | None = None) -> list[dict[str, Any]]:
    query = AuditEntry.select().order_by(AuditEntry.id, ascending=False).limit(min(max(limit, 1), 200)).output(
        load_json=True)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return await query
