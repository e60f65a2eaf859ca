"""Engine, sessions and the transaction boundary.

One SQLite connection per process: with several, concurrent writers sleep in SQLite's busy
handler and tails reach seconds. Writes are serialised by the pool instead, and the ingest
batcher (inbox.ingest_queue) turns many small transactions into one.
"""

import functools
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    Row,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    event,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from inbox import sqlite_inline
from inbox.driver_sql import Statements

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
            if value.tzinfo is UTC:  # nearly always (utcnow()): no conversion to make
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
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
    # No ping at checkout (a round trip per request): a statement meeting a connection the server
    # dropped fails once and invalidates the whole pool, whose connections are then made anew
    # (tests/inbox/test_db.py::TestLostConnections).
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10)


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
            # Reads of the hot part of a large inbox straight from the page cache, without a copy per
            # page read; mapped pages count in the process's resident memory, hence the bound.
            "mmap_size=268435456",
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
    # Releasing a savepoint (begin_nested, as web/ui/forms.attempt does) fires this too, but nothing
    # is committed yet: a worker woken then finds nothing and sleeps until its next poll.
    if session.in_nested_transaction():
        return
    for callback in session.info.pop("after_commit", []):
        callback()


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault("after_commit_marks", []).append(len(session.info.get("after_commit", [])))


@event.listens_for(Session, "after_transaction_end")
def _unmark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and session.info.get("after_commit_marks"):
        session.info["after_commit_marks"].pop()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    marks = session.info.get("after_commit_marks")
    if session.in_nested_transaction() and marks:
        # A savepoint rolled back: only what was registered inside it is dropped.
        del session.info.get("after_commit", [])[marks[-1]:]
        return
    session.info.pop("after_commit", None)


def insert_ignore(session: AsyncSession, model: Any, *, conflict: tuple[str, ...],
                  returning: tuple[str, ...] = ()) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING for whichever database the session is on.

    The values go to session.execute as parameters: one statement object per table is built once
    and reused, because building and cache-keying a statement with .values() on every call cost
    five times the statement's own run on the ingest path. For many rows with RETURNING, insert_many().
    """
    return _insert_ignore(session.get_bind().dialect.name, table_of(model), conflict, returning)


@functools.cache
def _insert_ignore(dialect: str, table: Table, conflict: tuple[str, ...], returning: tuple[str, ...]) -> Insert:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


async def insert_many(session: AsyncSession, model: Any, rows: Sequence[Mapping[str, Any]], *,
                      returning: tuple[str, ...], conflict: tuple[str, ...] = ()) -> list[Row[Any]]:
    """INSERT … RETURNING (id first) for many rows in one statement: the rows in the order given,
    minus any that ON CONFLICT (conflict) DO NOTHING skipped. Every row gives the same columns;
    with nothing to return, nothing is (and SQLite runs it as executemany).

    SQLite: one multi-row INSERT (SQLAlchemy cannot keep parameter order there without sending a
    statement per row); PostgreSQL: INSERT … SELECT over the rows as unnest()ed arrays, the same
    SQL whatever the number of rows, so asyncpg prepares it once (a VALUES list is new SQL for
    every batch size). Both give rising ids in the order of the rows, which is how they are sorted.
    Either goes to the driver as compiled once (inbox.driver_sql).
    """
    if not rows:
        return []
    dialect, table, columns = session.get_bind().dialect, table_of(model), tuple(rows[0])
    if dialect.name == "postgresql":
        unnest = _STATEMENTS.get(dialect, ("unnest", table, columns, conflict, returning),
                                 lambda: _unnest_insert(table, columns, conflict, returning))
        found = await unnest.execute(session, [{
            # A JSON value goes as text: as an array element a list would read as a dimension.
            column: [json.dumps(row[column]) for row in rows] if _is_json(table, column) else
            [row[column] for row in rows] for column in columns}])
        return sorted(found, key=lambda row: row[0]) if returning else []
    if not returning:
        each = _STATEMENTS.get(dialect, ("each", table, columns, conflict),
                               lambda: _values_insert(dialect.name, table, columns, conflict, (), 1), rows=1)
        await each.execute_many(session, rows)
        return []
    found = []
    start = 0
    for size in _chunk_sizes(len(rows), _SQLITE_VARIABLES // len(columns)):
        values = _STATEMENTS.get(dialect, ("values", table, columns, conflict, returning),
                                 functools.partial(_values_insert, dialect.name, table, columns, conflict, returning,
                                                   size), rows=size)
        found += await values.execute(session, rows[start:start + size])
        start += size
    return sorted(found, key=lambda row: row[0])


def _chunk_sizes(count: int, most: int) -> list[int]:
    """count rows as multi-row statements of power-of-two sizes, none over most: 45 rows are 32 + 8 + 4 + 1.

    A VALUES list is new SQL for every row count, and compiling one costs more than running it: with
    every batch size its own statement, a server compiled some 300 of them (1.2 s of CPU) before its
    statements were all at hand. Powers of two bound that to a handful per table, for a few more
    statements per batch, each far cheaper than a compilation."""
    largest = 1 << (max(most, 1).bit_length() - 1)
    sizes = [largest] * (count // largest)
    rest = count % largest
    sizes += [1 << bit for bit in reversed(range(rest.bit_length())) if rest >> bit & 1]
    return sizes


# SQLite's limit on a statement's parameters (SQLITE_MAX_VARIABLE_NUMBER, since 3.32).
_SQLITE_VARIABLES = 32_766
_STATEMENTS = Statements()


def _values_insert(dialect: str, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...],
                   returning: tuple[str, ...], rows: int) -> Insert:
    # Parameters named <column>_<row>, as driver_sql's multi-row statements take them.
    return _multirow_insert(dialect, table, conflict, returning).values(
        [{column: bindparam(f"{column}_{row}", type_=table.c[column].type) for column in columns}
         for row in range(rows)])


@functools.cache
def _multirow_insert(dialect: str, table: Table, conflict: tuple[str, ...], returning: tuple[str, ...]) -> Insert:
    statement = _insert_ignore(dialect, table, conflict, ()) if conflict else insert(table)
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, sqltypes.JSON)


@functools.cache
def _unnest_insert(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...],
                   returning: tuple[str, ...]) -> Insert:
    arrays = [bindparam(column, type_=postgresql.ARRAY(Text() if _is_json(table, column) else table.c[column].type))
              for column in columns]
    given = func.unnest(*arrays).table_valued(*columns, with_ordinality="ordinal").render_derived(name="given")
    values = [cast(given.c[column], postgresql.JSON) if _is_json(table, column) else given.c[column]
              for column in columns]
    statement = postgresql.insert(table).from_select(list(columns), select(*values).order_by(given.c.ordinal))
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning))


def upsert(session: AsyncSession, model: Any, *, conflict: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET each of update to the inserted value; built once per table."""
    return _upsert(session.get_bind().dialect.name, table_of(model), conflict, update)


