"""Piccolo's configuration (PICCOLO_CONF): the engine and the app registry, whose apps are the domains' own
(app/domains.py, in migration order). tenants.migrations reads the same registry for `switchboard migrate`."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry

from app.domains import piccolo_apps
from app.lib.engine import DB

__all__ = ["APP_REGISTRY", "DB"]

APP_REGISTRY = AppRegistry(apps=piccolo_apps())
