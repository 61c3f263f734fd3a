"""Piccolo app for the reporting facts, rollups and KPI targets (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.reports.tables import (
    AgentLeg,
    ConversationFact,
    OfferFact,
    QueueVisit,
    ReportSettings,
    RevenueSetting,
    Rollup,
    RollupDay,
    RollupMonth,
    Step,
    Target,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="reports",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Step, QueueVisit, AgentLeg, ConversationFact, OfferFact, Rollup, RollupDay, RollupMonth, Target,
                   ReportSettings, RevenueSetting],
    migration_dependencies=["app.conversations.piccolo_app", "app.routing.piccolo_app", "app.agents.piccolo_app",
                            "app.sla.piccolo_app", "realtime.piccolo_app"],
    commands=[],
)
