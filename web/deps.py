from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.agents import service as agents
from inbox.agents.models import ApiToken
from inbox.config import CoreSettings
from inbox.files import FileStore


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session
        # Committed here, before the response leaves: scope="function" below runs this exit
        # when the endpoint returns, not after the response is sent (FastAPI >= 0.121).
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def _settings(request: Request) -> CoreSettings:
    settings: CoreSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[CoreSettings, Depends(_settings)]


def _files(request: Request) -> FileStore:
    files: FileStore = request.app.state.files
    return files


FilesDep = Annotated[FileStore, Depends(_files)]


async def _api_token(request: Request, session: SessionDep) -> ApiToken:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    found = await agents.verify_token(session, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise HTTPException(401, "a valid bearer token is required (onethread create-token)",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


ApiTokenDep = Annotated[ApiToken, Depends(_api_token)]


def actor_of(token: ApiToken) -> str:
    return f"token:{token.id}:{token.name}"
