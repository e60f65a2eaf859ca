"""SQLite under the async engine without a thread hop per statement.

aiosqlite runs every cursor call on its own thread and hands the result back through the event
loop: measured here at ~0.25 ms a round trip and ~1.2 ms per SQLAlchemy statement, so one ingest
(a dozen statements) spent most of its 40 ms waiting for hops, not for SQLite. SQLite works in
process memory and answers in microseconds, so this dialect calls the standard sqlite3 module
directly inside SQLAlchemy's greenlet, on the event loop's thread: the hops are gone and the
loop blocks only for as long as SQLite works. The price: a statement that waits for another
process's write lock (busy_timeout) holds the loop while it waits, which is why the app keeps
one connection per process and the CLI's writes are short.
"""

import sqlite3
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util.concurrency import await_, in_greenlet

DRIVER = "inline"


async def _nothing() -> None:
    return None


def _seen_as_async() -> None:
    # AsyncConnection.execute insists a statement awaited something. A coroutine that is already
    # done costs two greenlet switches, not a turn of the event loop.
    if in_greenlet():
        await_(_nothing())


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> "_Cursor":
        _seen_as_async()
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> "_Cursor":
        _seen_as_async()
        return super().executemany(sql, seq_of_parameters)

    async def _async_soft_close(self) -> None:
        # The asyncio result asks drivers to release the cursor before rows are read in a sync
        # context; sqlite3 rows are read in-line, so there is nothing to release early.
        return None


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return sqlite3

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # Sessions wait for the one connection in asyncio, not by blocking the loop.
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, kwargs = super().create_connect_args(url)
        # Only the event loop's thread uses it, but the pool may close it from a finaliser.
        kwargs["check_same_thread"] = False
        kwargs["factory"] = _Connection
        return args, kwargs


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inline")
