"""The one Piccolo engine of the process. Its DSN is filled in by app.lib.db.start_database(); nothing connects at
import time. Piccolo finds it through app/piccolo_conf.py, which re-exports it beside the app registry."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={}, log_queries=False)
