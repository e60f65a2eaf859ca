"""The admin pages and the account page over real HTTP: each change persists, each refusal writes nothing."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox import canned, tags
from inbox.agents import teams
from inbox.agents.models import CannedResponse, Role, SignInSession, Tag, Team, User
from tests.adapters.shopify.test_shopify import SECRET
from tests.web.test_shopify_webhooks import post as shopify_post
from tests.web.test_shopify_webhooks import shopify_configured  # noqa: F401  (a fixture)
from tests.web.test_webhooks import FORM, INBOUND_TEXT_SIGNATURE, TWILIO_ENV, _inbound_text
from tests.web.users import PASSWORD, browser_for, csrf_of, make_user

HTML = {"Accept": "text/html"}


@pytest.fixture
async def admin(server: str, sessions) -> AsyncIterator[httpx.AsyncClient]:
    client = await browser_for(server, await make_user(sessions, Role.admin, name="Deniz Kara"), headers=HTML)
    yield client
    await client.aclose()


async def _user(sessions: async_sessionmaker[AsyncSession], email: str) -> User | None:
    async with sessions() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestUsers:
    async def test_an_admin_adds_a_user_who_can_then_sign_in(self, server, admin, sessions) -> None:
        response = await admin.post("/admin/users", data={"name": "Zeynep Şahin", "email": "Zeynep@Shop.example",
                                                          "role": "agent", "password": "a long password"})
        assert response.status_code == 303 and response.headers["location"] == "/admin/users?saved=1"
        page = await admin.get("/admin/users?saved=1")
        assert "Zeynep Şahin" in page.text and "zeynep@shop.example" in page.text and "Saved." in page.text
        made = await _user(sessions, "zeynep@shop.example")
        assert made is not None and made.role == Role.agent and made.active
        newcomer = await browser_for(server, "zeynep@shop.example", "a long password", headers=HTML)
        assert (await newcomer.get("/inbox")).status_code == 200
        await newcomer.aclose()

    async def test_a_short_password_is_refused_with_the_reason(self, admin, sessions) -> None:
        response = await admin.post("/admin/users", data={"name": "Kısa", "email": "short@shop.example",
                                                          "role": "agent", "password": "1234567"})
        assert response.status_code == 422 and "at least 8 characters" in response.text
        assert 'value="short@shop.example"' in response.text, "what was typed is kept"
        assert await _user(sessions, "short@shop.example") is None

    async def test_a_taken_email_is_refused(self, admin, sessions) -> None:
        await make_user(sessions, Role.agent, email="taken@shop.example")
        response = await admin.post("/admin/users", data={"name": "Again", "email": "taken@shop.example",
                                                          "role": "store", "password": "a long password"})
        assert response.status_code == 409 and "taken@shop.example exists" in response.text
        assert await _count(sessions, User) == 2

    async def test_changing_a_role_persists(self, admin, sessions) -> None:
        await make_user(sessions, Role.agent, email="mehmet@shop.example")
        user = await _user(sessions, "mehmet@shop.example")
        assert user
        response = await admin.post(f"/admin/users/{user.id}/role", data={"role": "store"})
        assert response.status_code == 303
        assert (await _user(sessions, "mehmet@shop.example")).role == Role.store  # type: ignore[union-attr]

    async def test_deactivating_ends_the_users_sessions_at_once(self, server, admin, sessions) -> None:
        email = await make_user(sessions, Role.agent, email="leaving@shop.example")
        leaving = await browser_for(server, email, headers=HTML)
        assert (await leaving.get("/inbox")).status_code == 200
        user = await _user(sessions, email)
        assert user
        assert (await admin.post(f"/admin/users/{user.id}/active", data={"active": "false"})).status_code == 303
        assert (await leaving.get("/inbox")).status_code == 303, "the open session no longer works"
        async with sessions() as session:
            live = (await session.execute(select(func.count()).select_from(SignInSession).where(
                SignInSession.user_id == user.id, SignInSession.ended_at.is_(None)))).scalar_one()
        assert live == 0
        form = await leaving.get("/login")
        refused = await leaving.post("/login", data={"email": email, "password": PASSWORD,
                                                     "csrf_token": csrf_of(form.text)})
        assert refused.status_code == 401
        assert (await admin.post(f"/admin/users/{user.id}/active", data={"active": "true"})).status_code == 303
        back = await browser_for(server, email, headers=HTML)
        assert (await back.get("/inbox")).status_code == 200
        await leaving.aclose()
        await back.aclose()

    async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(self, admin, sessions) -> None:
        me = await _user(sessions, "admin@shop.example")
        assert me
        demoted = await admin.post(f"/admin/users/{me.id}/role", data={"role": "agent"})
        assert demoted.status_code == 422 and "last active admin" in demoted.text
        gone = await admin.post(f"/admin/users/{me.id}/active", data={"active": "false"})
        assert gone.status_code == 422 and "last active admin" in gone.text
        still = await _user(sessions, "admin@shop.example")
        assert still and still.role == Role.admin and still.active
        # With a second admin, the first may step down.
        await make_user(sessions, Role.admin, email="second@shop.example")
        assert (await admin.post(f"/admin/users/{me.id}/role", data={"role": "agent"})).status_code == 303


class TestRefusals:
    async def test_a_non_admin_is_refused_and_nothing_is_written(self, server, sessions) -> None:
        agent = await browser_for(server, await make_user(sessions, Role.agent), headers=HTML)
        page = await agent.get("/admin/users")
        assert page.status_code == 403 and "Only admins can open the admin pages" in page.text
        assert (await agent.post("/admin/tags", data={"name": "sneaky"})).status_code == 403
        assert await _count(sessions, Tag) == 0
        await agent.aclose()

    async def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(self, admin, sessions) -> None:
        del admin.headers["X-CSRF-Token"]
        response = await admin.post("/admin/users", data={"name": "Forged", "email": "forged@shop.example",
                                                          "role": "admin", "password": "a long password"})
        assert response.status_code == 403 and "reload the page" in response.text
        assert await _user(sessions, "forged@shop.example") is None
        assert (await admin.post("/admin/tags", data={"name": "forged"})).status_code == 403
        assert await _count(sessions, Tag) == 0


class TestTeams:
    async def test_create_rename_and_choose_members(self, admin, sessions) -> None:
        await make_user(sessions, Role.agent, email="ayse@shop.example", name="Ayşe")
        await make_user(sessions, Role.agent, email="can@shop.example", name="Can")
        ayse, can = await _user(sessions, "ayse@shop.example"), await _user(sessions, "can@shop.example")
        assert ayse and can
        made = await admin.post("/admin/teams", data={"name": "Kargo", "member": [str(ayse.id)]})
        assert made.status_code == 303
        async with sessions() as session:
            team = (await session.execute(select(Team))).scalar_one()
            assert [u.email for u in await teams.members(session, team.id or 0)] == ["ayse@shop.example"]
        changed = await admin.post(f"/admin/teams/{team.id}", data={"name": "Kargo ve teslimat",
                                                                    "member": [str(can.id)]})
        assert changed.status_code == 303
        async with sessions() as session:
            assert (await teams.get(session, team.id or 0)).name == "Kargo ve teslimat"
            assert [u.email for u in await teams.members(session, team.id or 0)] == ["can@shop.example"]
        page = await admin.get("/admin/teams")
        assert "Kargo ve teslimat" in page.text

    async def test_an_unknown_member_is_refused_and_the_team_is_not_made(self, admin, sessions) -> None:
        response = await admin.post("/admin/teams", data={"name": "Hayalet", "member": ["999"]})
        assert response.status_code == 404 and "user 999 not found" in response.text
        assert await _count(sessions, Team) == 0

    async def test_a_team_that_is_gone_says_so(self, admin) -> None:
        response = await admin.post("/admin/teams/999", data={"name": "Kargo"})
        assert response.status_code == 404 and re.search(r'role="alert">team 999 not found<', response.text)


class TestTags:
    async def test_create_rename_colour_and_delete(self, admin, sessions) -> None:
        assert (await admin.post("/admin/tags", data={"name": "iade", "color": tags.COLORS[1]})).status_code == 303
        async with sessions() as session:
            tag = (await session.execute(select(Tag))).scalar_one()
        assert tag.color == tags.COLORS[1]
        renamed = await admin.post(f"/admin/tags/{tag.id}", data={"name": "iade talebi", "color": tags.COLORS[4]})
        assert renamed.status_code == 303
        async with sessions() as session:
            tag = await tags.get(session, tag.id or 0)
        assert (tag.name, tag.color) == ("iade talebi", tags.COLORS[4])
        assert "iade talebi" in (await admin.get("/admin/tags")).text
        assert (await admin.post(f"/admin/tags/{tag.id}/delete")).status_code == 303
        assert await _count(sessions, Tag) == 0

    async def test_a_colour_outside_the_palette_is_refused(self, admin, sessions) -> None:
        response = await admin.post("/admin/tags", data={"name": "vip", "color": "#ff0000"})
        assert response.status_code == 422 and "pick one of" in response.text
        assert await _count(sessions, Tag) == 0


class TestCannedResponses:
    async def test_create_edit_and_delete(self, admin, sessions) -> None:
        page = await admin.get("/admin/canned")
        assert all(f"{{{{{name}}}}}" in page.text for name in canned.VARIABLES), "agents see the variables"
        made = await admin.post("/admin/canned", data={"shortcut": "/kargo", "title": "Kargo",
                                                       "body": "Merhaba {{customer.first_name}}, siparişiniz yolda."})
        assert made.status_code == 303
        async with sessions() as session:
            response = (await session.execute(select(CannedResponse))).scalar_one()
        assert response.shortcut == "kargo"
        edited = await admin.post(f"/admin/canned/{response.id}", data={
            "shortcut": "kargo", "title": "Kargo durumu", "body": "Sipariş {{order.number}}: {{order.status}}"})
        assert edited.status_code == 303
        async with sessions() as session:
            response = await canned.get(session, response.id or 0)
        assert (response.title, response.body) == ("Kargo durumu", "Sipariş {{order.number}}: {{order.status}}")
        assert (await admin.post(f"/admin/canned/{response.id}/delete")).status_code == 303
        assert await _count(sessions, CannedResponse) == 0

    async def test_an_unknown_variable_is_refused_with_the_reason(self, admin, sessions) -> None:
        response = await admin.post("/admin/canned", data={"shortcut": "iade", "title": "İade",
                                                           "body": "Merhaba {{customer.surname}}"})
        assert response.status_code == 422 and "unknown variable {{customer.surname}}" in response.text
        assert "Merhaba {{customer.surname}}" in response.text, "what was typed is kept"
        assert await _count(sessions, CannedResponse) == 0


class TestChannels:
    async def test_the_whatsapp_webhook_url_and_its_last_event(self, server, sessions) -> None:
        page = await _channels_page(server, sessions)
        assert "https://inbox.example.com/webhooks/twilio/whatsapp" in page
        assert "https://inbox.example.com/webhooks/twilio/status" in page
        row = _row(page, "whatsapp")
        assert "Configured" in row and "none yet" in row
        telegram = _row(page, "telegram")
        assert "Not configured" in telegram and "TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET" in telegram
        assert "https://inbox.example.com/webhooks/telegram" in telegram
        # Each setting is listed; a secret only as set or not, never its value.
        assert f"<code>{TWILIO_ENV['TWILIO_ACCOUNT_SID']}</code>" in row
        assert "TWILIO_AUTH_TOKEN" in row and TWILIO_ENV["TWILIO_AUTH_TOKEN"] not in page
        async with httpx.AsyncClient() as provider:
            delivered = await provider.post(f"{server}/webhooks/twilio/whatsapp", content=_inbound_text(),
                                            headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
        assert delivered.status_code == 200
        row = _row(await _channels_page(server, sessions), "whatsapp")
        assert "none yet" not in row and re.search(r"<time datetime=\"[0-9-]+T", row)
        assert "none yet" in _row(await _channels_page(server, sessions), "email")

    async def test_messenger_shows_where_meta_calls_and_what_turns_it_on(self, server, sessions) -> None:
        row = _row(await _channels_page(server, sessions), "messenger")
        assert "https://inbox.example.com/webhooks/messenger" in row
        assert "Not configured" in row
        assert "META_APP_SECRET, META_VERIFY_TOKEN, META_PAGE_ACCESS_TOKEN, PUBLIC_BASE_URL" in row


    async def test_shopify_shows_its_webhook_url_the_events_to_subscribe_and_what_turns_it_on(
            self, server, sessions) -> None:
        row = _shop_row(await _channels_page(server, sessions))
        assert "https://inbox.example.com/webhooks/shopify" in row and "Not configured" in row
        assert "<code>orders/create</code>" in row and "<code>refunds/create</code>" in row
        assert "To turn it on, set <code>SHOPIFY_WEBHOOK_SECRET</code>" in row and "none yet" in row


@pytest.mark.usefixtures("shopify_configured")
class TestShopOrders:
    async def test_a_configured_shop_shows_when_its_last_order_event_came(self, server, sessions) -> None:
        row = _shop_row(await _channels_page(server, sessions))
        assert "Configured" in row and "Not configured" not in row and "none yet" in row
        assert (await shopify_post(server, "orders_create.json")).status_code == 200
        row = _shop_row(await _channels_page(server, sessions))
        assert "none yet" not in row and re.search(r"<time datetime=\"[0-9-]+T", row)
        assert SECRET not in row, "the secret is only ever shown as set"


def _shop_row(page: str) -> str:
    found = re.search(r'<li class="channel-row" id="shop-shopify">(.*?)</li>', page, re.S)
    assert found, "no Shopify row"
    return found.group(1)


@pytest.fixture(autouse=True)
def _twilio(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.cls is TestChannels:
        for name, value in TWILIO_ENV.items():
            monkeypatch.setenv(name, value)


async def _channels_page(server: str, sessions) -> str:
    email = "admin@shop.example"
    if await _user(sessions, email) is None:
        await make_user(sessions, Role.admin)
    client = await browser_for(server, email, headers=HTML)
    page = await client.get("/admin/channels")
    await client.aclose()
    assert page.status_code == 200
    return page.text


def _row(page: str, channel: str) -> str:
    found = re.search(rf'<li class="channel-row" id="channel-{channel}">(.*?)</li>', page, re.S)
    assert found, channel
    return found.group(1)


class TestAccount:
    async def test_the_language_choice_wins_over_the_browser(self, server, sessions) -> None:
        client = await browser_for(server, await make_user(sessions, Role.agent), headers=HTML)
        client.headers["Accept-Language"] = "en-US,en;q=0.9"
        assert "Unassigned" in (await client.get("/inbox")).text
        saved = await client.post("/account", data={"name": "Ayşe Demir", "locale": "tr"})
        assert saved.status_code == 303
        inbox = await client.get("/inbox")
        assert "Atanmamış" in inbox.text and "Ayşe Demir" in inbox.text
        assert (await client.post("/account", data={"name": "Ayşe Demir", "locale": ""})).status_code == 303
        assert "Unassigned" in (await client.get("/inbox")).text
        await client.aclose()

    async def test_a_store_user_has_an_account_page_but_no_inbox(self, server, sessions) -> None:
        client = await browser_for(server, await make_user(sessions, Role.store), headers=HTML)
        assert (await client.get("/account")).status_code == 200
        refused = await client.get("/inbox")
        assert refused.status_code == 403 and "The inbox is for agents and admins" in refused.text
        assert 'href="/account"' in refused.text
        await client.aclose()

    async def test_changing_the_password_needs_the_current_one(self, server, sessions) -> None:
        email = await make_user(sessions, Role.agent)
        client = await browser_for(server, email, headers=HTML)
        wrong = await client.post("/account/password", data={"current_password": "guess",
                                                              "new_password": "a brand new one"})
        assert wrong.status_code == 422 and "is not your current password" in wrong.text
        short = await client.post("/account/password", data={"current_password": PASSWORD, "new_password": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        changed = await client.post("/account/password", data={"current_password": PASSWORD,
                                                               "new_password": "a brand new one"})
        assert changed.status_code == 303
        await client.aclose()
        assert (await browser_for(server, email, "a brand new one", headers=HTML)).is_closed is False


class TestErrorPages:
    async def test_a_browser_gets_a_page_and_the_api_keeps_json(self, server, admin, api) -> None:
        missing = await admin.get("/inbox/threads/424242")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert "Nothing here" in missing.text and 'class="topbar"' in missing.text
        unknown_route = await admin.get("/no/such/page")
        assert unknown_route.status_code == 404 and "Go to the inbox" in unknown_route.text
        api_missing = await api.get("/api/v1/customers/424242", headers=HTML)
        assert api_missing.status_code == 404 and api_missing.json()["detail"]

    async def test_htmx_gets_the_error_in_the_flash_region(self, admin) -> None:
        response = await admin.post("/inbox/threads/424242/status", data={"status": "resolved"},
                                    headers={"HX-Request": "true"})
        assert response.status_code == 404
        assert response.headers["hx-retarget"] == "#flash" and response.headers["hx-reswap"] == "innerHTML"
        assert 'class="toast"' in response.text and "no longer here" in response.text and "<html" not in response.text

