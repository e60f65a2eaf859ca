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
    context.configure(connection=connection, target_metadata=metadata, include_object=_include,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # N servers behind a load balancer start together, each migrating: one does, the others
            # wait here and then find the schema at head. (SQLite's BEGIN IMMEDIATE already serialises.)
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
