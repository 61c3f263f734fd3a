"""The demo shop: a tenant with a team and a 90-day past (`switchboard demo`, `make run`).

`story` tells the past as plain data from a seed, `seed` and `talk` write it through the domains' tables and the
timeline service, `shop` creates the tenant and its simulated line and chat, `texts` holds each locale's words."""

from app.demo.quotas import ensure_demo_quotas
from app.demo.security import ensure_demo_security
from app.demo.service_level import ensure_demo_service_level
from app.demo.shop import (
    DEFAULT_LOCALE,
    DEFAULT_SEED,
    DEMO_ADMIN,
    DEMO_DEVICES,
    DEMO_NUMBER,
    DEMO_OPERATOR,
    DEMO_OWNER,
    DEMO_SLUG,
    DEMO_SUPERVISOR,
    DEMO_TEAM,
    DEMO_TWILIO_SID,
    DEMO_TWILIO_TOKEN,
    ensure_demo,
    ensure_demo_automation,
    ensure_demo_chat,
    ensure_demo_hours,
    ensure_demo_routing,
    ensure_demo_sla,
    ensure_demo_telephony,
    seed_shop,
    seeded,
)
from app.demo.texts import LOCALES
from app.demo.twofa import DEMO_TOTP_KEY, ensure_demo_twofa
from app.demo.wallboard import demo_wallboard_path, ensure_demo_wallboard
from app.demo.webhooks import ensure_demo_webhooks

__all__ = [
    "DEFAULT_LOCALE",
    "DEFAULT_SEED",
    "DEMO_ADMIN",
    "DEMO_DEVICES",
    "DEMO_NUMBER",
    "DEMO_OPERATOR",
    "DEMO_OWNER",
    "DEMO_SLUG",
    "DEMO_SUPERVISOR",
    "DEMO_TEAM",
    "DEMO_TOTP_KEY",
    "DEMO_TWILIO_SID",
    "DEMO_TWILIO_TOKEN",
    "LOCALES",
    "demo_wallboard_path",
    "ensure_demo",
    "ensure_demo_automation",
    "ensure_demo_chat",
    "ensure_demo_hours",
    "ensure_demo_quotas",
    "ensure_demo_routing",
    "ensure_demo_security",
    "ensure_demo_service_level",
    "ensure_demo_sla",
    "ensure_demo_telephony",
    "ensure_demo_twofa",
    "ensure_demo_wallboard",
    "ensure_demo_webhooks",
    "seed_shop",
    "seeded",
]
