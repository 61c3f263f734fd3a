"""The domains of the product: the only place that names them. Everything the process wires comes from this list.

`app.asgi` builds its routes from it, the worker its jobs (app/jobs.py) and durable listeners (app/listeners.py),
Piccolo and `switchboard migrate` their apps (app/piccolo_conf.py, in this order: a domain's tables after the ones
they point at), the event catalogue its declarations (app/events_catalogue.py). Importing this module hands the
lower layers what they run but do not import: the live renderers (realtime.render), the merge steps
(app.contacts.merge), the console's extra context (app.conversations.console), the durable listeners' docs
(realtime.durable) and the presence watchers (realtime.presence).

Adding a domain: a package with a `domain.py` exporting `DOMAIN = Domain(...)` (app/lib/domain.py says what each
field means), and one line below.
"""

from __future__ import annotations

from typing import Any

from app.accounts.domain import DOMAIN as ACCOUNTS
from app.agents.domain import DOMAIN as AGENTS
from app.audit.domain import DOMAIN as AUDIT
from app.campaigns.domain import DOMAIN as CAMPAIGNS
from app.campaigns.tracking_domain import DOMAIN as CAMPAIGN_TRACKING
from app.chat.domain import DOMAIN as CHAT
from app.consent.domain import DOMAIN as CONSENT
from app.contacts import merge
from app.contacts import services as contacts_services
from app.contacts.domain import DOMAIN as CONTACTS
from app.conversations import actions, console
from app.conversations.domain import DOMAIN as CONVERSATIONS
from app.deals.domain import DOMAIN as DEALS
from app.email.domain import DOMAIN as EMAIL
from app.home.domain import DOMAIN as HOME
from app.hours.domain import DOMAIN as HOURS
from app.lib import quotas
from app.lib.crypto import EncryptedColumn
from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.onboarding.domain import DOMAIN as ONBOARDING
from app.orders.domain import DOMAIN as ORDERS
from app.privacy.domain import DOMAIN as PRIVACY
from app.reports.domain import DOMAIN as REPORTS
from app.routing.domain import DOMAIN as ROUTING
from app.security.domain import DOMAIN as SECURITY
from app.segments import services as segments_services
from app.segments.domain import DOMAIN as SEGMENTS
from app.sla.domain import DOMAIN as SLA
from app.tasks.domain import DOMAIN as TASKS
from app.timeline.domain import DOMAIN as TIMELINE
from app.upsell.domain import DOMAIN as UPSELL
from app.wallboard.domain import DOMAIN as WALLBOARD
from app.workspace.domain import DOMAIN as WORKSPACE
from realtime import durable, presence, render
from realtime import views as sockets
from realtime.domain import DOMAIN as REALTIME
from telephony.domain import DOMAIN as TELEPHONY
from tenants.domain import DOMAIN as TENANTS

# isort: split
# Last: the spine's pull API documents the whole event catalogue, and outbound webhooks and automation's listener
# subscribe to all of it, so every domain has declared its events by now.
from app.automation.domain import DOMAIN as AUTOMATION
from app.events_api import DOMAIN as SPINE
from app.webhooks_out.domain import DOMAIN as WEBHOOKS_OUT

DOMAINS: tuple[Domain, ...] = (
    TENANTS,
    ACCOUNTS,
    AUDIT,
    CONTACTS,
    TIMELINE,
    REALTIME,
    CONVERSATIONS,
    HOURS,
    AGENTS,
    SLA,
    ORDERS,
    DEALS,
    UPSELL,
    TASKS,
    TELEPHONY,
    EMAIL,
    CHAT,
    SECURITY,
    CONSENT,
    ROUTING,
    SEGMENTS,
    WEBHOOKS_OUT,
    HOME,
    ONBOARDING,
    WALLBOARD,
    WORKSPACE,
    PRIVACY,
    REPORTS,
    CAMPAIGNS,
    CAMPAIGN_TRACKING,
    AUTOMATION,
    SPINE,
)


def tenant_routes() -> list[Any]:
    """Every workspace route, relative to `/t/{slug}` (app.asgi mounts them on one router with that prefix)."""
    return [route for domain in DOMAINS for route in domain.routes]


def public_routes() -> list[Any]:
    return [route for domain in DOMAINS for route in domain.public_routes]


def jobs() -> dict[str, JobSpec]:
    """Every background job by entrypoint name; a name declared twice is refused."""
    out: dict[str, JobSpec] = {}
    for domain in DOMAINS:
        for name, spec in domain.jobs.items():
            if name in out:
                raise ValueError(f"job {name!r} is declared twice (second time by the {domain.name} domain)")
            out[name] = spec
    return out


def listeners() -> list[durable.DurableListener]:
    return [listener for domain in DOMAINS for listener in domain.listeners]


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of a tenant schema (what `switchboard secrets rotate` re-encrypts)."""
    return [column for domain in DOMAINS for column in domain.secrets]


def piccolo_apps() -> list[str]:
    """Piccolo apps in migration order: the platform's first, then each domain's after those it points at."""
    return [domain.piccolo_app for domain in DOMAINS if domain.piccolo_app]


def install() -> None:
    """Hand the lower layers what the manifests declare (idempotent: re-running registers nothing twice)."""
    for domain in DOMAINS:
        for renderer in domain.renderers:
            render.register_marked(renderer)
        for step in domain.merge_steps:
            merge.register(step)
        for extra in domain.console_extras:
            console.register_extra(extra)
        for check in domain.assign_checks:
            actions.register_assign_check(check)
        for key, handler in domain.socket_messages.items():
            sockets.register_message(key, handler)
        for watcher in domain.presence_watchers:
            presence.watch(watcher)
        for kind, counter in domain.quota_usage.items():
            quotas.register(kind, counter)
    # segments: the contact list's `segment` filter (contacts sits below segments).
    contacts_services.register_segment_resolver(segments_services.contact_ids_sql)
    durable.declare_listeners(listeners())


install()
