"""Piccolo's configuration: one engine, configured at start-up from settings, and the app registry."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

# The DSN is filled in by app.lib.db.start_database(); nothing connects at import time.
DB = PostgresEngine(config={}, log_queries=False)

APP_REGISTRY = AppRegistry(
    apps=[
        "tenants.piccolo_app",
        "app.accounts.piccolo_app",
        "app.contacts.piccolo_app",
        "app.timeline.piccolo_app",
        "realtime.piccolo_app",
        "app.conversations.piccolo_app",
        "app.orders.piccolo_app",
        "app.deals.piccolo_app",
        "telephony.piccolo_app",
        "app.email.piccolo_app",
        "app.chat.piccolo_app",
    ]
)
