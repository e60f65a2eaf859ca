"""The web chat widget in real browsers, two at once: a customer on a shop's page and an agent in the inbox."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from html import escape
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, FrameLocator, Page, expect
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Message
from inbox.threads import service as threads
from tests.fakes.loopback import serve
from tests.fakes.network import relay
from tests.ui.conftest import screenshot_path
from tests.ui.steps import message_written, sign_in
from tests.waiting import until
from tests.web.users import make_user

SECRET = "shop-identity-secret-for-tests"
AYSE_EMAIL = "ayse.yilmaz@example.net"


async def _visitor(chromium: Browser, url: str, *, width: int = 1280, height: int = 800,
                   locale: str = "en-US") -> tuple[Page, FrameLocator]:
    page = await (await chromium.new_context(viewport={"width": width, "height": height}, locale=locale)).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(url)
    # The launcher is inside a shadow root's iframe; Playwright's locators pierce open shadow roots.
    chat = page.frame_locator("iframe")
    await expect(chat.locator("body")).to_have_attribute("data-live", "on")
    return page, chat


async def _agent(chromium: Browser, server: str, sessions, name: str = "Ayşe Demir") -> Page:
    page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
    await sign_in(page, server, await make_user(sessions, Role.agent, name=name))
    return page


async def _write(chat: FrameLocator, text: str) -> None:
    await chat.locator("textarea").fill(text)
    await chat.locator("textarea").press("Enter")


async def _stored(sessions, text: str) -> Message:
    async with sessions() as reader:
        return (await reader.execute(select(Message).where(col(Message.text) == text))).scalar_one()


class TestRoundTrip:
    async def test_messages_go_both_ways_live_and_a_dropped_connection_catches_up(self, chromium: Browser, server,
                                                                                 sessions) -> None:
        agent = await _agent(chromium, server, sessions)
        async with relay(server) as network:
            shop, chat = await _visitor(chromium, f"{network.url}/demo/shop")
            await chat.locator(".wc-launcher").click()
            await expect(chat.locator(".wc-status")).to_have_text("We are online and reply here")
            await chat.locator(".wc-skip").click()
            await _write(chat, "Merhaba! Keten gömlek S beden var mı?")
            await expect(chat.locator(".wc-message.mine:not(.pending)")).to_contain_text("Keten gömlek S beden")

            # The agent's list shows it without a reload; the reply goes back on the web chat.
            await agent.locator(".conversation .open", has_text="Keten gömlek S beden").click()
            thread = agent.locator("#thread")
            await expect(thread.locator(".composer select[name=channel]")).to_have_value("webchat")
            await chat.locator("textarea").fill("Lacivert olursa")
            await expect(agent.locator("#presence")).to_have_text("The visitor is typing…")
            await thread.locator("textarea[name=text]").fill("Merhaba, S beden lacivert var.")
            await expect(chat.locator(".wc-typing")).to_have_text("Ayşe Demir is typing…")
            await thread.locator("textarea[name=text]").press("Control+Enter")
            reply = chat.locator(".wc-message.theirs")
            await expect(reply.locator(".wc-text")).to_have_text("Merhaba, S beden lacivert var.")
            await expect(reply.locator(".wc-meta")).to_contain_text("Ayşe Demir · ")
            await chat.locator("textarea").press("Enter")
            await expect(thread.locator(".message.inbound", has_text="Lacivert olursa")).to_be_visible()
            await shop.screenshot(path=screenshot_path("widget-desktop"))

            # The shopper's train goes into a tunnel: what is said meanwhile arrives once it is back.
            network.cut()
            await expect(chat.locator(".wc-connection")).to_be_visible()
            await _write(chat, "Tünele girdim, bir dakika")
            await thread.locator("textarea[name=text]").fill("Kargoya yarın veriyoruz.")
            await thread.locator("textarea[name=text]").press("Control+Enter")
            await until(lambda: _sent(sessions, "Kargoya yarın veriyoruz."))
            await expect(chat.locator(".wc-message.theirs")).to_have_count(1)
            network.restore()
            await expect(chat.locator(".wc-connection")).to_be_hidden(timeout=20_000)
            await expect(chat.locator(".wc-message.theirs").nth(1)).to_contain_text("Kargoya yarın veriyoruz.")
            await expect(thread.locator(".message.inbound", has_text="Tünele girdim")).to_be_visible()

        texts = [(m.direction, m.channel, m.text) for m in await _history(sessions, "Tünele girdim, bir dakika")]
        assert texts == [("inbound", "webchat", "Merhaba! Keten gömlek S beden var mı?"),
                         ("outbound", "webchat", "Merhaba, S beden lacivert var."),
                         ("inbound", "webchat", "Lacivert olursa"),
                         ("outbound", "webchat", "Kargoya yarın veriyoruz."),
                         ("inbound", "webchat", "Tünele girdim, bir dakika")]

    async def test_on_a_phone_the_chat_fills_the_screen_in_turkish(self, chromium: Browser, server) -> None:
        shop, chat = await _visitor(chromium, f"{server}/demo/shop?lang=tr", width=390, height=844, locale="tr-TR")
        await chat.locator(".wc-launcher").click()
        # The chat asks the shop's page to resize its frame by a message: the resize comes a moment later.
        await _frame_settles(shop, "r.width >= 390")
        frame = await shop.locator("iframe").bounding_box()
        assert frame == {"x": 0, "y": 0, "width": 390, "height": 844}
        await expect(chat.locator("#wc-title")).to_have_text("Bize yazın")
        await expect(chat.locator(".wc-prechat button[type=submit]")).to_have_text("Devam")
        await chat.locator(".wc-prechat input[name=name]").fill("Şule")
        await chat.locator(".wc-prechat input[name=email]").fill("sule@example.net")
        await chat.locator(".wc-prechat button[type=submit]").click()
        await expect(chat.locator(".wc-prechat")).to_be_hidden()
        await _write(chat, "Kapıda ödeme var mı?")
        await expect(chat.locator(".wc-message.mine:not(.pending)")).to_contain_text("Kapıda ödeme var mı?")
        await shop.screenshot(path=screenshot_path("widget-phone"))
        await chat.locator(".wc-close").click()
        await _frame_settles(shop, "r.width < 100")
        closed = await shop.locator("iframe").bounding_box()
        assert closed is not None and closed["width"] < 100 and closed["height"] < 100


async def _frame_settles(shop: Page, condition: str) -> None:
    """Until the chat's frame on the shop's page meets `condition` (over its rectangle `r`), for 5 s."""
    frame = await shop.locator("iframe").element_handle()  # in the widget's shadow root
    await shop.wait_for_function(f"(frame) => {{ const r = frame.getBoundingClientRect(); return {condition}; }}",
                                 arg=frame, timeout=5000)


class TestAway:
    async def test_with_nobody_online_the_reply_goes_by_email_once_the_visitor_left(self, chromium: Browser, server,
                                                                                    sessions) -> None:
        shop, chat = await _visitor(chromium, f"{server}/demo/shop")
        await chat.locator(".wc-launcher").click()
        await expect(chat.locator(".wc-status")).to_have_text("We are away: the reply comes by email")
        await expect(chat.locator(".wc-away")).to_contain_text("the reply comes by email")
        await chat.locator(".wc-skip").click()
        await chat.locator(".wc-email-form input").fill("can@example.net")
        await chat.locator(".wc-email-form button").click()
        await expect(chat.locator(".wc-email-known")).to_be_visible()
        await _write(chat, "İade kargosu ücretli mi?")
        await expect(chat.locator(".wc-message.mine:not(.pending)")).to_contain_text("İade kargosu")
        await shop.context.close()

        agent = await _agent(chromium, server, sessions)
        await agent.locator(".conversation .open", has_text="İade kargosu").click()
        thread = agent.locator("#thread")
        await thread.locator("textarea[name=text]").fill("Hayır, ücretsiz.")
        await thread.locator("textarea[name=text]").press("Control+Enter")
        reply = thread.locator(".message.outbound")
        await expect(reply).to_contain_text("Sent by email: the visitor had left the chat.")
        # No mail server here: the reply waits on the email channel with the reason, never pretends.
        await expect(reply.locator(".failure")).to_contain_text("channel not configured")
        stored = await _stored(sessions, "Hayır, ücretsiz.")
        assert (stored.channel, stored.extra.get("instead_of")) == ("email", "webchat")


@pytest.fixture
async def shop_site(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A shop on another origin, whose backend signs its signed-in shopper; the app trusts its secret."""

    async def page(request: Request) -> HTMLResponse:
        said = request.query_params
        attributes = " ".join(f'data-user-{key}="{escape(value)}"' for key, value in said.items() if key != "server")
        return HTMLResponse(f'<!doctype html><html lang="tr"><body><h1>Acme Mağaza</h1>'
                            f'<script src="{escape(said["server"])}/widget.js" {attributes}></script></body></html>')

    async with serve(Starlette(routes=[Route("/", page)])) as url:
        monkeypatch.setenv("WIDGET_IDENTITY_SECRET", SECRET)
        monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", url)
        yield url


