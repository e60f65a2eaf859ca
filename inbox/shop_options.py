"""What an admin switches on or off for the whole shop, kept in the database so every process agrees."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from inbox import audit
from inbox.db import UTCDateTime, upsert, utcnow

# Store staff look customers up and add in-store notes; answering them is the agents' job unless allowed.
STORE_CAN_REPLY = "store_can_reply"
_DEFAULTS: dict[str, Any] = {STORE_CAN_REPLY: False}


class ShopOption(SQLModel, table=True):
    __tablename__ = "shop_option"

    key: str = Field(primary_key=True, max_length=60)
    value: Any = Field(default=None, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def get(session: AsyncSession, key: str) -> Any:
    found = (await session.execute(select(col(ShopOption.value)).where(col(ShopOption.key) == key))).first()
    return _DEFAULTS[key] if found is None else found[0]


async def set_option(session: AsyncSession, key: str, value: Any, *, actor: str) -> None:
    if key not in _DEFAULTS:
        raise KeyError(key)
    await session.execute(upsert(session, ShopOption, conflict=("key",), update=("value", "updated_at")),
                          {"key": key, "value": value, "updated_at": utcnow()})
    await audit.record(session, actor=actor, action="option.set", subject_type="option", subject_id=None,
                       data={"key": key, "value": value})