@functools.cache
def _upsert(dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(index_elements=list(conflict),
                                           set_={name: statement.excluded[name] for name in update})


class BulkUpdate:
    """UPDATE table SET … WHERE key = … for many rows at once, as each database runs it best.

    SQLite: the same statement per row (executemany; each row is a call into the library, in
    process). PostgreSQL: one statement over the rows as unnest()ed arrays: one message and one
    plan instead of a bind-execute per row, with the arrays encoded by asyncpg in C. Either way
    rows are written in the order given (callers sort them by key: concurrent transactions then
    lock the same rows in the same order). `assign(source)` gives the SET clause, reading each
    parameter as `source.<name>`.
    """

    def __init__(self, table: Table, *, where: tuple[str, str], params: Mapping[str, Any],
                 assign: Callable[[Any], Mapping[str, Any]]) -> None:
        # where: (the table's column, the parameter it must equal)
        self.table, self.where, self.params, self.assign = table, where, dict(params), assign

    async def run(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        dialect = session.get_bind().dialect
        statement = _STATEMENTS.get(dialect, ("update", id(self)), lambda: self._statement(dialect.name))
        if dialect.name == "postgresql":
            await statement.execute(session, [{name: [row[name] for row in rows] for name in self.params}])
        else:
            await statement.execute_many(session, rows)

    def _statement(self, dialect: str) -> Any:
        column, param = self.table.c[self.where[0]], self.where[1]
        if dialect == "postgresql":
            arrays = [bindparam(name, type_=postgresql.ARRAY(type_)) for name, type_ in self.params.items()]
            rows = func.unnest(*arrays).table_valued(*self.params).render_derived(name="row")
            return update(self.table).where(column == rows.c[param]).values(**self.assign(rows.c))
        source = _Params({name: bindparam(name, type_=type_) for name, type_ in self.params.items()})
        return update(self.table).where(column == source[param]).values(**self.assign(source))


class _Params(dict[str, Any]):
    def __getattr__(self, name: str) -> Any:
        return self[name]


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
