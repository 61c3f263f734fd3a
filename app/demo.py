"""The demo tenant `make run` creates, with an owner and an operator you can sign in as."""

from __future__ import annotations

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
