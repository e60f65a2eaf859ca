"""Rows of several tables read in one statement: each table's rows as a JSON array in a column.

A page showing a customer's identities, preferences, consents, orders and their lines asked for
each in a statement of its own: a round trip each on PostgreSQL. `array(...)` aggregates a
subquery's rows into one JSON text on either database (json_group_array(json_object(…)) on
SQLite, json_agg(json_build_object(…)) on PostgreSQL); `rows(...)` turns that text back into
model instances with the values the ORM would have read (aware UTC datetimes, Decimals at the
column's scale, booleans, JSON columns decoded). Each row carries its position in the subquery's
ORDER BY (a window row_number), so the order is the database's own, collation included.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Boolean, Integer, Numeric, Text, cast, func, literal, select
from sqlalchemy.orm import instrumentation
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from inbox.db import UTCDateTime

Model = TypeVar("Model")
_POSITION = "_position"


def positioned(*order_by: Any) -> Any:
    """The column a subquery given to array() must carry: its rows' place in this order."""
    return func.row_number().over(order_by=order_by).label(_POSITION)


def columns(model: Any) -> list[str]:
    return [column.name for column in model.__table__.columns]


def subquery(model: Any, *where: Any, order_by: tuple[Any, ...], limit: Any = None) -> Subquery:
    """The model's rows matching `where`, positioned in `order_by` (with `limit`, only the first so many)."""
    table = model.__table__
    query = select(*table.columns, positioned(*order_by)).where(*where)
    if limit is not None:
        query = query.order_by(*order_by).limit(limit)
    return query.subquery()


def array(dialect: str, rows: Subquery, columns: list[str]) -> ColumnElement[Any]:
    """A scalar subquery: the subquery's rows (it has a positioned() column) as one JSON text."""
    pairs: list[Any] = []
    for name in [*columns, _POSITION]:
        pairs += [literal(name, Text), rows.c[name]]
    if dialect == "postgresql":
        aggregated: Any = func.coalesce(cast(func.json_agg(func.json_build_object(*pairs)), Text), "[]")
    else:
        aggregated = func.json_group_array(func.json_object(*pairs))
    return aggregated.select().select_from(rows).scalar_subquery()


def _decoder(column_type: Any) -> Callable[[Any], Any]:
    if isinstance(column_type, UTCDateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC)
    if isinstance(column_type, Boolean):
        return lambda v: None if v is None else bool(v)
    if isinstance(column_type, Numeric) and not isinstance(column_type, sqltypes.Float):
        step = Decimal(1).scaleb(-(column_type.scale or 0))
        return lambda v: None if v is None else Decimal(str(v)).quantize(step)
    if isinstance(column_type, Integer):
        return lambda v: None if v is None else int(v)
    if isinstance(column_type, sqltypes.JSON):
        # SQLite hands a JSON column's text over as a string; PostgreSQL nests the value.
        return lambda v: json.loads(v) if isinstance(v, str) else v
    return lambda v: v


def rows(model: type[Model], text: str | None, columns: list[str]) -> list[Model]:
    """The instances an array() of model's table holds, in the subquery's order."""
    table = model.__table__  # type: ignore[attr-defined]
    decoders = [(name, _decoder(table.c[name].type)) for name in columns]
    found = json.loads(text or "[]", parse_float=Decimal)
    found.sort(key=lambda row: row[_POSITION])
    # As the ORM makes a row's instance: a bare one, its values straight into its dict (the
    # model's __init__ validates and fires events: a fifth of a thread page, for a regular's orders).
    new = instrumentation.manager_of_class(model).new_instance
    made = []
    for row in found:
        instance = new()
        instance.__dict__.update({name: decode(row[name]) for name, decode in decoders})
        made.append(instance)
    return made
