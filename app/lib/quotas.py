"""Tenant quotas: the platform sets, per shop, how many contacts and users it may have, how many bytes of files it
may store and how many messages (SMS and email) it may send per day (UTC); an unset limit is unlimited.

The limits live on the shop's row of the tenant registry (`public.tenant.quota_*`, set by `switchboard tenants
quota`); the usage is counted by the domains that own the rows, each handing its counter over in its manifest
(`Domain.quota_usage`, installed by app.domains), so this module imports no domain. Enforcement sits where a thing
is created, inside the creating unit of work and before anything is written: `await quotas.check("contacts", 3)`
refuses with QuotaExceeded (a 403 naming the limit and the usage) when 3 more would not fit. Checks of one shop and
kind are serialised with a transaction-scoped advisory lock (only when a limit is set), so two requests racing for
the last slot cannot both pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from app.lib import i18n
from app.lib.db import current_tenant, current_uow
from app.lib.errors import DomainError
from app.lib.i18n import N_

KINDS = ("contacts", "users", "storage", "messages_per_day")
"""Every quota, in the order the "Plan and usage" page lists them."""

COLUMNS = {"contacts": "quota_contacts", "users": "quota_users", "storage": "quota_storage_bytes",
           "messages_per_day": "quota_messages_per_day"}
"""The registry column that holds each limit (NULL: unlimited)."""

LABELS = {"contacts": N_("Contacts"), "users": N_("Users"), "storage": N_("File storage"),
          "messages_per_day": N_("Messages sent today (SMS and email)")}

UsageCounter = Callable[[], Awaitable[int]]
"""`async fn() -> int`: how much of a quota the current tenant uses, read in the caller's unit of work."""

_counters: dict[str, list[UsageCounter]] = {}

# One template per kind: what the plan allows, what the shop has, what it can do about it.
_REFUSALS = {
    "contacts": N_("Your plan allows %(limit)s contacts; you have %(used)s, so %(adding)s more do not fit. Delete "
                   "contacts you no longer need or ask us to raise the limit."),
    "users": N_("Your plan allows %(limit)s users (invitations included); you have %(used)s. Disable a user, "
                "withdraw an invitation or ask us to raise the limit."),
    "storage": N_("Your plan allows %(limit)s of files; %(used)s are stored, and this file (%(adding)s) does not "
                  "fit. Delete files you no longer need or ask us to raise the limit."),
    "messages_per_day": N_("Your plan allows %(limit)s messages (SMS and email) a day; %(used)s were sent today "
                           "(UTC). Try again tomorrow or ask us to raise the limit."),
}


class QuotaExceeded(DomainError):
    """A plan's limit would be passed: nothing was written."""

    status_code = 403


@dataclasses.dataclass(frozen=True)
class Usage:
    kind: str
    used: int
    limit: int | None

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def register(kind: str, counter: UsageCounter) -> None:
    """Add a counter to `kind` (several add up: SMS and email for messages per day); idempotent."""
    if kind not in KINDS:
        raise ValueError(f"unknown quota {kind!r}; one of {', '.join(KINDS)}")
    found = _counters.setdefault(kind, [])
    if counter not in found:
        found.append(counter)


async def used(kind: str) -> int:
    return sum([await counter() for counter in _counters.get(kind, [])])


async def limits() -> dict[str, int | None]:
    """The current tenant's limits (None: unlimited), read from the registry in the caller's unit of work."""
    row = await current_uow().connection.fetchrow(
        "SELECT " + ", ".join(COLUMNS[k] for k in KINDS) + " FROM public.tenant WHERE id = $1",  # noqa: S608
        current_tenant().id)
    return {kind: (row[COLUMNS[kind]] if row is not None else None) for kind in KINDS}


async def usage() -> list[Usage]:
    """Every quota of the current tenant: used and limit."""
    limit = await limits()
    return [Usage(kind, await used(kind), limit[kind]) for kind in KINDS]


def shown(kind: str, amount: int | None) -> str:
    """An amount as a person reads it, in the viewer's language: bytes of storage in MB, the others as counts."""
    if amount is None:
        return i18n.gettext("unlimited")
    if kind == "storage":
        return i18n.format_number(amount / 1_000_000, 1) + " MB"
    return i18n.format_number(amount)


IMPORT_REFUSAL = N_("This file has %(adding)s rows and your plan allows %(limit)s contacts; you have %(used)s. An "
                    "import is checked as if every row made a new contact: split the file, delete contacts you no "
                    "longer need or ask us to raise the limit.")


async def check(kind: str, adding: int = 1, *, message: str | None = None) -> None:
    """Refuse with QuotaExceeded when `adding` more of `kind` would pass the current tenant's limit (`message`:
    another catalogue template with the same placeholders, for a particular place)."""
    limit = (await limits())[kind]
    if limit is None or adding <= 0:
        return
    conn = current_uow().connection
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('quota:' || $1), $2)", kind, current_tenant().id)
    count = await used(kind)
    if count + adding > limit:
        raise QuotaExceeded(message or _REFUSALS[kind], limit=shown(kind, limit), used=shown(kind, count),
                            adding=shown(kind, adding), extra={"quota": kind, "limit": limit, "used": count})
