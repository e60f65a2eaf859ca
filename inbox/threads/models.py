from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Status(StrEnum):
    open = "open"
    pending = "pending"
    snoozed = "snoozed"
    resolved = "resolved"


class Thread(SQLModel, table=True):
    """One per customer, for life. Carries what the inbox list shows, so lists never join history.

    status/assignee/team mirror the current case: the list filters and sorts on them with an index.
    """

    __table_args__ = (
        Index("ix_thread_status_activity", "status", "last_activity_at", "id"),
        Index("ix_thread_assignee_activity", "assignee_id", "status", "last_activity_at", "id"),
        Index("ix_thread_team_activity", "team_id", "status", "last_activity_at", "id"),
        # The per-channel views: open threads by the channel the customer last wrote on.
        Index("ix_thread_channel_activity", "last_inbound_channel", "status", "last_activity_at", "id"),
        # The per-tag views reach threads from case_tag through the current case.
        Index("ix_thread_case_id", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", unique=True)
    case_id: int | None = Field(default=None)
    status: str = Field(default=Status.open, max_length=12)
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    team_id: int | None = Field(default=None, foreign_key="team.id")
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_activity_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_message_id: int | None = Field(default=None)
    last_preview: str = Field(default="", max_length=200)
    last_direction: str = Field(default="", max_length=10)
    last_channel: str = Field(default="", max_length=20)
    last_inbound_channel: str = Field(default="", max_length=20)
    # Space-separated, sorted: the channel icons in the list.
    channels: str = Field(default="", max_length=120)
    unread_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Case(SQLModel, table=True):
    """A span of work on a thread: opened by an inbound message, closed when resolved."""

    __tablename__ = "case"

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="thread.id", index=True)
    number: int = 1
    status: str = Field(default=Status.open, max_length=12)
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    team_id: int | None = Field(default=None, foreign_key="team.id")
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseTag(SQLModel, table=True):
    case_id: int = Field(foreign_key="case.id", primary_key=True)
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True)


class ThreadCount(SQLModel, table=True):
    """Threads per (status, assignee): the inbox's view counts, kept exact by triggers on thread.

    Counting the thread table on every page grew with the inbox (40 ms at 200k threads); this has
    a row per status and agent whatever the inbox's size. The triggers (made by the migrations)
    count every write, whichever code path or tool makes it.
    """

    __tablename__ = "thread_count"

    status: str = Field(primary_key=True, max_length=12)
    # 0 for nobody: a primary key cannot hold NULL.
    assignee_id: int = Field(default=0, primary_key=True)
    n: int = 0


class ViewFamilyCount(SQLModel, table=True):
    """Open threads per channel, team and tag (family "channel" | "team" | "tag", ref the channel or id):
    the counts beside those views, kept exact by triggers on thread and casetag (see the migration)."""

    __tablename__ = "view_family_count"

    family: str = Field(primary_key=True, max_length=10)
    ref: str = Field(primary_key=True, max_length=40)
    n: int = 0
