from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inbox.agents.service import issue_token
from inbox.config import CoreSettings
from inbox.db import make_sessionmaker, transaction
from inbox.realtime import LocalHub
from tests.conftest import TEST_REDIS_URL
from tests.fakes.loopback import serve
from web.app import create_app


@pytest.fixture
def app_settings(db_url: str, tmp_path: Path) -> CoreSettings:
    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL)


@pytest.fixture
def web_app(app_settings: CoreSettings) -> FastAPI:
    """The app under test; with `server` running, `sessions` are its own."""
    return create_app(app_settings)


@pytest.fixture
async def server(web_app: FastAPI) -> AsyncIterator[str]:
    """The real app on a loopback port, lifespan and all; yields its base URL."""
    async with serve(web_app, lifespan=True) as url:
        yield url


@pytest.fixture
def sessions(request: pytest.FixtureRequest, engine: AsyncEngine, hub: LocalHub) -> async_sessionmaker[AsyncSession]:
    """With the server running, the test writes through the server's own sessions, as the SMTP
    listener would: one SQLite connection per process. A second engine on the same file in this
    event loop could deadlock it, since an in-line SQLite statement waiting for the other
    connection's write lock blocks the loop that lock's holder needs to finish."""
    if "server" in request.fixturenames:
        request.getfixturevalue("server")
        app: FastAPI = request.getfixturevalue("web_app")
        server_sessions: async_sessionmaker[AsyncSession] = app.state.sessions
        return server_sessions
    return make_sessionmaker(engine, hub=hub)


@pytest.fixture
async def token(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with transaction(sessions) as session:
        return await issue_token(session, name="tests")


@pytest.fixture
async def api(server: str, token: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
