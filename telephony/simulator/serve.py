"""`switchboard twilio-sim`: the simulator on a loopback port, with one account and number pointed at a shop."""

from __future__ import annotations

from typing import Any

import uvicorn

from telephony.simulator.core import Simulator
from telephony.simulator.rest import create_app


def build(*, account_sid: str | None, auth_token: str | None, number: str, webhook_base: str) -> tuple[Simulator, Any]:
    """A simulator with one account whose `number` sends calls and SMS to `webhook_base` (…/t/{slug}/webhooks/twilio)."""
    sim = Simulator()
    acct = sim.add_account(account_sid, auth_token)
    base = webhook_base.rstrip("/")
    sim.add_number(acct.sid, number, voice_url=f"{base}/voice", status_callback=f"{base}/status", sms_url=f"{base}/sms")
    return sim, create_app(sim)


def serve(host: str, port: int, **kwargs: Any) -> Simulator:
    sim, app = build(**kwargs)
    acct = next(iter(sim.accounts.values()))
    print(f"Twilio simulator on http://{host}:{port}  account {acct.sid}  token {acct.auth_token}  "  # noqa: T201
          f"number {kwargs['number']} -> {kwargs['webhook_base']}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return sim
