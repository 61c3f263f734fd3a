"""The tenant's email settings: SMTP server (password encrypted), from address, and the shop's inbound address."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.email.tables import TLS_MODES, EmailAccount
from app.lib import crypto
from app.lib.clock import now
from app.lib.db import current_tenant, save_single_row
from app.lib.errors import Invalid, NotFound
from app.lib.identities import normalize_email
from app.lib.mail import SmtpAccount
from app.settings import get_settings

PASSWORD_PURPOSE = "smtp.password"  # noqa: S105 (a key-derivation label, not a secret)
HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}"
                     r"[A-Za-z0-9])?)*$")


def inbound_address(slug: str | None = None) -> str:
    """Where customers write to the shop: `<slug>@MAIL_DOMAIN`."""
    return f"{slug or current_tenant().slug}@{get_settings().mail.mail_domain}"


def reply_address(token: str, slug: str | None = None) -> str:
    """The Reply-To of an outbound email: the inbound address plus a token naming the thread."""
    return f"{slug or current_tenant().slug}+{token}@{get_settings().mail.mail_domain}"


async def account() -> tuple[SmtpAccount, str] | None:
    """The SMTP account to send with (password decrypted) and the From header, or None when not configured."""
    row = await EmailAccount.select().order_by(EmailAccount.id).first()
    if row is None:
        return None
    password = crypto.decrypt(row["smtp_password_enc"], purpose=PASSWORD_PURPOSE) if row["smtp_password_enc"] else None
    smtp = SmtpAccount(host=row["smtp_host"], port=row["smtp_port"], user=row["smtp_user"] or None, password=password,
                       tls=row["smtp_tls"], from_address=row["from_address"])
    sender = f'"{row["from_name"]}" <{row["from_address"]}>' if row["from_name"] else row["from_address"]
    return smtp, sender


async def require_account() -> tuple[SmtpAccount, str]:
    found = await account()
    if found is None:
        raise NotFound("Outgoing email is not set up yet: an admin saves the SMTP settings first.")
    return found


async def public_view() -> dict[str, Any]:
    """The settings as an admin may read them: everything except the password."""
    row = await EmailAccount.select().order_by(EmailAccount.id).first()
    base: dict[str, Any] = {"inbound_address": inbound_address()}
    if row is None:
        return base | {"configured": False}
    return base | {"configured": True, "smtp_host": row["smtp_host"], "smtp_port": row["smtp_port"],
                   "smtp_tls": row["smtp_tls"], "smtp_user": row["smtp_user"],
                   "password_set": bool(row["smtp_password_enc"]), "from_address": row["from_address"],
                   "from_name": row["from_name"], "updated_at": row["updated_at"]}


async def save(actor: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Validate and store the settings; leaving `smtp_password` out (or empty) keeps the stored one."""
    current = await EmailAccount.select(EmailAccount.id).first()
    host = str(data.get("smtp_host") or "").strip()
    if not HOST_RE.match(host):
        raise Invalid("The SMTP host is a host name or an IP address, e.g. smtp.example.com.", field="smtp_host")
    port = data.get("smtp_port", 587)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise Invalid("The SMTP port is a number from 1 to 65535 (usually 587, 465 or 25).", field="smtp_port")
    tls = str(data.get("smtp_tls") or "starttls")
    if tls not in TLS_MODES:
        raise Invalid("smtp_tls must be one of: %(choices)s.", field="smtp_tls", choices=', '.join(TLS_MODES))
    user = str(data.get("smtp_user") or "").strip()
    if len(user) > 254:
        raise Invalid("The SMTP user must be at most 254 characters.", field="smtp_user")
    password = str(data.get("smtp_password") or "")
    if len(password) > 500:
        raise Invalid("The SMTP password must be at most 500 characters.", field="smtp_password")
    from_address = normalize_email(str(data.get("from_address") or ""), field="from_address")
    from_name = str(data.get("from_name") or "").strip().replace('"', "")
    if len(from_name) > 100:
        raise Invalid("The sender name must be at most 100 characters.", field="from_name")
    values: dict[Any, Any] = {EmailAccount.smtp_host: host, EmailAccount.smtp_port: port, EmailAccount.smtp_tls: tls,
                              EmailAccount.smtp_user: user, EmailAccount.from_address: from_address,
                              EmailAccount.from_name: from_name, EmailAccount.updated_at: now()}
    if password:
        values[EmailAccount.smtp_password_enc] = crypto.encrypt(password, purpose=PASSWORD_PURPOSE)
    elif not user:
        values[EmailAccount.smtp_password_enc] = ""
    await save_single_row(EmailAccount, values, current["id"] if current else None)
    await audit.record("email.configured", actor_id=actor.user_id, actor=actor.label, target_type="channel",
                       target_id="email", detail={"password_changed": bool(password), "host": host})
    return await public_view()