class TestSignedInShopper:
    async def test_the_shops_signature_joins_their_thread_and_a_forged_one_does_not(
            self, chromium: Browser, shop_site: str, server, sessions, ingest_config) -> None:
        async with transaction(sessions) as session:
            earlier = await ingest(session, InboundMessage(Channel.email, "<iade-1@example.net>", Party(
                AYSE_EMAIL, AddressKind.email, True, "Ayşe Yılmaz"), text="İade formunu gönderdim."),
                config=ingest_config)
        signature = hmac.new(SECRET.encode(), AYSE_EMAIL.encode(), hashlib.sha256).hexdigest()

        _, chat = await _visitor(chromium, f"{shop_site}/?" + urlencode(
            {"server": server, "email": AYSE_EMAIL, "name": "Ayşe Yılmaz", "hash": signature}))
        await chat.locator(".wc-launcher").click()
        await expect(chat.locator(".wc-prechat")).to_be_hidden()
        await _write(chat, "Merhaba, iade formum ulaştı mı?")
        await expect(chat.locator(".wc-message.mine:not(.pending)")).to_contain_text("iade formum")
        _, joined = await message_written(sessions, "Merhaba, iade formum ulaştı mı?")
        assert joined == earlier.thread_id

        _, forged_chat = await _visitor(chromium, f"{shop_site}/?" + urlencode(
            {"server": server, "email": AYSE_EMAIL, "name": "Ayşe Yılmaz", "hash": "0" * 64}))
        await forged_chat.locator(".wc-launcher").click()
        # Refused as Ayşe, the page still has a chat: an anonymous one, asking who is there.
        await expect(forged_chat.locator(".wc-prechat")).to_be_visible()
        await forged_chat.locator(".wc-skip").click()
        await _write(forged_chat, "Ben Ayşe, siparişlerimi gösterir misiniz?")
        await expect(forged_chat.locator(".wc-message.mine:not(.pending)")).to_contain_text("siparişlerimi")
        _, elsewhere = await message_written(sessions, "Ben Ayşe, siparişlerimi gösterir misiniz?")
        assert elsewhere != earlier.thread_id
        await expect(forged_chat.locator(".wc-messages")).not_to_contain_text("iade formum")


async def _sent(sessions, text: str) -> bool:
    async with sessions() as reader:
        status = await reader.scalar(select(col(Message.delivery_status)).where(col(Message.text) == text))
    return status == "sent"


async def _history(sessions, last_text: str) -> list[Message]:
    async with sessions() as reader:
        thread_id = (await _stored(sessions, last_text)).thread_id
        thread = await threads.get(reader, thread_id)
        found = await reader.execute(select(Message).where(
            col(Message.thread_id) == thread.id, col(Message.direction) != "event").order_by(col(Message.id)))
        return list(found.scalars())
