from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    note: str = Field(default="")
    # Set when a merge absorbed this customer: the id keeps resolving to the survivor.
    absorbed_into_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Identity(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        # Cross-channel matching: "is this verified phone/email already someone's?"
        Index("ix_identity_kind_address", "kind", "address"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False, index=True))
    channel: str = Field(max_length=20)
    kind: str = Field(max_length=10)
    address: str = Field(max_length=320)
    verified: bool = False
    # The address as the provider wrote it, for display ("0532 123 45 67").
    display: str = Field(default="", max_length=320)
    # Start of the channel's messaging window (WhatsApp 24 h, Messenger 24 h / 7 days).
    last_inbound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MergeSuggestion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("customer_id", "other_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    other_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(default="", max_length=300)
    status: str = Field(default="open", max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Merge(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="customer.id", index=True)
    absorbed_id: int = Field(foreign_key="customer.id", index=True)
    # Ids of every row moved, per table, so an undo puts exactly those back.
    moved: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    actor: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
