"""Twilio Voice end to end: a signed call into the real app lands in the caller's WhatsApp thread, and a
voicemail's recording is fetched from Twilio after the answer."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from inbox.messages.models import Attachment, Message
from inbox.threads import service as threads
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.fakes.twilio_api import TwilioFake, running
from tests.ui.steps import customer_writes
from tests.waiting import until
from tests.web.test_webhooks import FORM, TWILIO_ENV

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "phone" / "fixtures"
VOICE = "/webhooks/twilio/voice"
# As ../shared/fixtures/payloads/README.md gives it for voice_01_incoming_call.form.
INCOMING_SIGNATURE = "6LRPKAkjZFGFhXdeeJ28bHnaORs="
RECORDING = "RE3c2b1a09f8e7d6c5b4a3928170f6e5d4"


@pytest.fixture
async def twilio(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TwilioFake]:
    async with running(TwilioFake(recordings={RECORDING: b"ID3\x04 voicemail"})) as fake:
        for name, value in {**TWILIO_ENV, "TWILIO_API_BASE_URL": fake.base_url}.items():
            monkeypatch.setenv(name, value)
        yield fake


async def _messages(sessions, thread_id: int) -> list[Message]:
    async with sessions() as reader:
        found = await reader.execute(select(Message).where(
            col(Message.thread_id) == thread_id, col(Message.direction) != "event").order_by(col(Message.id)))
        return list(found.scalars())


class TestVoice:
    async def test_a_call_lands_in_the_callers_whatsapp_thread_and_hears_the_voicemail_prompt(
            self, twilio: TwilioFake, server, sessions, ingest_config) -> None:
        customer_id = await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Ayşe Yılmaz", "Merhaba")
        async with httpx.AsyncClient() as client:
            answer = await client.post(server + VOICE, content=(FIXTURES / "incoming_call.form").read_bytes(),
                                       headers={**FORM, "X-Twilio-Signature": INCOMING_SIGNATURE})
            forged = await client.post(server + VOICE, content=(FIXTURES / "incoming_call.form").read_bytes(),
                                       headers={**FORM, "X-Twilio-Signature": "A" * 28})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
        assert "<Record" in answer.text and forged.status_code == 403
        async with sessions() as reader:
            thread_id = (await threads.for_customer(reader, customer_id)).id or 0
        assert [(m.direction, m.channel, m.text) for m in await _messages(sessions, thread_id)] == [
            ("inbound", "whatsapp", "Merhaba"), ("inbound", "phone", "Incoming call from +905321234567")]

    async def test_a_voicemail_is_kept_with_its_recording(self, twilio: TwilioFake, server, web_app, sessions,
                                                          ingest_config) -> None:
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Ayşe Yılmaz", "Merhaba")
        fields = parse_qs((FIXTURES / "recording__completed.form").read_text(), keep_blank_values=True)
        fields["RecordingUrl"] = [twilio.recording_url(RECORDING)]
        query = urlencode({"step": "recording", "caller": "+905321234567"})
        url = f"{TWILIO_ENV['PUBLIC_BASE_URL']}{VOICE}?{query}"
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{server}{VOICE}?{query}", content=urlencode(fields, doseq=True),
                                       headers={**FORM, "X-Twilio-Signature": twilio_signature(url, fields)})
        assert answer.status_code == 200

        async def fetched() -> bool:
            async with web_app.state.sessions() as reader:
                return (await reader.execute(select(Attachment))).scalar_one().sha256 is not None

        await until(fetched, within=10)
        async with sessions() as reader:
            voicemail = (await reader.execute(
                select(Message).where(col(Message.provider_id) == RECORDING))).scalar_one()
            attachment = (await reader.execute(select(Attachment))).scalar_one()
        assert (voicemail.text, voicemail.extra["call"]["seconds"]) == ("Voicemail (23 s)", 23)
        assert (attachment.content_type, attachment.size) == ("audio/mpeg", len(b"ID3\x04 voicemail"))
