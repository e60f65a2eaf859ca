"""When each channel last delivered an event, for the admin's Channels page.

The message table holds millions of rows, so "the newest message per channel" is not asked of it:
the ingest batch writes one tiny row per channel it saw instead, one statement per batch.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, upsert, utcnow


class ChannelActivity(SQLModel, table=True):
    __tablename__ = "channel_activity"

    channel: str = Field(primary_key=True, max_length=20)
    last_event_at: datetime = Field(sa_type=UTCDateTime)


async def record(session: AsyncSession, channels: Iterable[str], *, at: datetime | None = None) -> None:
    at = at or utcnow()
    rows = [{"channel": str(channel), "last_event_at": at} for channel in sorted(set(channels))]
    if rows:
        await session.execute(upsert(session, ChannelActivity, conflict=("channel",), update=("last_event_at",)),
                              rows)


async def last_events(session: AsyncSession) -> dict[str, datetime]:
    rows = await session.execute(select(ChannelActivity))
    return {row.channel: row.last_event_at for row in rows.scalars()}
