"""Databases for the suite: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.

The schema is made once by the Alembic migrations; each test then gets an empty database
(a copy of the migrated SQLite file, or truncated PostgreSQL tables), because the code under
test commits for real.
"""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inbox.config import async_database_url
from inbox.db import is_sqlite, make_engine, make_sessionmaker, metadata
from inbox.files import FileStore
from inbox.ingest import IngestConfig
from inbox.migrate import upgrade
from inbox.realtime import LocalHub, make_hub

TEST_DATABASE_URL = async_database_url(os.environ.get("TEST_DATABASE_URL", ""))
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


@pytest.fixture(scope="session")
def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        engine_url = TEST_DATABASE_URL
        import asyncio

        async def _reset() -> None:
            engine = make_engine(engine_url)
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(_reset())
        upgrade(engine_url)
        return engine_url
    template = tmp_path_factory.mktemp("template") / "onethread.db"
    url = f"sqlite+aiosqlite:///{template}"
    upgrade(url)
    return url


@pytest.fixture
async def db_url(migrated_url: str, tmp_path: Path) -> str:
    if is_sqlite(migrated_url):
        target = tmp_path / "data" / "onethread.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(migrated_url.split("///", 1)[1], target)
        return f"sqlite+aiosqlite:///{target}"
    engine = make_engine(migrated_url)
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    return migrated_url


@pytest.fixture
async def hub() -> AsyncIterator[LocalHub]:
    live = make_hub(TEST_REDIS_URL)
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    made = make_engine(db_url)
    yield made
    await made.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine, hub: LocalHub) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine, hub=hub)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging and asserting; code under test commits through its own."""
    async with sessions() as opened:
        yield opened


@pytest.fixture
def file_store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "data" / "attachments", max_bytes=5 * 1024 * 1024)


@pytest.fixture
def ingest_config(file_store: FileStore) -> IngestConfig:
    return IngestConfig(region="TR", files=file_store)
