"""One of the processes of test_routing_race.py: routes a queue and accepts the offers it finds, as fast as it can,
while another process does the same on the same tenant. Every step is its own transaction, exactly as the route
job and the agents' accept requests run them. `python -m tests.integration.routing_racer <slug> <queue_id> <seed>`;
prints how many offers it made and accepted."""

from __future__ import annotations

import asyncio
import os
import random
import sys

from app import events_catalogue  # noqa: F401  (every domain declares its events, as the app does)
from app import jobs as _jobs  # noqa: F401  (the job registry, as the app has it)
from app.accounts.services import Principal
from app.lib.db import current_uow, resolve_active, start_database, stop_database, tenant_context
from app.lib.errors import DomainError
from app.routing import services


async def race(slug: str, queue_id: int, seed: int) -> tuple[int, int]:
    rnd = random.Random(seed)
    await start_database(os.environ["DATABASE_URL"], 2, 6)
    tenant = await resolve_active(slug)
    assert tenant is not None
    made = accepted = idle = 0
    try:
        while idle < 20:
            async with tenant_context(tenant):
                offered = await services.route(queue_id, limit=rnd.randint(1, 8))
            async with tenant_context(tenant):
                pending = await current_uow().connection.fetch(
                    'SELECT o.id, o."user", u.email, u.name FROM routing_offer o JOIN app_user u ON u.id = o."user" '
                    "WHERE o.status = 'pending'")
            pending = list(pending)
            rnd.shuffle(pending)
            took = 0
            for offer in pending[: rnd.randint(1, 6)]:
                agent = Principal(offer["user"], offer["email"], offer["name"], "operator", "session", 0)
                try:
                    async with tenant_context(tenant):
                        await services.accept(agent, offer["id"])
                    took += 1
                except DomainError:
                    pass  # the other process accepted it first
            made += len(offered)
            accepted += took
            idle = 0 if offered or took or pending else idle + 1
            if not offered and not took:
                await asyncio.sleep(0.01)
    finally:
        await stop_database()
    return made, accepted


if __name__ == "__main__":
    result = asyncio.run(race(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print("RESULT", *result)
