"""The onboarding checklist: which steps are done (finished in the wizard, or already set up in settings)."""

from __future__ import annotations

import secrets
from typing import Any

from app.accounts import services as accounts
from app.accounts.services import Principal
from app.accounts.tables import Workspace
from app.chat import services as chat
from app.email import config as email_config
from app.lib.errors import Forbidden
from app.lib.i18n import N_
from telephony import config as twilio_config

STEPS = ("profile", "phone", "email", "chat", "queues", "team")
"""The wizard's order; each step can be skipped and resumed later from the home page's checklist."""

TITLES = {"profile": N_("Your shop"), "phone": N_("Phone and SMS"), "email": N_("Email"), "chat": N_("Web chat"),
          "queues": N_("Queues"), "team": N_("Your team")}
HINTS = {"profile": N_("Language, time zone, currency and country"),
         "phone": N_("Connect Twilio so calls and texts reach the console"),
         "email": N_("Send from your SMTP server and receive at the shop's inbound address"),
         "chat": N_("Choose the sites the chat bubble may run on and paste the snippet"),
         "queues": N_("The topics customers are routed to"),
         "team": N_("Invite operators, supervisors and admins")}
SIMULATOR_NUMBER = "+15005550006"


def next_step(step: str) -> str:
    """The step after `step`, or "done" after the last one."""
    return STEPS[STEPS.index(step) + 1] if step in STEPS and step != STEPS[-1] else "done"


async def _set_up_elsewhere() -> set[str]:
    """Steps whose settings already exist, however they were made (settings pages, API, demo seed)."""
    done = set()
    if (await twilio_config.public_view())["connected"]:
        done.add("phone")
    if (await email_config.public_view())["configured"]:
        done.add("email")
    if (await chat.get_settings())["allowed_origins"]:
        done.add("chat")
    if len([u for u in await accounts.list_users() if u["status"] == "active"]) > 1:
        done.add("team")
    return done


async def checklist() -> list[dict[str, Any]]:
    """Every step with `done`; the home page shows the list until every item is done."""
    ws = await accounts.workspace()
    done = set(ws["onboarding_steps"] or []) | await _set_up_elsewhere()
    return [{"step": s, "title": TITLES[s], "hint": HINTS[s], "done": s in done} for s in STEPS]


async def mark_done(actor: Principal, step: str) -> None:
    """Remember that the admin finished `step` in the wizard (idempotent)."""
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin or the owner sets the workspace up.")
    ws = await accounts.workspace()
    steps = list(ws["onboarding_steps"] or [])
    if step in STEPS and step not in steps:
        await Workspace.update({Workspace.onboarding_steps: [*steps, step]}, force=True)


async def finish(actor: Principal) -> None:
    """Leave the wizard: home stops sending admins here; what was skipped stays on the home checklist."""
    await accounts.update_workspace(actor, onboarding_done=True)


async def use_simulator(actor: Principal) -> dict[str, Any]:
    """Dev only: connect the phone step to the local Twilio simulator with a made-up account and number."""
    return await twilio_config.save(actor, {"account_sid": "AC" + secrets.token_hex(16),
                                            "auth_token": secrets.token_hex(16), "numbers": [SIMULATOR_NUMBER]})
