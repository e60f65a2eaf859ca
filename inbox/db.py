"""Engine, sessions and the transaction boundary.

One SQLite connection per process: with several, concurrent writers sleep in SQLite's busy
handler and tails reach seconds. Writes are serialised by the pool instead, and the ingest
batcher (inbox.ingest_queue) turns many small transactions into one.
"""

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Row, Table, any_, bindparam, event, insert, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from inbox import sqlite_inline

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

# SQLite only aliases the rowid for exactly "INTEGER PRIMARY KEY".
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use inbox.db.utcnow() or an aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    # On SQLite the value goes in and out as text. SQLAlchemy's own steps (this decorator, then
    # the dialect's %-formatting or regex) were a tenth of a webhook's ingest; the standard
    # library's isoformat/fromisoformat write and read the same "YYYY-MM-DD HH:MM:SS.ffffff".
    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use inbox.db.utcnow() or an aware value")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        # Whatever SQLite driver the URL names, statements run in-line (see inbox.sqlite_inline).
        inline = make_url(url).set(drivername=f"sqlite+{sqlite_inline.DRIVER}")
        engine = create_async_engine(inline, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so SAVEPOINTs and transactional DDL behave.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=10000",
            "temp_store=MEMORY",
            "cache_size=-65536",
            # Reads of a large inbox straight from the page cache, without a copy per page read.
            "mmap_size=1073741824",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a second process (the CLI next to a running
        # server) waits in busy_timeout instead of failing on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine, *, hub: Any = None, wake_delivery: Callable[[], None] | None = None,
                      wake_media: Callable[[], None] | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry the live hub and the workers' wake-ups, for domain code to call after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False,
                              info={"hub": hub, "wake_delivery": wake_delivery, "wake_media": wake_media})


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work for callers outside HTTP (SMTP, worker, CLI): commit on success."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run callback once the session's transaction commits; dropped on rollback."""
    session.sync_session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop("after_commit", []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


def insert_ignore(session: AsyncSession, model: Any, *, conflict: tuple[str, ...],
                  returning: tuple[str, ...] = ()) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING for whichever database the session is on.

    The values go to session.execute as parameters: one statement object per table is built once
    and reused, because building and cache-keying a statement with .values() on every call cost
    five times the statement's own run on the ingest path. Given a list of parameter sets, the
    returned rows come back in their order, minus the ones that hit a conflict.
    """
    return _insert_ignore(session.get_bind().dialect.name, table_of(model), conflict, returning)


@functools.cache
def _insert_ignore(dialect: str, table: Table, conflict: tuple[str, ...], returning: tuple[str, ...]) -> Insert:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    if not returning:
        return statement
    return _returning(dialect, statement, table, returning)


def insert_returning(session: AsyncSession, model: Any, *, returning: tuple[str, ...]) -> Insert:
    """INSERT ... RETURNING (id first) for many rows in one statement; run it with rows_in_order()."""
    return _insert_returning(session.get_bind().dialect.name, table_of(model), returning)


@functools.cache
def _insert_returning(dialect: str, table: Table, returning: tuple[str, ...]) -> Insert:
    return _returning(dialect, insert(table), table, returning)


def _returning(dialect: str, statement: Insert, table: Table, returning: tuple[str, ...]) -> Insert:
    # On PostgreSQL SQLAlchemy keeps parameter order inside one multi-row statement. It knows no
    # way to on SQLite, and asked to would send one statement per row (a run of 200 messages cost
    # 400 INSERTs): there rows_in_order() sorts by id instead.
    return statement.returning(*(table.c[name] for name in returning), sort_by_parameter_order=dialect != "sqlite")


async def rows_in_order(session: AsyncSession, statement: Insert,
                        params: Sequence[Mapping[str, Any]]) -> list[Row[Any]]:
    """The rows an INSERT ... RETURNING id, ... gave for params, in their order, minus those a conflict skipped."""
    rows = list((await session.execute(statement, params)).all())
    if session.get_bind().dialect.name == "sqlite":
        # SQLite gives the rows of one INSERT rising rowids in the order of its VALUES, and
        # SQLAlchemy's statements for one call run in parameter order.
        rows.sort(key=lambda row: row[0])
    return rows


def upsert(session: AsyncSession, model: Any, *, conflict: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET each of update to the inserted value; built once per table."""
    return _upsert(session.get_bind().dialect.name, table_of(model), conflict, update)


@functools.cache
def _upsert(dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(index_elements=list(conflict),
                                           set_={name: statement.excluded[name] for name in update})


def one_of(column: Any, name: str, dialect: str) -> Any:
    """`column IN (the list bound as name)`, as each database runs it best: an expanding IN on
    SQLite; `= ANY(array)` on PostgreSQL, where asyncpg prepares every distinct SQL text once per
    connection and an IN list of each length would be a statement of its own."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def table_of(model: Any) -> Table:
    """The Core table behind a model: hot paths use it to skip the ORM's per-statement work."""
    table: Table = model.__table__
    return table
