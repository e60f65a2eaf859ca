"""Every page says scripts come from this server only, so a script that slipped into one would not run."""

import httpx
import pytest

from inbox.agents.models import Role
from tests.web.users import signed_in

SCRIPT_SOURCES = "script-src 'self'"


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/app.css", "/no/such/page"])
async def test_anonymous_answers_carry_the_policy(server, path) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get(path)
    policy = response.headers["content-security-policy"]
    assert SCRIPT_SOURCES in policy and "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_inbox_and_the_search_page_carry_it(server, sessions) -> None:
    agent = await signed_in(server, sessions, Role.agent)
    try:
        for path in ("/inbox", "/search?q=kargo", "/account"):
            response = await agent.get(path)
            assert response.status_code == 200, path
            assert SCRIPT_SOURCES in response.headers["content-security-policy"], path
    finally:
        await agent.aclose()
