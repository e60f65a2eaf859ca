"""Server-Timing: the app's own time on every HTTP response, for devtools and for bench.ui."""

import asyncio
import json
import re

import httpx
import pytest
import websockets

from inbox.agents.models import Role
from tests.web.users import PASSWORD, make_user

_TIMING = re.compile(r"^app;dur=(\d+\.\d+)$")


@pytest.mark.parametrize("path", ["/healthz", "/login", "/static/app.css", "/no/such/page"])
async def test_every_http_response_carries_the_apps_time(server, path) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get(path)
    timing = _TIMING.match(response.headers.get("server-timing", ""))
    assert timing, response.headers
    assert 0 < float(timing.group(1)) < 10_000


async def test_a_signed_in_page_carries_it_too(server, sessions) -> None:
    from bench.ui import sign_in

    cookie = await sign_in(server, await make_user(sessions, Role.agent), PASSWORD)
    async with httpx.AsyncClient(base_url=server, cookies={"onethread_session": cookie}) as browser:
        page = await browser.get("/inbox")
    assert page.status_code == 200 and _TIMING.match(page.headers["server-timing"])


async def test_the_live_websocket_still_works_through_it(server, sessions) -> None:
    from bench.ui import sign_in

    cookie = await sign_in(server, await make_user(sessions, Role.agent), PASSWORD)
    url = server.replace("http", "ws") + "/live"
    async with websockets.connect(url, additional_headers={"Cookie": f"onethread_session={cookie}",
                                                           "Origin": server}) as socket:
        assert "server-timing" not in socket.response.headers
        await socket.ping()
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["kind"] == "live.ready"
        with pytest.raises(asyncio.TimeoutError):  # open and quiet: nothing happened to tell
            await asyncio.wait_for(socket.recv(), 0.3)
