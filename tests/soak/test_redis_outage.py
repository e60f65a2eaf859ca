"""Redis goes away and comes back: webhooks are still taken, and an open inbox misses nothing.

Redis carries live events between processes but holds none of them: the table does. While it is
gone the server keeps committing, the agents' sockets are told to catch up from the table, and
once it is back events flow live again.
"""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import websockets

from inbox.agents.models import Role
from inbox.config import CoreSettings
from tests.fakes.loopback import serve
from tests.soak.figures import record
from tests.soak.webhooks import SETTINGS, whatsapp
from tests.waiting import until
from tests.web.test_cli import _free_port
from tests.web.users import browser_for, make_user
from web.app import create_app
from web.ui.security import SESSION_COOKIE

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason="needs redis-server to start one of its own")


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nobody else's."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL)
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    async def kill(self) -> None:
        assert self._process is not None
        self._process.kill()
        await self._process.wait()


@asynccontextmanager
async def _redis() -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis()
    await redis.start()
    try:
        yield redis
    finally:
        if redis._process is not None and redis._process.returncode is None:
            await redis.kill()


class Inbox:
    """An agent's open inbox as the page keeps it: on a close it reconnects with the last id it saw."""

    def __init__(self, server: str, cookie: str) -> None:
        self.server, self.cookie = server, cookie
        self.last_id = 0
        self.messages: set[int] = set()  # ids of the customers' messages it has shown
        self.reconnects = 0

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            url = self.server.replace("http", "ws") + f"/live?after={self.last_id}"
            try:
                async with websockets.connect(url, open_timeout=5, additional_headers={
                        "Cookie": f"{SESSION_COOKIE}={self.cookie}", "Origin": self.server}) as socket:
                    async for frame in socket:
                        event = json.loads(frame)
                        if event.get("id"):
                            self.last_id = max(self.last_id, event["id"])
                        if event["kind"] == "message.created" and event["data"]["direction"] == "inbound":
                            self.messages.add(event["data"]["message_id"])
            except (OSError, websockets.ConnectionClosed, TimeoutError):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.1)


async def test_webhooks_taken_while_redis_is_down_all_reach_the_open_inbox(db_url, tmp_path, monkeypatch) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    async with _redis() as redis:
        app = create_app(CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=redis.url))
        async with serve(app, lifespan=True) as server:
            agent = await browser_for(server, await make_user(app.state.sessions, Role.agent))
            inbox = Inbox(server, agent.cookies[SESSION_COOKIE])
            stop = asyncio.Event()
            following = asyncio.create_task(inbox.follow(stop))
            async with httpx.AsyncClient(base_url=server) as provider:
                async def post(n: int) -> None:
                    webhook = whatsapp(f"outage {n}", who=n)
                    head, body = webhook.request.split(b"\r\n\r\n", 1)
                    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                    headers.pop("Host"), headers.pop("Content-Length")
                    answered = await provider.post("/webhooks/twilio/whatsapp", content=body, headers=headers)
                    assert answered.status_code == 200, answered.text

                async def arrived(count: int) -> None:
                    async def shown() -> bool:
                        return len(inbox.messages) >= count

                    await until(shown, within=20)

                await post(0)
                await arrived(1)
                await redis.kill()
                for n in range(1, 6):  # taken and committed with Redis gone
                    await post(n)
                await arrived(6)  # the inbox caught up from the table
                down_reconnects = inbox.reconnects
                await redis.start()  # back, on the same port
                await asyncio.sleep(1.5)  # the server's subscription comes back within a second
                settled_reconnects = inbox.reconnects
                for n in range(6, 9):
                    await post(n)
                await arrived(9)
            stop.set()
            following.cancel()
            await agent.aclose()
    record("redis outage", f"webhooks 9 (5 while Redis was down), reached the inbox {len(inbox.messages)}, "
           f"lost {9 - len(inbox.messages)}, inbox reconnects {down_reconnects} during the outage")
    assert len(inbox.messages) == 9
    assert down_reconnects >= 1  # told to catch up from the table when Redis went
    assert inbox.reconnects == settled_reconnects  # and live again once it was back: no reconnect needed
