from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from inbox.db import BigIntId, UTCDateTime, utcnow


class Message(SQLModel, table=True):
    __table_args__ = (
        # Provider retries and echoes of our own sends hit this and are dropped.
        UniqueConstraint("channel", "provider_id"),
        Index("ix_message_thread_at", "thread_id", "at", "id"),
        Index("ix_message_delivery_queue", "delivery_status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    thread_id: int = Field(foreign_key="thread.id")
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="identity.id", index=True)
    direction: str = Field(max_length=10)
    channel: str = Field(max_length=20)
    author_type: str = Field(default="customer", max_length=10)
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    author_name: str = Field(default="", max_length=200)
    text: str = ""
    html: str | None = None
    subject: str | None = Field(default=None, max_length=998)
    provider_id: str | None = Field(default=None, max_length=255)
    reply_to_id: int | None = Field(default=None)
    references: list[str] = Field(default_factory=list, sa_type=JSON)
    extra: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # The thread's time order: the provider's time when it has one, else when we received it.
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    provider_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    original_text: str | None = None
    delivery_status: str | None = Field(default=None, max_length=10)
    error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=80)
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)


# Files still at the provider that the media worker has not given up on.
TO_FETCH = "sha256 IS NULL AND source_url IS NOT NULL AND fetch_error IS NULL"


class Attachment(SQLModel, table=True):
    __table_args__ = (
        Index("ix_attachment_to_fetch", "fetch_after", "id",
              sqlite_where=text(TO_FETCH), postgresql_where=text(TO_FETCH)),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(sa_column=Column(BigIntId, ForeignKey("message.id"), index=True, nullable=False))
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int = 0
    # Content address under DATA_DIR/attachments; None while the file is still at the provider.
    sha256: str | None = Field(default=None, max_length=64)
    # The adapter's own reference to the file at the provider (a URL, a Telegram file_id).
    source_url: str | None = None
    # The media worker's bookkeeping: tries so far, not before when (also its lease), why it gave up.
    fetch_attempts: int = 0
    fetch_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetch_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EarlyReceipt(SQLModel, table=True):
    """A delivery status that came before we knew its message: a provider may call back before
    the send's answer is committed. Applied as soon as the message's provider id is recorded."""

    __tablename__ = "early_receipt"
    __table_args__ = (UniqueConstraint("channel", "provider_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    provider_id: str = Field(max_length=255)
    status: str = Field(max_length=10)
    error: str | None = None
    # Receipts for messages we never sent (another tool on the same account) age out.
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
