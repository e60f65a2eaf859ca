"""Events other systems sent us that are applied once: a shop's webhook retried or replayed changes nothing.

Messages dedupe on their own UNIQUE(channel, provider_id); events that only change other rows (an
order's status) leave their key here, in the same transaction as the change, so neither can be
kept without the other.
"""

from datetime import datetime, timedelta

from sqlalchemy import UniqueConstraint, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from inbox.db import UTCDateTime, insert_ignore, utcnow
from inbox.errors import Invalid


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # Who sent it ("shopify") and their id for it, the same on every delivery of the event.
    source: str = Field(max_length=40)
    event_id: str = Field(max_length=200)
    topic: str = Field(default="", max_length=80)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


# Shopify retries a delivery for 4 hours and an app may replay it later by hand: a month covers both,
# and keeps the table from growing with every webhook a shop ever sent.
KEPT_FOR = timedelta(days=30)


async def first_time(session: AsyncSession, *, source: str, event_id: str, topic: str = "") -> bool:
    """Record the event as processed; False when it already was (then apply nothing).

    Concurrent deliveries of one event: the second waits on the first's row lock, then finds it."""
    if not event_id.strip():
        raise Invalid("event_id", "must not be empty")
    inserted = (await session.execute(
        insert_ignore(session, ProcessedEvent, conflict=("source", "event_id"), returning=("id",)),
        {"source": source[:40], "event_id": event_id.strip()[:200], "topic": topic[:80], "processed_at": utcnow()},
    )).first()
    if inserted is None:
        return False
    await session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.processed_at) < utcnow() - KEPT_FOR))
    return True


async def last_processed(session: AsyncSession, source: str) -> datetime | None:
    """When the newest event from this source was applied (within the last KEPT_FOR), if any."""
    found: datetime | None = (await session.execute(
        select(func.max(ProcessedEvent.processed_at)).where(col(ProcessedEvent.source) == source))).scalar()
    return found
