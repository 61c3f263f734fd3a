"""The demo shop's two-factor sign-in: the demo admin has it on with a published key (a demo, not a secret), so
`make run` shows the second sign-in step; the shop's policy stays "off" and the other demo users sign in as before."""

from __future__ import annotations

from app.accounts.tables import User, UserTotp
from app.accounts.twofa import TOTP_PURPOSE
from app.audit import services as audit
from app.audit.tables import AuditEntry
from app.lib import crypto
from app.lib.clock import now
from app.lib.db import resolve_active, tenant_context

DEMO_TOTP_KEY = "DEMOADMINTWOFACTORKEY234"
"""The demo admin's authenticator key (README): any TOTP app, or `pyotp.TOTP(DEMO_TOTP_KEY).now()`."""


async def ensure_demo_twofa(slug: str, email: str) -> bool:
    """Turn 2FA on for the demo user `email` of shop `slug` once (an admin's later reset is kept)."""
    tenant = await resolve_active(slug)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        user = await User.select(User.id).where(User.email == email).first()
        # Once: a user who ever turned it on (an admin's later reset is kept) is left alone.
        if user is None or await AuditEntry.exists().where(
                (AuditEntry.action == "twofa.enabled") & (AuditEntry.target_id == str(user["id"]))):
            return False
        await UserTotp.insert(UserTotp(user=user["id"], secret_enc=crypto.encrypt(DEMO_TOTP_KEY, purpose=TOTP_PURPOSE),
                                       confirmed_at=now()))
        await audit.record("twofa.enabled", actor_id=user["id"], actor=email, target_type="user",
                           target_id=user["id"], detail={"demo": True})
    return True

