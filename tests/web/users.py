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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def browser_for(server: str, email: str, password: str = PASSWORD, *,
                      headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client signed in through the real form, whose posts carry the session's CSRF token as the
    pages' forms and htmx do. /account is read for the token: every role may open it."""
    client = httpx.AsyncClient(base_url=server, headers=headers)
    form = await client.get("/login")
    signed = await client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)})
    assert signed.status_code == 303, signed.text
    client.headers["X-CSRF-Token"] = csrf_of((await client.get("/account")).text)
    return client


async def signed_in(server: str, sessions: async_sessionmaker[AsyncSession], role: Role, email: str | None = None,
                    *, name: str = "", headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A new user of that role, signed in (see browser_for)."""
    return await browser_for(server, await make_user(sessions, role, email=email, name=name), headers=headers)
