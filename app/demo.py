"""The demo tenant `make run` creates, with an owner and an operator you can sign in as."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.accounts.tables import User
from app.lib.db import tenant_context
from app.lib.security import hash_password
from tenants import services as tenants

DEMO_SLUG = "demo"
DEMO_OWNER = ("owner@demo.example", "demo-owner-pass")
DEMO_OPERATOR = ("operator@demo.example", "demo-operator-pass")
DEMO_SUPERVISOR = ("supervisor@demo.example", "demo-supervisor-pass")


async def ensure_demo() -> bool:
    """Create the demo shop if it is missing; returns True when it was created now."""
    if await tenants.resolve_active(DEMO_SLUG) is not None:
        return False
    result = await tenants.signup("Demo Shop", DEMO_SLUG, DEMO_OWNER[0], DEMO_OWNER[1], owner_name="Olivia Owner")
    async with tenant_context(result.tenant):
        for (email, password), name, role in ((DEMO_OPERATOR, "Oscar Operator", "operator"),
                                              (DEMO_SUPERVISOR, "Sue Supervisor", "supervisor")):
            await User.insert(User(email=email, name=name, role=role, password_hash=await hash_password(password)))
        from app.accounts.tables import Workspace

        await Workspace.update({Workspace.onboarding_done: True}, force=True)
    return True


# The demo shop's Twilio account lives in the simulator `switchboard run` starts (never a real Twilio account).
DEMO_TWILIO_SID = "AC" + "de60" * 8
DEMO_TWILIO_TOKEN = "d3m0" * 8
DEMO_NUMBER = "+14155550100"
DEMO_DEVICES = {DEMO_OPERATOR[0]: "+14155550123", DEMO_OWNER[0]: "+14155550121", DEMO_SUPERVISOR[0]: "+14155550122"}


async def ensure_demo_telephony() -> bool:
    """Connect the demo shop to the simulated Twilio account (once: an admin's later changes are kept)."""
    from telephony import config
    from telephony.tables import TwilioConfig

    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        await config.save(owner, {
            "account_sid": DEMO_TWILIO_SID, "auth_token": DEMO_TWILIO_TOKEN, "numbers": [DEMO_NUMBER],
            "record_calls": True, "greeting": "Thank you for calling Demo Shop.", "ivr": {"1": "general"},
            "devices": [{"user_id": users[email]["id"], "address": phone} for email, phone in DEMO_DEVICES.items()
                        if email in users]})

    return await _set_up_once(TwilioConfig, configure)


async def ensure_demo_chat(site_origin: str) -> bool:
    """Let the demo shop's web chat run on `site_origin` (the simulator's /shop page plays the shop's website);
    once: an admin's later changes are kept."""
    from app.chat import services as chat
    from app.chat.tables import ChatSettings

    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        await chat.update_settings(owner, allowed_origins=[site_origin],
                                   greeting="Welcome to Demo Shop! Ask us anything.")

    return await _set_up_once(ChatSettings, configure)


async def _set_up_once(table: Any, configure: Callable[[dict[str, dict[str, Any]], Any], Awaitable[None]]) -> bool:
    """Run `configure(users by email, owner)` in the demo shop unless `table` has its row already."""
    from app.accounts.services import Principal

    tenant = await tenants.resolve_active(DEMO_SLUG)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        if await table.exists().where(table.id > 0):
            return False
        users = {u["email"]: u for u in await User.select(User.id, User.email, User.name)}
        owner = users[DEMO_OWNER[0]]
        await configure(users, Principal(user_id=owner["id"], email=owner["email"], name=owner["name"], role="owner",
                                         via="session", credential_id=0))
    return True
