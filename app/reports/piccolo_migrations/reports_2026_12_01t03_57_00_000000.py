"""Reports: the rollups summed per UTC month (a report over months reads its whole months from here), filled from
the daily rows already there."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.lib.db import current_uow

ID = "2026-12-01T03:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "monthly rollups"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run() -> None:
        from app.reports import rollups  # deferred import: the level's SQL, defined once

        conn = current_uow().connection
        await conn.execute("""
            CREATE TABLE IF NOT EXISTS report_rollup_month (
                month date NOT NULL,
                queue integer NOT NULL DEFAULT 0,
                agent integer NOT NULL DEFAULT 0,
                channel varchar(10) NOT NULL DEFAULT '',
                metric varchar(30) NOT NULL,
                count bigint NOT NULL DEFAULT 0,
                sum double precision NOT NULL DEFAULT 0,
                hist jsonb NOT NULL DEFAULT '{}',
                PRIMARY KEY (month, metric, agent, queue, channel)
            );
            DELETE FROM report_rollup_month;
        """)
        await conn.execute(rollups.LEVELS[0].build_all)

    manager.add_raw(run)
    return manager
