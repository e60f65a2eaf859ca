from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents.service import issue_token
from inbox.config import CoreSettings
from inbox.db import transaction
from tests.conftest import TEST_REDIS_URL
from tests.fakes.loopback import serve
from web.app import create_app


@pytest.fixture
def app_settings(db_url: str, tmp_path: Path) -> CoreSettings:
    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL)


@pytest.fixture
def web_app(app_settings: CoreSettings) -> FastAPI:
    """The app under test. Once `server` runs, app.state.sessions are the server's own: work done
    through them is published to the server's live hub, as the SMTP listener's work would be."""
    return create_app(app_settings)


@pytest.fixture
async def server(web_app: FastAPI) -> AsyncIterator[str]:
    """The real app on a loopback port, lifespan and all; yields its base URL."""
    async with serve(web_app, lifespan=True) as url:
        yield url


@pytest.fixture
async def token(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with transaction(sessions) as session:
        return await issue_token(session, name="tests")


@pytest.fixture
async def api(server: str, token: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
