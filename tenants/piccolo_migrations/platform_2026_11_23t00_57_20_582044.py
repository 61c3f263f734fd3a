from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T00:57:20:582044"
VERSION = "1.38.0"
DESCRIPTION = "tenant registry"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="platform", description=DESCRIPTION
    )

    manager.add_table(
        class_name="Tenant", tablename="tenant", schema="public", columns=None
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="slug",
        db_column_name="slug",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 41,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="schema_name",
        db_column_name="schema_name",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 63,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="name",
        db_column_name="name",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 200,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="status",
        db_column_name="status",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "active",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="plan",
        db_column_name="plan",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 40,
            "default": "trial",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenant",
        column_name="suspended_at",
        db_column_name="suspended_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema="public",
    )

    return manager
