"""How far a poller has read a source it fetches from (an IMAP mailbox), kept with what it stored.

A poller advances its position in the same transaction as the messages it read up to there, so
after a restart it goes on exactly where the last commit left it. `epoch` is the source's own
generation (IMAP's UIDVALIDITY): positions of another epoch mean nothing.
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlmodel import Field, SQLModel, col

from inbox.db import UTCDateTime, table_of, utcnow


class PollPosition(SQLModel, table=True):
    __tablename__ = "poll_position"

    source: str = Field(primary_key=True, max_length=500)
    epoch: str = Field(max_length=100)
    position: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True, slots=True)
class Reached:
    epoch: str
    position: int


async def reached(session: AsyncSession, source: str) -> Reached | None:
    found = (await session.execute(select(PollPosition).where(col(PollPosition.source) == source))).scalar_one_or_none()
    return Reached(found.epoch, found.position) if found is not None else None


async def advance(session: AsyncSession, source: str, *, epoch: str, position: int) -> None:
    """Forward only: with pollers in several processes, one that was behind never moves the position back."""
    statement = _advance(session.get_bind().dialect.name)
    await session.execute(statement, {"source": source, "epoch": epoch, "position": position, "updated_at": utcnow()})


@functools.cache
def _advance(dialect: str) -> Insert:
    table = table_of(PollPosition)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["source"],
        set_={name: statement.excluded[name] for name in ("epoch", "position", "updated_at")},
        where=(table.c.epoch != statement.excluded.epoch) | (table.c.position < statement.excluded.position))
