from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=60)
    subject_type: str = Field(max_length=40)
    subject_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


async def record(session: AsyncSession, *, actor: str, action: str, subject_type: str,
                 subject_id: int | None, data: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(actor=actor, action=action, subject_type=subject_type,
                           subject_id=subject_id, data=data or {}))
