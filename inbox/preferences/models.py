from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Preference(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("customer_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    key: str = Field(max_length=80)
    value: str = Field(max_length=1000)
    # stated (by the customer, in source_message_id) | agent (set_by_user_id) | import
    source: str = Field(default="agent", max_length=10)
    source_channel: str | None = Field(default=None, max_length=20)
    source_message_id: int | None = None
    set_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    stated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    channel: str = Field(max_length=20)
    purpose: str = Field(default="marketing", max_length=40)
    granted: bool = True
    source: str = Field(default="stated", max_length=10)
    proof_message_id: int | None = None
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
