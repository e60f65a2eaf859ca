import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import inbox.models  # noqa: F401  (registers every table)
from inbox.config import get_settings
from inbox.db import make_engine, metadata

config = context.config
if config.config_file_name and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Any constant of our own: the key of the advisory lock migrations hold on PostgreSQL.
_MIGRATION_LOCK = 0x6F6E657468726561  # "onethrea"

# Objects only the migrations know (FTS5 shadow tables, the tsvector column) stay out of autogenerate.
_UNMODELLED = {"search_fts"}


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and name and (name in _UNMODELLED or name.startswith("search_fts_")):
        return False
    if type_ == "column" and name == "tsv":
        return False
    # PostgreSQL's partial indexes per kind of document: GIN over tsv, and id for newest-first.
    return not (type_ == "index" and name is not None and name.startswith(("ix_search_doc_tsv",
                                                                             "ix_search_doc_newest_")))


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # N servers behind a load balancer start together, each migrating: one does, the others wait
    # for it and then read the schema at head. That needs the version read and every step in one
    # transaction holding the lock. SQLite's DDL is transactional, but Alembic assumes it is not
    # and commits each step on its own, freeing the lock between two steps to a process that had
    # planned them too (tests/architecture/test_migrations.py).
    context.configure(connection=connection, target_metadata=metadata, include_object=_include,
                      render_as_batch=sqlite, compare_type=True, transactional_ddl=True)
    if sqlite:
        # The others wait out a long migration rather than give up after the usual 10 s: set on
        # the driver's connection, as a statement through SQLAlchemy would first BEGIN and wait.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("PRAGMA busy_timeout=600000")
        cursor.close()
    with context.begin_transaction():
        if not sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or get_settings().resolved_database_url
    asyncio.run(_run_async(url))


run_migrations_online()
