"""Events other systems sent us that are applied once: a shop's webhook retried or replayed changes nothing.

Messages dedupe on their own UNIQUE(channel, provider_id); events that only change other rows (an
order's status) leave their key here, in the same transaction as the change, so neither can be
kept without the other.
"""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

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
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def first_time(session: AsyncSession, *, source: str, event_id: str, topic: str = "") -> bool:
    """Record the event as processed; False when it already was (then apply nothing).

    Concurrent deliveries of one event: the second waits on the first's row lock, then finds it."""
    if not event_id.strip():
        raise Invalid("event_id", "must not be empty")
    inserted = (await session.execute(
        insert_ignore(session, ProcessedEvent, conflict=("source", "event_id"), returning=("id",)),
        {"source": source[:40], "event_id": event_id.strip()[:200], "topic": topic[:80], "processed_at": utcnow()},
    )).first()
    return inserted is not None
