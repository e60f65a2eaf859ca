"""Provider webhooks end to end: real HTTP into the real app, signed the way the provider signs."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents.models import Role
from inbox.channels import Channel
from inbox.db import transaction
from inbox.messages.models import Attachment, Message
from inbox.replies import queue_reply
from inbox.threads.models import Thread
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.fakes.twilio_api import TwilioFake, running
from tests.waiting import until
from tests.web.users import signed_in

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "whatsapp" / "fixtures"
# Signatures in ../shared/fixtures/payloads/README.md, made with this token over this URL.
TWILIO_ENV = {"TWILIO_ACCOUNT_SID": "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
              "TWILIO_AUTH_TOKEN": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
              "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100",
              "PUBLIC_BASE_URL": "https://inbox.example.com"}
INBOUND_TEXT_SIGNATURE = "xMk6xRC8XONrjo9pUlx18hTXW1I="
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PHOTO = b"\xff\xd8\xff\xe0" + b"ezik kutu" * 200


@pytest.fixture
def twilio_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TWILIO_ENV.items():
        monkeypatch.setenv(name, value)


async def _stored(sessions: async_sessionmaker[AsyncSession], provider_id: str) -> int:
    async with sessions() as session:
        return int((await session.execute(
            select(func.count()).select_from(Message).where(Message.provider_id == provider_id))).scalar_one())


def _inbound_text() -> bytes:
    return (FIXTURES / "inbound_text.form").read_bytes()


def _sid(body: bytes) -> str:
    return parse_qs(body.decode())["MessageSid"][0]


@pytest.mark.usefixtures("twilio_configured")
class TestSignedWebhook:
    async def test_message_is_committed_when_the_2xx_arrives(self, server: str, sessions) -> None:
        body = _inbound_text()
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{server}/webhooks/twilio/whatsapp", content=body,
                                         headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
        assert response.status_code == 200
        assert "<Response" in response.text and response.headers["content-type"].startswith("text/xml")
        # No waiting: the row is there the moment the provider hears 200.
        assert await _stored(sessions, _sid(body)) == 1

    async def test_provider_retry_is_stored_once(self, server: str, sessions) -> None:
        body = _inbound_text()
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                response = await client.post(f"{server}/webhooks/twilio/whatsapp", content=body,
                                             headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
                assert response.status_code == 200
        assert await _stored(sessions, _sid(body)) == 1

    async def test_wrong_signature_is_403_and_leaves_no_trace(self, server: str, sessions) -> None:
        body = _inbound_text()
        async with httpx.AsyncClient() as client:
            forged = await client.post(f"{server}/webhooks/twilio/whatsapp", content=body,
                                       headers={**FORM, "X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
            missing = await client.post(f"{server}/webhooks/twilio/whatsapp", content=body, headers=FORM)
        assert (forged.status_code, missing.status_code) == (403, 403)
        assert await _stored(sessions, _sid(body)) == 0

    async def test_oversized_body_is_413_before_it_is_read(self, server: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{server}/webhooks/twilio/whatsapp", content=b"a=" + b"x" * 2_000_000,
                                         headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
        assert response.status_code == 413


@pytest.fixture
def twilio_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TWILIO_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("twilio_unconfigured")
class TestUnconfiguredChannel:
    async def test_answers_404_and_stores_nothing(self, server: str, sessions) -> None:
        body = _inbound_text()
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{server}/webhooks/twilio/whatsapp", content=body,
                                         headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
        assert response.status_code == 404
        assert await _stored(sessions, _sid(body)) == 0


@pytest.fixture
async def twilio_with_media(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TwilioFake]:
    async with running(TwilioFake(media={"ME1": (PHOTO, "image/jpeg")})) as fake:
        for name, value in {**TWILIO_ENV, "TWILIO_API_BASE_URL": fake.base_url}.items():
            monkeypatch.setenv(name, value)
        yield fake


class TestInboundMedia:
    async def test_a_photo_is_answered_at_once_and_kept_right_after(self, twilio_with_media: TwilioFake, server: str,
                                                                    web_app, sessions) -> None:
        fields = parse_qs((FIXTURES / "inbound_image_caption.form").read_text(), keep_blank_values=True)
        fields["MediaUrl0"] = [twilio_with_media.media_url(fields["MessageSid"][0], "ME1")]
        path = "/webhooks/twilio/whatsapp"
        signature = twilio_signature(TWILIO_ENV["PUBLIC_BASE_URL"] + path, fields)
        async with httpx.AsyncClient() as client:
            response = await client.post(server + path, content=urlencode(fields, doseq=True),
                                         headers={**FORM, "X-Twilio-Signature": signature})
        assert response.status_code == 200
        # The app's own media worker fetches it after the answer, woken by the commit.
        # Read through the server's own engine: on SQLite a second one in this event loop would wait
        # for the write lock inline, holding up the very worker it waits for.
        async def kept_by_us() -> bool:
            return (await _attachment(web_app.state.sessions)).sha256 is not None

        await until(kept_by_us, within=5)
        kept = await _attachment(web_app.state.sessions)
        assert kept.size == len(PHOTO)
        agent = await signed_in(server, sessions, Role.agent)
        shown = await agent.get(f"/inbox/attachments/{kept.id}")
        await agent.aclose()
        assert shown.status_code == 200 and shown.content == PHOTO


async def _attachment(sessions: async_sessionmaker[AsyncSession]) -> Attachment:
    async with sessions() as session:
        return (await session.execute(select(Attachment))).scalar_one()


class TestStatusCallbacks:
    async def test_a_sent_reply_turns_delivered_then_read_and_a_63016_says_why(self, twilio_with_media: TwilioFake,
                                                                            server: str, web_app) -> None:
        async with httpx.AsyncClient() as client:
            wrote = await client.post(f"{server}/webhooks/twilio/whatsapp", content=_inbound_text(),
                                      headers={**FORM, "X-Twilio-Signature": INBOUND_TEXT_SIGNATURE})
            assert wrote.status_code == 200
            first, second = [await _reply_sent_through_twilio(web_app, text) for text in ("Kargoda", "Yarın")]
            for sid, status in ((first, "delivered"), (first, "read"), (second, "failed")):
                fields = {"MessageSid": [sid], "SmsSid": [sid], "MessageStatus": [status], "SmsStatus": [status],
                          "AccountSid": [TWILIO_ENV["TWILIO_ACCOUNT_SID"]], "ChannelPrefix": ["whatsapp"],
                          "From": ["whatsapp:+14155550100"], "To": ["whatsapp:+905321234567"]}
                if status == "failed":
                    fields["ErrorCode"] = ["63016"]
                path = "/webhooks/twilio/status"
                answered = await client.post(server + path, content=urlencode(fields, doseq=True), headers={
                    **FORM, "X-Twilio-Signature": twilio_signature(TWILIO_ENV["PUBLIC_BASE_URL"] + path, fields)})
                assert answered.status_code == 200
                if status == "delivered":
                    assert (await _reply(web_app, sid)).delivery_status == "delivered"
        read, failed = await _reply(web_app, first), await _reply(web_app, second)
        assert read.delivery_status == "read"
        assert failed.delivery_status == "failed"
        assert failed.error == "63016: Outside the 24-hour WhatsApp window: send an approved template"


async def _reply_sent_through_twilio(web_app, text: str) -> str:
    """An agent's reply, queued and sent by the app's own delivery worker to the fake; its sid."""
    sessions = web_app.state.sessions
    async with sessions() as session:
        thread_id = (await session.execute(select(Message.thread_id))).scalars().first()
        thread = await session.get(Thread, thread_id)
    assert thread is not None
    async with transaction(sessions) as session:
        reply = await queue_reply(session, customer_id=thread.customer_id, channel=Channel.whatsapp, text=text)

    async def sent() -> bool:
        return (await _reply_by_id(web_app, reply.id or 0)).delivery_status == "sent"

    await until(sent, within=10)
    return (await _reply_by_id(web_app, reply.id or 0)).provider_id or ""


async def _reply_by_id(web_app, message_id: int) -> Message:
    async with web_app.state.sessions() as session:
        found = await session.get(Message, message_id)
    assert found is not None
    return found


async def _reply(web_app, sid: str) -> Message:
    async with web_app.state.sessions() as session:
        return (await session.execute(select(Message).where(Message.provider_id == sid))).scalar_one()
