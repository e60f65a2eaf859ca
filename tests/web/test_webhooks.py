"""Provider webhooks end to end: real HTTP into the real app, signed the way the provider signs."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.messages.models import Message

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "whatsapp" / "fixtures"
# Signatures in ../shared/fixtures/payloads/README.md, made with this token over this URL.
TWILIO_ENV = {"TWILIO_ACCOUNT_SID": "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
              "TWILIO_AUTH_TOKEN": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
              "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100",
              "PUBLIC_BASE_URL": "https://inbox.example.com"}
INBOUND_TEXT_SIGNATURE = "xMk6xRC8XONrjo9pUlx18hTXW1I="
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


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
    from urllib.parse import parse_qs

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
