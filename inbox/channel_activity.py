"""When each channel last delivered an event, for the admin's Channels page.

The message table holds millions of rows, so "the newest message per channel" is not asked of it:
the ingest batch writes one tiny row per channel it saw instead, one statement per batch at most.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, after_commit, upsert, utcnow

# Under load every batch would rewrite the same row, and on PostgreSQL its row lock would queue the
# commits of every app process behind one another: a second of staleness is invisible on the page.
RESOLUTION = timedelta(seconds=1)
# What this process has committed, per database engine.
_committed: WeakKeyDictionary[Any, dict[str, datetime]] = WeakKeyDictionary()


class ChannelActivity(SQLModel, table=True):
    __tablename__ = "channel_activity"

    channel: str = Field(primary_key=True, max_length=20)
    last_event_at: datetime = Field(sa_type=UTCDateTime)


async def record(session: AsyncSession, channels: Iterable[str], *, at: datetime | None = None) -> None:
    at = at or utcnow()
    engine = getattr(session.bind, "sync_engine", None)
    committed = _committed.setdefault(engine, {}) if engine is not None else {}
    due = sorted({str(channel) for channel in channels
                  if at - committed.get(str(channel), datetime.min.replace(tzinfo=at.tzinfo)) >= RESOLUTION})
    if not due:
        return
    await session.execute(upsert(session, ChannelActivity, conflict=("channel",), update=("last_event_at",)),
                          [{"channel": channel, "last_event_at": at} for channel in due])
    # Only once it is durable: a batch rolled back and retried must write the row again.
    after_commit(session, lambda: committed.update(dict.fromkeys(due, at)))


async def last_events(session: AsyncSession) -> dict[str, datetime]:
    rows = await session.execute(select(ChannelActivity))
    return {row.channel: row.last_event_at for row in rows.scalars()}
