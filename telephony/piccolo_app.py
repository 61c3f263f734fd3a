"""Piccolo app for the Twilio channel tables (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from telephony.tables import Call, CallParticipant, OperatorDevice, SmsMessage, TwilioConfig, TwilioWebhook

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="telephony",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[TwilioConfig, OperatorDevice, TwilioWebhook, Call, SmsMessage, CallParticipant],
    migration_dependencies=["app.conversations.piccolo_app"],
    commands=[],
)
