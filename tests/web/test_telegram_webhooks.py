"""Telegram end to end: real HTTP into the real app, with the header Telegram sends."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents.models import Role
from inbox.customers.models import Customer
from inbox.messages.models import Attachment, Message
from inbox.threads.models import Thread
from tests.fakes.telegram_api import TOKEN, TelegramFake, running
from tests.web.test_webhooks import FORM, INBOUND_TEXT_SIGNATURE, TWILIO_ENV
from tests.web.users import signed_in
from web.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "telegram" / "fixtures"
WHATSAPP_FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "whatsapp" / "fixtures"
SECRET = "tg-webhook-secret_ABC123"
# start__signed.json carries a payload signed with this secret for customer 1.
LINK_SECRET = "test-link-secret-0123456789"
TELEGRAM_ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9", "LINK_SECRET": LINK_SECRET}
JSON = {"Content-Type": "application/json"}
SIGNED = {**JSON, "X-Telegram-Bot-Api-Secret-Token": SECRET}


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**TWILIO_ENV, **TELEGRAM_ENV}.items():
        monkeypatch.setenv(name, value)


def _body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def _post(server: str, body: bytes, headers: dict[str, str] = SIGNED) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{server}/webhooks/telegram", content=body, headers=headers)


async def _messages(sessions: async_sessionmaker[AsyncSession], provider_id: str) -> list[Message]:
    async with sessions() as session:
        return list((await session.execute(select(Message).where(Message.provider_id == provider_id))).scalars())


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestInbound:
    async def test_text_is_committed_when_the_empty_200_arrives_and_a_retry_is_stored_once(
            self, server: str, sessions) -> None:
        first = await _post(server, _body("text.json"))
        assert (first.status_code, first.content) == (200, b"")
        assert len(await _messages(sessions, "512345678:101")) == 1
        again = await _post(server, _body("text.json"))
        assert again.status_code == 200
        [stored] = await _messages(sessions, "512345678:101")
        assert (stored.channel, stored.text) == ("telegram", "Merhaba, 1002 numaralı siparişim ne durumda?")

    async def test_a_wrong_or_missing_secret_is_403_and_leaves_no_trace(self, server: str, sessions) -> None:
        wrong = await _post(server, _body("text.json"), {**JSON, "X-Telegram-Bot-Api-Secret-Token": SECRET + "x"})
        missing = await _post(server, _body("text.json"), JSON)
        assert (wrong.status_code, missing.status_code) == (403, 403)
        assert await _count(sessions, Message) == 0 and await _count(sessions, Customer) == 0

    async def test_malformed_updates_are_400_with_a_reason(self, server: str, sessions) -> None:
        broken = await _post(server, b'{"update_id": 1, "message": ')
        no_chat = await _post(server, _body("malformed__no_chat.json"))
        assert (broken.status_code, broken.json()) == (400, {"detail": "the body is not JSON"})
        assert no_chat.status_code == 400 and "chat" in no_chat.json()["detail"]
        assert await _count(sessions, Message) == 0

    async def test_group_messages_and_unhandled_updates_are_acknowledged_and_dropped(
            self, server: str, sessions) -> None:
        for name in ("group_message.json", "my_chat_member__unhandled.json"):
            response = await _post(server, _body(name))
            assert (response.status_code, response.content) == (200, b"")
        assert await _count(sessions, Message) == 0

    async def test_a_photo_is_stored_as_an_attachment_waiting_at_telegram(self, server: str, sessions) -> None:
        assert (await _post(server, _body("photo_caption.json"))).status_code == 200
        [message] = await _messages(sessions, "512345678:102")
        async with sessions() as session:
            [file] = (await session.execute(select(Attachment).where(Attachment.message_id == message.id))).scalars()
        assert message.text == "Kutu ezik geldi, iade etmek istiyorum"
        assert (file.filename, file.sha256) == ("photo-AQADxbwxG9Y2cFB9.jpg", None)
        assert file.source_url == "AgACAgQAAxkBAAIBZmeHk1x0FAKE_large_AAQ_S2p0cF9yZGJ5AAMCAAN4AAM2BA"

    async def test_an_edit_shows_in_the_thread_with_the_original_kept(self, server: str, sessions) -> None:
        await _post(server, _body("text.json"))
        assert (await _post(server, _body("edited_message.json"))).status_code == 200
        [message] = await _messages(sessions, "512345678:101")
        assert message.text.endswith("Adres değişikliği de yapmak istiyorum.")
        assert message.original_text == "Merhaba, 1002 numaralı siparişim ne durumda?"
        agent = await signed_in(server, sessions, Role.agent)
        try:
            page = (await agent.get(f"/inbox/threads/{message.thread_id}")).text
        finally:
            await agent.aclose()
        assert "Adres değişikliği de yapmak istiyorum." in page
        assert 'class="edited"' in page and "Merhaba, 1002 numaralı siparişim ne durumda?</span>" in page

    async def test_not_configured_answers_404(self, app_settings, sessions, monkeypatch) -> None:
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
        app = create_app(app_settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inbox") as client:
            response = await client.post("/webhooks/telegram", content=_body("text.json"), headers=SIGNED)
        assert response.status_code == 404


async def _whatsapp_hello(server: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server}/webhooks/twilio/whatsapp",
                                     content=(WHATSAPP_FIXTURES / "inbound_text.form").read_bytes(),
                                     headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
    assert response.status_code == 200


async def _thread_channels(sessions: async_sessionmaker[AsyncSession]) -> dict[int, list[str]]:
    """Each thread that has customer messages → the channels of those messages, oldest first."""
    async with sessions() as session:
        rows = (await session.execute(select(Message.thread_id, Message.channel)
                                      .where(Message.direction == "inbound").order_by(Message.id))).all()
    found: dict[int, list[str]] = {}
    for thread_id, channel in rows:
        found.setdefault(thread_id, []).append(channel)
    return found


class TestOneCustomerAcrossChannels:
    async def test_a_whatsapp_message_and_a_telegram_contact_share_end_in_one_thread(
            self, server: str, sessions) -> None:
        await _whatsapp_hello(server)
        await _post(server, _body("text.json"))
        assert len(await _thread_channels(sessions)) == 2  # strangers until the number is shared
        assert (await _post(server, _body("contact__own.json"))).status_code == 200
        later = json.loads(_body("text.json"))
        later["update_id"], later["message"]["message_id"], later["message"]["text"] = 804312099, 150, "Tamam"
        await _post(server, json.dumps(later).encode())
        threads = await _thread_channels(sessions)
        assert list(threads.values()) == [["whatsapp", "telegram", "telegram", "telegram"]]

    async def test_someone_elses_contact_joins_no_one(self, server: str, sessions) -> None:
        await _whatsapp_hello(server)
        await _post(server, _body("contact__someone_else.json"))
        assert len(await _thread_channels(sessions)) == 2

    async def test_a_signed_link_joins_the_chat_to_the_customers_existing_thread(
            self, server: str, sessions) -> None:
        await _whatsapp_hello(server)
        async with sessions() as session:
            assert (await session.execute(select(Customer.id))).scalar_one() == 1  # whom the fixture is signed for
        assert (await _post(server, _body("start__signed.json"))).status_code == 200
        await _post(server, _body("text.json"))
        threads = await _thread_channels(sessions)
        assert list(threads.values()) == [["whatsapp", "telegram"]]
        async with sessions() as session:
            thread = (await session.execute(select(Thread).where(Thread.customer_id == 1))).scalar_one()
            lines = (await session.execute(select(Message.text).where(Message.thread_id == thread.id,
                                                                      Message.direction == "event"))).scalars().all()
        assert "telegram chat of Ayşe Yılmaz linked to this customer by the shop's link" in lines

    async def test_a_tampered_link_is_an_ordinary_message_in_a_thread_of_its_own(
            self, server: str, sessions) -> None:
        await _whatsapp_hello(server)
        update = json.loads(_body("start__signed.json"))
        text = update["message"]["text"]
        update["message"]["text"] = text[:-1] + ("A" if text[-1] != "A" else "B")
        assert (await _post(server, json.dumps(update).encode())).status_code == 200
        threads = await _thread_channels(sessions)
        assert sorted(threads.values()) == [["telegram"], ["whatsapp"]]
        [stored] = await _messages(sessions, "512345678:99")
        assert stored.text == update["message"]["text"]

    async def test_an_unsigned_start_payload_is_an_ordinary_message(self, server: str, sessions) -> None:
        assert (await _post(server, _body("start__unsigned.json"))).status_code == 200
        [stored] = await _messages(sessions, "512345678:100")
        assert (stored.direction, stored.text) == ("inbound", "/start order_1002")


@pytest.fixture
async def bot_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramFake]:
    """The fake Bot API, in the environment before the app under test starts (request it before `server`)."""
    async with running() as fake:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
        yield fake


async def _until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 (the server and its worker give no event to wait on)
            await asyncio.sleep(0.05)


async def _reply(api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], customer_id: int,
                 text: str) -> Message:
    """An agent's reply through the API, once the delivery worker is done with it."""
    queued = await api.post(f"/api/v1/customers/{customer_id}/messages", json={"channel": "telegram", "text": text})
    assert queued.status_code == 201, queued.text

    async def settled() -> bool:
        async with sessions() as session:
            status = (await session.execute(select(Message.delivery_status)
                                            .where(Message.id == queued.json()["id"]))).scalar_one()
        return status in ("sent", "failed")

    await _until(settled)
    async with sessions() as session:
        message = await session.get(Message, queued.json()["id"])
    assert message is not None
    return message


