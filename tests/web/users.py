"""Signed-in users for UI tests, made as the CLI makes them."""

import re

import httpx
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


async def signed_in(server: str, sessions: async_sessionmaker[AsyncSession], role: Role,
                    email: str | None = None) -> httpx.AsyncClient:
    """A browser-like client with a signed-in session and the CSRF header htmx would send."""
    client = httpx.AsyncClient(base_url=server)
    address = await make_user(sessions, role, email=email)
    form = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    await client.post("/login", data={"email": address, "password": PASSWORD, "csrf_token": token.group(1)})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/inbox")).text)
    if csrf:
        client.headers["X-CSRF-Token"] = csrf.group(1)
    return client
