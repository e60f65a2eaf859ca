"""The media worker against a loopback Twilio: files arrive as references and end in our store."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.whatsapp import Adapter
from adapters.whatsapp.settings import WhatsAppSettings
from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, IncomingFile, Party
from inbox.files import FileStore
from inbox.ingest import IngestConfig, ingest
from inbox.media import FetchPolicy, fetch_due
from inbox.messages.models import Attachment, Message
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running

AYSE = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
PHOTO = b"\xff\xd8\xff\xe0" + b"kargo etiketi" * 100
NO_WAIT = FetchPolicy(base_delay=0.0, cap=0.0)


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    async with running(TwilioFake(media={"ME1": (PHOTO, "image/jpeg")})) as fake:
        yield fake


@pytest.fixture
async def adapter(twilio: TwilioFake) -> AsyncIterator[Adapter]:
    whatsapp = Adapter(WhatsAppSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,  # type: ignore[arg-type]
                                        whatsapp_from="whatsapp:+14155550100", api_base_url=twilio.base_url))
    yield whatsapp
    await whatsapp.aclose()


async def _photo_message(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, url: str) -> int:
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(
            Channel.whatsapp, "SM1", AYSE, text="etiket bu mu?",
            files=(IncomingFile("ME1.jpg", "application/octet-stream", url=url),)), config=config)
    return result.message_id or 0


async def _attachment(sessions: async_sessionmaker[AsyncSession]) -> Attachment:
    # A session per read: SQLite's one connection must be free again for the worker's writes.
    async with sessions() as session:
        return (await session.execute(select(Attachment))).scalar_one()


async def _event_lines(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(
            select(Message.text).where(Message.direction == "event").order_by(Message.id))).scalars())


async def test_a_photo_is_fetched_with_the_account_and_kept(sessions, ingest_config, file_store: FileStore,
                                                           twilio: TwilioFake, adapter: Adapter) -> None:
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME1"))
    assert (await _attachment(sessions)).sha256 is None

    assert await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store) == 1

    kept = await _attachment(sessions)
    assert kept.sha256 is not None and file_store.read(kept.sha256) == PHOTO
    assert (kept.size, kept.content_type) == (len(PHOTO), "image/jpeg")
    # Twilio's redirect leaves for its CDN: the account's credentials must not follow it.
    assert twilio.cdn_requests == [("/cdn/ME1", False)]


async def test_a_file_over_the_limit_is_refused_with_a_line_in_the_thread(sessions, ingest_config,
                                                                          twilio: TwilioFake, adapter: Adapter,
                                                                          tmp_path) -> None:
    small = FileStore(tmp_path / "small", max_bytes=100)
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME1"))

    await fetch_due(sessions, {Channel.whatsapp: adapter}, small)

    refused = await _attachment(sessions)
    assert refused.sha256 is None and "larger than" in (refused.fetch_error or "")
    assert any("ME1.jpg could not be kept: larger than" in line for line in await _event_lines(sessions))
    # Given up on: never fetched again.
    assert await fetch_due(sessions, {Channel.whatsapp: adapter}, small) == 0


async def test_a_server_error_is_tried_again_later(sessions, ingest_config, file_store,
                                                   twilio: TwilioFake, adapter: Adapter) -> None:
    twilio.media_failures.append(503)
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME1"))

    await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store, policy=NO_WAIT)
    waiting = await _attachment(sessions)
    assert waiting.sha256 is None and waiting.fetch_error is None and waiting.fetch_attempts == 1

    await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store, policy=NO_WAIT)
    assert (await _attachment(sessions)).sha256 is not None
    assert await _event_lines(sessions) == ["case opened"]


async def test_a_deleted_file_is_given_up_at_once(sessions, ingest_config, file_store,
                                                  twilio: TwilioFake, adapter: Adapter) -> None:
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME404"))

    await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store, policy=NO_WAIT)

    gone = await _attachment(sessions)
    assert gone.sha256 is None
    assert gone.fetch_error == "Twilio answered HTTP 404: the link has expired or the file was removed"


async def test_a_url_off_twilio_gets_no_credentials(sessions, ingest_config, file_store,
                                                    twilio: TwilioFake, adapter: Adapter) -> None:
    await _photo_message(sessions, ingest_config, "http://169.254.169.254/latest/meta-data/")

    await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store)

    assert "not on Twilio" in ((await _attachment(sessions)).fetch_error or "")


async def test_two_workers_fetch_a_file_once(sessions, ingest_config, file_store,
                                             twilio: TwilioFake, adapter: Adapter) -> None:
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME1"))

    claimed = await asyncio.gather(*(fetch_due(sessions, {Channel.whatsapp: adapter}, file_store)
                                     for _ in range(2)))

    assert sorted(claimed) == [0, 1]
    assert len(twilio.cdn_requests) == 1


async def test_a_fetch_cut_off_by_a_crash_is_taken_up_after_its_lease(sessions, ingest_config, file_store,
                                                                      twilio: TwilioFake, adapter: Adapter) -> None:
    await _photo_message(sessions, ingest_config, twilio.media_url("SM1", "ME1"))
    async with transaction(sessions) as writing:
        # What a worker that died mid-download leaves: a claim whose lease still runs.
        await writing.execute(update(Attachment).values(fetch_attempts=1, fetch_after=utcnow() + timedelta(minutes=1)))
    assert await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store) == 0

    async with transaction(sessions) as writing:
        await writing.execute(update(Attachment).values(fetch_after=utcnow() - timedelta(seconds=1)))
    assert await fetch_due(sessions, {Channel.whatsapp: adapter}, file_store) == 1
    assert (await _attachment(sessions)).sha256 is not None