class TestThroughTheBotApi:
    async def test_a_button_tap_is_stored_and_answered_after_the_200(self, bot_api, server: str, sessions) -> None:
        response = await _post(server, _body("callback_query.json"))
        assert (response.status_code, response.content) == (200, b"")
        [stored] = await _messages(sessions, "512345678:callback:2201456789012345678")
        assert stored.text == "⭐⭐⭐⭐⭐ 5" and stored.extra["button"]["payload"] == "csat:5"

        async def answered() -> bool:
            return bool(bot_api.called("answerCallbackQuery"))

        await _until(answered)
        assert bot_api.called("answerCallbackQuery")[0].params["callback_query_id"] == "2201456789012345678"

    async def test_an_agents_reply_reaches_the_chat_and_a_blocked_bot_says_so(
            self, bot_api, server: str, sessions, api) -> None:
        await _post(server, _body("text.json"))
        [inbound] = await _messages(sessions, "512345678:101")
        async with sessions() as session:
            customer_id = (await session.execute(select(Thread.customer_id)
                                                 .where(Thread.id == inbound.thread_id))).scalar_one()
        first = await _reply(api, sessions, customer_id, "Kargonuz yolda")
        # One at a time: which answer goes to which reply must not depend on the worker's order.
        bot_api.enqueue("sendMessage", "blocked")
        second = await _reply(api, sessions, customer_id, "Ulaştı mı?")
        assert (first.delivery_status, first.provider_id) == ("sent", "512345678:500")
        assert second.delivery_status == "failed" and (second.error or "").startswith("The customer blocked the bot")
        assert [(c.params["chat_id"], c.params["text"]) for c in bot_api.called("sendMessage")] == [
            ("512345678", "Kargonuz yolda"), ("512345678", "Ulaştı mı?")]
