"""Signed-in users for UI tests, made as the CLI makes them."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents.models import Role
from inbox.agents.service import create_user
from inbox.db import transaction

PASSWORD = "correct horse battery"


async def make_user(sessions: async_sessionmaker[AsyncSession], role: Role, email: str | None = None,
                    name: str = "") -> str:
    address = email or f"{role.value}@shop.example"
    async with transaction(sessions) as session:
        await create_user(session, email=address, password=PASSWORD, name=name or role.value.title(), role=role)
    return address
