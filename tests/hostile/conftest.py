"""The real app, every channel configured with the fixtures' secrets, served by uvicorn on loopback
in a thread of its own, so that hypothesis can drive it with plain blocking clients.

Providers' APIs point at a closed loopback port: nothing here reaches the internet, and a call the
app makes on its own (a Messenger name lookup, a Telegram button answer) fails at once.
"""

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import inbox.models  # noqa: F401  (every table, for the row counts)
from inbox.agents.service import issue_token
from inbox.config import CoreSettings
from inbox.db import metadata, transaction
from tests.conftest import TEST_REDIS_URL
from web.app import create_app

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parents[1] / "adapters"
# The hand-over payloads, when this checkout sits beside them (not in CI): more mail to mutate.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "payloads"
PUBLIC_BASE_URL = "https://inbox.example.com"
TWILIO_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
META_SECRET = "fake_meta_app_secret_0123456789ab"
TELEGRAM_SECRET = "tg-webhook-secret_ABC123"
WIDGET_SECRET = "widget-identity-secret-for-tests"
SUPPORT = "destek@acme.example"
SMTP_LIMIT = 200_000
MAX_REQUEST_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 256 * 1024
MAX_ATTACHMENT_BYTES = 64 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Live:
    """A running app: its base URL, its SMTP port, and a way to run a coroutine on its own loop."""

    app: FastAPI
    url: str
    smtp_port: int
    loop: asyncio.AbstractEventLoop
    # One client for the whole test: making one costs more than a request (its TLS context).
    http: httpx.Client

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def rows(self) -> dict[str, int]:
        """Rows in every table, read through the server's own engine (one query)."""
        return self.run(_rows(self.app.state.sessions))

    def client(self, **kwargs: Any) -> httpx.Client:
        return _client(self.url, **kwargs)


def _client(url: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, verify=False, **kwargs)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    tables = metadata.sorted_tables
    counts = ", ".join(f'(SELECT count(*) FROM "{table.name}")' for table in tables)
    async with sessions() as session:
        found = (await session.execute(text(f"SELECT {counts}"))).one()
    return {table.name: int(count) for table, count in zip(tables, found, strict=True)}


@pytest.fixture
def channels_env(monkeypatch: pytest.MonkeyPatch) -> int:
    """Every channel configured as the recorded fixtures were signed; returns the SMTP listener's port."""
    closed = f"http://127.0.0.1:{free_port()}"
    smtp_port = free_port()
    for name, value in {
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TWILIO_ACCOUNT_SID": "ACa1b2c3d4e5f60718293a4b5c6d7e8f90", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "TWILIO_API_BASE_URL": closed,
        "META_APP_SECRET": META_SECRET, "META_VERIFY_TOKEN": "inbox-verify-token-123",
        "META_PAGE_ACCESS_TOKEN": "fake-page-token", "META_APP_ID": "1234567890", "META_GRAPH_BASE_URL": closed,
        "TELEGRAM_BOT_TOKEN": "123456:FAKE-token", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": closed,
        "WIDGET_IDENTITY_SECRET": WIDGET_SECRET, "WIDGET_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "SUPPORT_ADDRESSES": SUPPORT, "SMTP_LISTEN_PORT": str(smtp_port),
        "SMTP_MAX_MESSAGE_BYTES": str(SMTP_LIMIT), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": closed.rsplit(":", 1)[1],
        "SMTP_SECURITY": "off",
    }.items():
        monkeypatch.setenv(name, value)
    return smtp_port


@pytest.fixture
def live(db_url: str, tmp_path: Path, channels_env: int) -> Iterator[Live]:
    settings = CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL,
                            max_request_bytes=MAX_REQUEST_BYTES, max_attachment_bytes=MAX_ATTACHMENT_BYTES)
    # No delivery or media workers: nothing is sent, nothing fetched; only what a request does is counted.
    app = create_app(settings, workers=False)
    loop = asyncio.new_event_loop()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    for _ in range(3000):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.01)
    assert server.started, "the app did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    http = _client(url)
    try:
        yield Live(app, url, channels_env, loop, http)
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=30)
        loop.close()


@pytest.fixture
def api_token(live: Live) -> str:
    async def issue() -> str:
        async with transaction(live.app.state.sessions) as session:
            return await issue_token(session, name="hostile")

    return live.run(issue())
