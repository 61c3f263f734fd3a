"""Channel names per tenant and who may listen to them: the only place a channel name is built."""

from __future__ import annotations

import re

from app.lib.db import TenantRef
from app.lib.roles import RANK
from realtime.viewer import Viewer

# Topics are tenant-relative (`queue`, `user:7`); `channel_name` turns one into `tenant:{slug}:{topic}` for the
# tenant of the unit of work, so no caller can spell another tenant's channel.
KINDS: dict[str, str] = {
    "queue": "Tenant-wide console channel every signed-in user sees: queue, counts, presence.",
    "role": "Users with this role or a higher one (role:supervisor reaches supervisors, admins, owners).",
    "user": "One user's own channel: their assignments, their sessions.",
    "contact": "Watchers of one contact's card.",
    "order": "Watchers of one order.",
    "chat": "One web chat session: the visitor's widget socket listens to it, and only to it.",
}
WATCHABLE = frozenset({"contact", "order"})
"""Kinds a socket may add on request (an open card); the others are given by who the user is."""

_TOPIC_RE = re.compile(r"^(queue|role:[a-z]+|(user|contact|order|chat):[1-9][0-9]{0,18})$")
_SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


def queue() -> str:
    return "queue"


def role(name: str) -> str:
    if name not in RANK:
        raise ValueError(f"unknown role {name!r}")
    return f"role:{name}"


def user(user_id: int) -> str:
    return check_topic(f"user:{int(user_id)}")


def contact(contact_id: int) -> str:
    return check_topic(f"contact:{int(contact_id)}")


def order(order_id: int) -> str:
    return check_topic(f"order:{int(order_id)}")


def chat(session_id: int) -> str:
    return check_topic(f"chat:{int(session_id)}")


def check_topic(topic: str) -> str:
    if not _TOPIC_RE.match(topic) or (topic.startswith("role:") and topic[5:] not in RANK):
        raise ValueError(f"not a channel topic: {topic!r} (use realtime.channels.queue/role/user/contact/order)")
    return topic


def channel_name(tenant: TenantRef, topic: str) -> str:
    """`tenant:{slug}:{topic}`: the full name a backend carries (it adds its own key prefix)."""
    if not _SLUG_RE.match(tenant.slug):
        raise ValueError(f"refusing unsafe tenant slug {tenant.slug!r}")
    return f"tenant:{tenant.slug}:{check_topic(topic)}"


def base_topics(principal: Viewer) -> frozenset[str]:
    """What a user's socket listens to from the start: the console channel, their role and below, themselves."""
    roles = {role(r) for r in RANK if principal.has_role(r)}
    return frozenset({queue(), user(principal.user_id), *roles})


def may_watch(principal: Viewer, topic: str) -> bool:
    """Whether a socket may add `topic` on request. Every user of a shop may see its contacts and orders today;
    a per-record rule goes here when one exists."""
    try:
        check_topic(topic)
    except ValueError:
        return False
    return topic.split(":", 1)[0] in WATCHABLE or topic in base_topics(principal)
