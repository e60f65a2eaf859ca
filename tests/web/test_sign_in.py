"""Signing in and out over real HTTP: cookies, CSRF, the guessing limit and roles."""

import asyncio
import json
import re

import httpx
import pytest
import websockets

from inbox.agents.models import Role
from inbox.agents.signin import MAX_FAILURES
from inbox.db import transaction
from inbox.realtime import emit
from tests.web.users import PASSWORD, make_user


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/login")
    return await client.post("/login", data={"email": email, "password": password, "csrf_token": _csrf(form.text),
                                             "next": "/inbox"})


@pytest.fixture
async def browser(server: str):
    async with httpx.AsyncClient(base_url=server) as client:
        yield client


class TestSignIn:
    async def test_a_page_asks_for_sign_in_and_comes_back_after(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        first = await browser.get("/inbox?view=open")
        assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Finbox%3Fview%3Dopen"
        response = await _sign_in(browser, email)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "onethread_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        inbox = await browser.get("/inbox")
        assert inbox.status_code == 200 and "Unassigned" in inbox.text

    async def test_wrong_password_is_refused_and_sets_no_session(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        response = await _sign_in(browser, email, "not the password")
        assert response.status_code == 401 and "Wrong email or password." in response.text
        assert "onethread_session" not in browser.cookies
        assert (await browser.get("/inbox")).status_code == 303

    async def test_the_sign_in_form_needs_its_csrf_token(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        await browser.get("/login")
        response = await browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": "forged"})
        assert response.status_code == 403 and "onethread_session" not in browser.cookies

    async def test_guessing_is_stopped_even_with_the_right_password(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        for _ in range(MAX_FAILURES):
            assert (await _sign_in(browser, email, "guess")).status_code == 401
        blocked = await _sign_in(browser, email)
        assert blocked.status_code == 429 and "onethread_session" not in browser.cookies

    async def test_an_offsite_next_is_ignored(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        form = await browser.get("/login")
        response = await browser.post("/login", data={"email": email, "password": PASSWORD,
                                                      "csrf_token": _csrf(form.text), "next": "//evil.example/x"})
        assert response.headers["location"] == "/"


class TestSessionFixation:
    async def test_a_session_id_planted_before_sign_in_is_never_the_one_signed_in(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        # An attacker sets the victim's cookie (a shared computer, a subdomain) and waits for the sign-in.
        planted = "planted-by-someone-else-0123456789abcdef"
        browser.cookies.set("onethread_session", planted, domain="127.0.0.1", path="/")
        signed = await _sign_in(browser, email)
        assert signed.status_code == 303
        assert browser.cookies["onethread_session"] != planted
        async with httpx.AsyncClient(base_url=str(browser.base_url), cookies={"onethread_session": planted}) as other:
            assert (await other.get("/inbox")).status_code == 303  # the planted id opens nothing


class TestSignOut:
    async def test_sign_out_ends_the_session_on_the_server(self, server, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        await _sign_in(browser, email)
        stolen = browser.cookies["onethread_session"]
        inbox = await browser.get("/inbox")
        response = await browser.post("/logout", data={"csrf_token": _csrf(inbox.text)})
        assert response.status_code == 303
        # The cookie a thief copied before sign-out no longer opens anything.
        async with httpx.AsyncClient(base_url=server, cookies={"onethread_session": stolen}) as thief:
            again = await thief.get("/inbox")
        assert again.status_code == 303 and again.headers["location"].startswith("/login")

    async def test_sign_out_without_the_csrf_token_is_refused(self, browser, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        await _sign_in(browser, email)
        assert (await browser.post("/logout")).status_code == 403
        assert (await browser.get("/inbox")).status_code == 200


class TestRoles:
    @pytest.mark.parametrize(("role", "status"), [(Role.admin, 200), (Role.agent, 200), (Role.store, 403)])
    async def test_the_inbox_is_for_agents_and_admins(self, browser, sessions, role: Role, status: int) -> None:
        email = await make_user(sessions, role)
        await _sign_in(browser, email)
        assert (await browser.get("/inbox")).status_code == status

    async def test_htmx_requests_without_a_session_get_401_and_a_redirect_header(self, browser) -> None:
        response = await browser.get("/inbox", headers={"HX-Request": "true"})
        assert response.status_code == 401 and response.headers["hx-redirect"] == "/login"


class TestLiveSocket:
    async def _close_code(self, server: str, cookie: str | None, origin: str | None) -> int:
        headers = {}
        if cookie:
            headers["Cookie"] = f"onethread_session={cookie}"
        if origin:
            headers["Origin"] = origin
        async with websockets.connect(server.replace("http", "ws") + "/live", additional_headers=headers) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
        return closed.value.rcvd.code if closed.value.rcvd else 0

    async def test_no_session_is_refused(self, server) -> None:
        assert await self._close_code(server, None, None) == 4401

    async def test_a_store_user_gets_no_live_inbox(self, server, browser, sessions) -> None:
        await _sign_in(browser, await make_user(sessions, Role.store))
        assert await self._close_code(server, browser.cookies["onethread_session"], None) == 4401

    async def test_another_site_cannot_ride_an_agents_cookie(self, server, browser, sessions) -> None:
        await _sign_in(browser, await make_user(sessions, Role.agent))
        cookie = browser.cookies["onethread_session"]
        with pytest.raises(websockets.InvalidStatus) as refused:
            await self._close_code(server, cookie, "https://evil.example")
        assert refused.value.response.status_code == 403

    async def test_an_agent_resumes_after_the_last_event_seen(self, server, web_app, browser, sessions) -> None:
        await _sign_in(browser, await make_user(sessions, Role.agent))
        cookie = browser.cookies["onethread_session"]
        async with transaction(web_app.state.sessions) as session:
            first = await emit(session, "test.one")
            second = await emit(session, "test.two")
        url = server.replace("http", "ws") + f"/live?after={first}"
        async with websockets.connect(url, additional_headers={"Cookie": f"onethread_session={cookie}",
                                                               "Origin": server}) as socket:
            received = []
            while not received or received[-1]["kind"] != "live.ready":
                received.append(json.loads(await asyncio.wait_for(socket.recv(), 5)))
        # What was missed comes first, then the word that the page is caught up.
        assert second in [event["id"] for event in received[:-1]]
