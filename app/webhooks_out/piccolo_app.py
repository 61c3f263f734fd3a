"""Piccolo app for outbound webhooks (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.webhooks_out.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="webhooks_out",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[WebhookEndpoint, WebhookSecret, WebhookDelivery, WebhookAttempt],
    migration_dependencies=["realtime.piccolo_app"],
    commands=[],
)
