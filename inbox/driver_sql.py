"""Statements compiled once per database and run at the driver, for the ingest path's bulk writes.

For every row of an executemany, or every array of an unnest(), SQLAlchemy builds a parameter
dict, looks each name up and runs each value's processor through generic loops: measured on the
ingest writer, that cost more than SQLite's own work on the rows. A `Compiled` keeps the SQL that
SQLAlchemy rendered for the database (the same text, the same casts) with the order of its
positional parameters and their processors; a row becomes its values in order (itemgetter, in C) and goes
to the driver through exec_driver_sql, in the session's transaction like any other statement.
"""

import contextlib
import functools
import operator
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ARRAY, Row
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None


class Compiled:
    def __init__(self, sql: str, names: tuple[str, ...], processors: tuple[Processor, ...], rows: int = 1, *,
                 returns: bool = True) -> None:
        self.sql = sql
        self.returns = returns
        # One row's parameters in the order the SQL takes them; a multi-row VALUES takes them `rows` times.
        self.names = names
        self.rows = rows
        # In C, the row's values in order; then only the few that need it are processed.
        self._values = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        self._processed = [(index, process) for index, process in enumerate(processors) if process is not None]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        row: tuple[Any, ...] = self._values(values)
        if not self._processed:
            return row
        processed = list(row)
        for index, process in self._processed:
            processed[index] = process(processed[index])
        return tuple(processed)

    async def execute(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> list[Row[Any]]:
        """Run once with these rows' values (one, or `rows` of them); the rows it returns, if any.
        Inside held_writes() on PostgreSQL, a statement returning nothing waits for the next one."""
        assert len(rows) == self.rows
        flat = self.parameters(rows[0]) if self.rows == 1 else [
            value for row in rows for value in self.parameters(row)]
        sql, parameters = self.sql, tuple(flat)
        held: list[tuple[str, tuple[Any, ...]]] | None = session.info.get(_HELD)
        if held is not None:
            if not self.returns:
                held.append((sql, parameters))
                return []
            sql, parameters = _together([*held, (sql, parameters)])
            held.clear()
        result = await (await session.connection()).exec_driver_sql(sql, parameters)
        return list(result.all()) if result.returns_rows else []

    async def execute_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row, as the driver's executemany (no RETURNING)."""
        await (await session.connection()).exec_driver_sql(self.sql, [self.parameters(row) for row in rows])


def compile_for(statement: ClauseElement, dialect: Dialect, *, rows: int | None = None) -> Compiled:
    """The statement as the driver takes it. With `rows` it is a (multi-row) VALUES whose
    parameters are named `<name>_<row>`: each row's values then go in by their plain names."""
    compiled = statement.compile(dialect=dialect)
    order = tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
    if dialect.paramstyle not in ("qmark", "numeric_dollar") or len(order) != len(set(order)):
        # Only plain positional SQL is taken as is: the driver must see each parameter once, in order.
        raise ValueError(f"{dialect.name}: {dialect.paramstyle} parameters are not supported here")
    binds = compiled.binds  # type: ignore[attr-defined]
    width = len(order) // (rows or 1)
    processors = tuple(_processor(binds[name].type, dialect) for name in order[:width])
    # A write returning nothing may be held back (held_writes); anything else runs when called.
    returns = not (compiled.isinsert or compiled.isupdate or compiled.isdelete) or bool(  # type: ignore[attr-defined]
        compiled.effective_returning)  # type: ignore[attr-defined]
    if rows is None:
        return Compiled(str(compiled), order, processors, returns=returns)
    names = tuple(name.rsplit("_", 1)[0] for name in order[:width])
    if order != tuple(f"{name}_{row}" for row in range(rows) for name in names):
        raise ValueError("a multi-row statement's parameters must be named <name>_<row>, row by row")
    return Compiled(str(compiled), names, processors, rows, returns=returns)


_HELD = "driver_sql.held"


@contextlib.asynccontextmanager
async def held_writes(session: AsyncSession) -> AsyncIterator[None]:
    """On PostgreSQL, the block's writes that return nothing go to the database with its next
    statement that returns rows, as WITH clauses of that one statement (the rest when the block
    ends): one round trip, and one pass through SQLAlchemy and asyncpg, instead of one each. On
    an ingest batch that was three statements in five, each costing the writer more CPU than
    the rows it carried.

    Every part of such a statement sees the database as it was before the statement: nothing in
    the block may read what an earlier write in it held back. SQLite runs each statement in
    process, with no round trip to save: there the block changes nothing."""
    if session.get_bind().dialect.name != "postgresql" or _HELD in session.info:
        yield
        return
    held: list[tuple[str, tuple[Any, ...]]] = []
    session.info[_HELD] = held
    try:
        yield
    finally:
        del session.info[_HELD]
    if held:
        sql, parameters = _together(held)
        await (await session.connection()).exec_driver_sql(sql, parameters)


_PARAMETER = re.compile(r"\$(\d+)")


def _shifted(found: re.Match[str], *, offset: int) -> str:
    return f"${int(found.group(1)) + offset}"


def _together(statements: Sequence[tuple[str, tuple[Any, ...]]]) -> tuple[str, tuple[Any, ...]]:
    """Statements with positional $n parameters as one: all but the last as WITH clauses."""
    parts: list[str] = []
    parameters: list[Any] = []
    for sql, values in statements:
        offset = len(parameters)
        parts.append(_PARAMETER.sub(functools.partial(_shifted, offset=offset), sql) if offset else sql)
        parameters += values
    *clauses, last = parts
    if not clauses:
        return last, tuple(parameters)
    named = ", ".join(f"held_{index} AS ({sql})" for index, sql in enumerate(clauses))
    return f"WITH {named} {last}", tuple(parameters)


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    if isinstance(type_, ARRAY) and type_.dimensions in (None, 1):
        # An unnest()ed column: SQLAlchemy's array processor copies every list (twice without an
        # item processor) and runs the items through a generator; a comprehension is a third the cost.
        item = type_.item_type.dialect_impl(dialect)._cached_bind_processor(dialect)
        if item is None:
            return None
        return lambda values: None if values is None else [item(value) for value in values]
    return type_._cached_bind_processor(dialect)


class Statements:
    """Compiled statements by key and database, the least recently used dropped beyond `size`
    (a multi-row VALUES is one statement per row count)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._compiled: OrderedDict[tuple[Any, ...], Compiled] = OrderedDict()

    def get(self, dialect: Dialect, key: tuple[Any, ...], build: Callable[[], ClauseElement], *,
            rows: int | None = None) -> Compiled:
        full = (dialect.name, dialect.driver, rows, *key)
        found = self._compiled.get(full)
        if found is None:
            found = self._compiled[full] = compile_for(build(), dialect, rows=rows)
            if len(self._compiled) > self._size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(full)
        return found
