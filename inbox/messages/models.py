from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, UniqueConstraint
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


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(sa_column=Column(BigIntId, ForeignKey("message.id"), index=True, nullable=False))
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int = 0
    # Content address under DATA_DIR/attachments; None while the file is still at the provider.
    sha256: str | None = Field(default=None, max_length=64)
    source_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
