import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import BadPayload, BadSignature, CheckFailed, FetchFailed, RawRequest, RawResponse
from adapters.telegram import Adapter, updates
from adapters.telegram.adapter import WEBHOOK_PATH
from adapters.telegram.settings import TelegramSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    ContactShared,
    InboundMessage,
    IncomingFile,
    LinkOpened,
    MessageEdited,
    OutboundMessage,
    OutgoingFile,
    Party,
    SendFailed,
)
from tests.adapters.conftest import load_fixture
from tests.fakes.telegram_api import TOKEN, TelegramFake, running

SECRET = "tg-webhook-secret_ABC123"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AYSE = Party("512345678", AddressKind.handle, True, "Ayşe Yılmaz")


def settings(base_url: str = "http://127.0.0.1:9", **overrides: object) -> TelegramSettings:
    values: dict[str, object] = {"bot_token": TOKEN, "webhook_secret": SECRET, "api_base_url": base_url,
                                 "public_base_url": "https://inbox.example.com"}
    values.update(overrides)
    return TelegramSettings(**values)  # type: ignore[arg-type]


def update(name: str, *, secret: str | None = SECRET) -> RawRequest:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return load_fixture("telegram", name, path=WEBHOOK_PATH, headers=headers)


def handled(name: str) -> tuple[list[object], RawResponse]:
    """What the webhook route does with a fixture: verify, parse, acknowledge."""
    adapter = Adapter(settings())
    raw = update(name)
    adapter.verify(raw)
    return list(adapter.parse(raw)), adapter.acknowledge(raw)


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


EMPTY = RawResponse(200, "", "text/plain")


class TestParseMessages:
    def test_text_is_a_message_from_the_chat(self) -> None:
        events, ack = handled("text.json")
        assert events == [InboundMessage(channel=Channel.telegram, provider_id="512345678:101", sender=AYSE,
                                         text="Merhaba, 1002 numaralı siparişim ne durumda?",
                                         provider_at=at(1768469412))]
        assert ack == EMPTY

    def test_photo_keeps_its_caption_and_refers_to_the_largest_size(self) -> None:
        events, _ = handled("photo_caption.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:102", sender=AYSE,
            text="Kutu ezik geldi, iade etmek istiyorum", provider_at=at(1768469500),
            files=(IncomingFile("photo-AQADxbwxG9Y2cFB9.jpg", "image/jpeg",
                                url="AgACAgQAAxkBAAIBZmeHk1x0FAKE_large_AAQ_S2p0cF9yZGJ5AAMCAAN4AAM2BA"),))]

    def test_document_keeps_its_name_type_and_caption(self) -> None:
        events, _ = handled("document.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:103", sender=AYSE, text="Faturam ekte",
            provider_at=at(1768469560),
            files=(IncomingFile("fatura-1002.pdf", "application/pdf",
                                url="BQACAgQAAxkBAAIBZ2eHk8aFAKEdocAAQ_fatura_1002_AAMCAAQ"),))]

    def test_voice_note_is_an_ogg_file_without_text(self) -> None:
        events, _ = handled("voice.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:105", sender=AYSE, provider_at=at(1768469700),
            files=(IncomingFile("voice-AgADvoiceAAvY2.ogg", "audio/ogg", url="AwACAgQAAxkBAAIBaGeHlFAKE_voice_AAQ"),))]

    def test_audio_keeps_its_file_name(self) -> None:
        events, _ = handled("audio.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:106", sender=AYSE, text="Kuryenin bıraktığı not",
            provider_at=at(1768469720),
            files=(IncomingFile("kargo-notu.mp3", "audio/mpeg", url="CQACAgQAAxkBAAIBaWeHlFAKE_audio_AAQ"),))]

    def test_video_keeps_its_file_name_and_caption(self) -> None:
        events, _ = handled("video.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:107", sender=AYSE, text="Kutu böyle geldi",
            provider_at=at(1768469740),
            files=(IncomingFile("ezik-kutu.mp4", "video/mp4", url="BAACAgQAAxkBAAIBameHlFAKE_video_AAQ"),))]

    def test_edit_names_the_original_message_and_carries_the_new_text(self) -> None:
        events, ack = handled("edited_message.json")
        assert events == [MessageEdited(
            channel=Channel.telegram, provider_id="512345678:101",
            text="Merhaba, 1002 numaralı siparişim ne durumda? Adres değişikliği de yapmak istiyorum.",
            edited_at=at(1768469620))]
        assert ack == EMPTY

    def test_a_button_tap_is_a_message_with_the_buttons_label(self) -> None:
        events, _ = handled("callback_query.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:callback:2201456789012345678", sender=AYSE,
            text="⭐⭐⭐⭐⭐ 5", reply_to=("512345678:110",),
            extra={"button": {"text": "⭐⭐⭐⭐⭐ 5", "payload": "csat:5"}})]


class TestParseContactsAndLinks:
    def test_own_contact_shares_a_verified_phone_in_e164(self) -> None:
        events, _ = handled("contact__own.json")
        assert events == [ContactShared(channel=Channel.telegram, provider_id="512345678:104", sender=AYSE,
                                        shared=Party("+905321234567", AddressKind.phone, True, "Ayşe Yılmaz"))]

    def test_someone_elses_contact_is_only_a_claim_in_the_message(self) -> None:
        events, _ = handled("contact__someone_else.json")
        assert events == [InboundMessage(
            channel=Channel.telegram, provider_id="512345678:108", sender=AYSE,
            text="shared a contact: Mehmet Kaya +905559876543", provider_at=at(1768469760),
            extra={"contact": {"name": "Mehmet Kaya", "phone": "+905559876543", "user_id": 611223344,
                               "verified": False}})]

    def test_start_with_a_payload_asks_ingest_to_check_the_link(self) -> None:
        events, _ = handled("start__unsigned.json")
        assert events == [LinkOpened(channel=Channel.telegram, provider_id="512345678:100", sender=AYSE,
                                     payload="order_1002", text="/start order_1002", provider_at=at(1768469400))]

    def test_signed_start_payload_is_passed_on_unchanged(self) -> None:
        events, _ = handled("start__signed.json")
        assert len(events) == 1 and isinstance(events[0], LinkOpened)
        assert events[0].payload == events[0].text.removeprefix("/start ")
        assert events[0].provider_id == "512345678:99"


class TestParseIgnoredAndBad:
    def test_group_messages_are_acknowledged_and_ignored(self) -> None:
        assert handled("group_message.json") == ([], EMPTY)

    def test_update_kinds_we_do_not_handle_are_acknowledged_and_ignored(self) -> None:
        assert handled("my_chat_member__unhandled.json") == ([], EMPTY)

    def test_message_without_a_chat_is_a_bad_payload(self) -> None:
        with pytest.raises(BadPayload, match="chat"):
            Adapter(settings()).parse(update("malformed__no_chat.json"))

    @pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"message": {}}', b'{"update_id": 1, "message": "x"}',
                                      b'{"update_id": 1, "callback_query": {"id": "1"}}', b"\xff\xfe"])
    def test_anything_else_malformed_is_a_bad_payload_never_a_crash(self, body: bytes) -> None:
        with pytest.raises(BadPayload):
            Adapter(settings()).parse(RawRequest("POST", WEBHOOK_PATH, {}, body=body))


class TestVerify:
    def test_the_secret_telegram_was_given_passes(self) -> None:
        Adapter(settings()).verify(update("text.json"))

    def test_a_wrong_secret_is_refused(self) -> None:
        with pytest.raises(BadSignature, match="does not match"):
            Adapter(settings()).verify(update("text.json", secret="tg-webhook-secret_ABC124"))

    def test_a_missing_header_is_refused(self) -> None:
        with pytest.raises(BadSignature, match="missing"):
            Adapter(settings()).verify(update("text.json", secret=None))

    def test_without_a_configured_secret_nothing_passes(self) -> None:
        adapter = Adapter(settings(webhook_secret=""))
        assert not adapter.configured
        with pytest.raises(BadSignature):
            adapter.verify(update("text.json", secret=""))


def outbound(text: str = "Kargonuz yola çıktı 🚚", *, files: tuple[OutgoingFile, ...] = ()) -> OutboundMessage:
    return OutboundMessage(message_id=1, channel=Channel.telegram, to="512345678", text=text, files=files)


@pytest.fixture
async def fake() -> object:
    async with running() as served:
        yield served


@pytest.fixture
async def adapter(fake: TelegramFake) -> object:
    made = Adapter(settings(fake.base_url, timeout_seconds=2))
    yield made
    await made.aclose()


class TestSend:
    async def test_text_goes_out_with_send_message_and_names_the_sent_message(self, fake, adapter) -> None:
        result = await adapter.send(outbound())
        assert result.provider_id == "512345678:500"
        [call] = fake.calls
        assert (call.method, call.params["chat_id"], call.params["text"]) == (
            "sendMessage", "512345678", "Kargonuz yola çıktı 🚚")
        assert call.authorized

    async def test_many_sends_never_ask_get_me(self, fake, adapter) -> None:
        for _ in range(3):
            await adapter.send(outbound())
        assert [call.method for call in fake.calls] == ["sendMessage"] * 3

    async def test_a_photo_goes_with_the_text_as_caption(self, fake, adapter, tmp_path: Path) -> None:
        picture = tmp_path / "kutu.jpg"
        picture.write_bytes(b"\xff\xd8\xff fake jpeg")
        result = await adapter.send(outbound("Etiket bu", files=(OutgoingFile("kutu.jpg", "image/jpeg", str(picture),
                                                                               picture.stat().st_size),)))
        [call] = fake.calls
        assert call.method == "sendPhoto" and call.params["caption"] == "Etiket bu"
        assert call.uploads["photo"] == ("kutu.jpg", b"\xff\xd8\xff fake jpeg")
        assert result.provider_id == "512345678:500"

    async def test_a_pdf_goes_as_a_document(self, fake, adapter, tmp_path: Path) -> None:
        pdf = tmp_path / "iade.pdf"
        pdf.write_bytes(b"%PDF-1.4 fake")
        await adapter.send(outbound("İade formu", files=(OutgoingFile("iade.pdf", "application/pdf", str(pdf), 13),)))
        [call] = fake.calls
        assert call.method == "sendDocument" and call.uploads["document"] == ("iade.pdf", b"%PDF-1.4 fake")

    async def test_a_long_text_goes_first_and_a_later_failure_is_not_retried(self, fake, adapter, tmp_path) -> None:
        pdf = tmp_path / "iade.pdf"
        pdf.write_bytes(b"%PDF-1.4 fake")
        fake.enqueue("sendDocument", "server_error")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound("a" * 1500, files=(OutgoingFile("iade.pdf", "application/pdf", str(pdf), 13),)))
        assert [call.method for call in fake.calls] == ["sendMessage", "sendDocument"]
        assert not failed.value.transient and failed.value.reason.endswith("(1 of 2 parts were sent)")

    async def test_a_file_over_telegrams_50_mb_is_refused_before_calling(self, fake, adapter, tmp_path) -> None:
        video = tmp_path / "video.mp4"
        video.write_bytes(b"x")
        with pytest.raises(SendFailed, match=r"up to 50\.0 MB: video\.mp4 is larger") as failed:
            await adapter.send(outbound(files=(OutgoingFile("video.mp4", "video/mp4", str(video), 60 * 1024 * 1024),)))
        assert not failed.value.transient and fake.calls == []

    async def test_a_blocked_bot_is_a_permanent_failure_that_says_so(self, fake, adapter) -> None:
        fake.enqueue("sendMessage", "blocked")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound())
        assert not failed.value.transient
        assert failed.value.reason.startswith("The customer blocked the bot")

    async def test_flood_control_is_retried_after_telegrams_delay(self, fake, adapter) -> None:
        fake.enqueue("sendMessage", "flood")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound())
        assert failed.value.transient and failed.value.retry_after == 7

    async def test_an_unknown_chat_is_permanent_with_telegrams_words(self, fake, adapter) -> None:
        fake.enqueue("sendMessage", "chat_not_found")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound())
        assert not failed.value.transient and failed.value.reason == "Telegram: Chat not found"

    async def test_a_telegram_server_error_is_retried(self, fake, adapter) -> None:
        fake.enqueue("sendMessage", "server_error")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound())
        assert failed.value.transient

    async def test_no_answer_in_time_may_have_sent_so_it_is_not_retried(self, fake, adapter) -> None:
        fake.enqueue("sendMessage", "hang")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(outbound())
        assert not failed.value.transient and "may or may not have been sent" in failed.value.reason
        assert len(fake.called("sendMessage")) == 1

    async def test_an_unreachable_telegram_sent_nothing_so_it_is_retried(self) -> None:
        adapter = Adapter(settings("http://127.0.0.1:9", timeout_seconds=2))
        try:
            with pytest.raises(SendFailed) as failed:
                await adapter.send(outbound())
        finally:
            await adapter.aclose()
        assert failed.value.transient
        assert TOKEN not in failed.value.reason and TOKEN.split(":")[1] not in str(failed.value.__cause__ or "")

    async def test_too_long_a_text_is_refused_before_calling_telegram(self, fake, adapter) -> None:
        with pytest.raises(SendFailed, match="at most 4096 characters") as failed:
            await adapter.send(outbound("a" * 4097))
        assert not failed.value.transient and fake.calls == []

    async def test_the_token_never_reaches_the_log(self, fake, adapter, caplog: pytest.LogCaptureFixture) -> None:
        fake.enqueue("sendMessage", "blocked")
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(SendFailed):
                await adapter.send(outbound())
            await adapter.send(outbound())
        assert any("sendMessage" in record.getMessage() for record in caplog.records)
        assert not [record.getMessage() for record in caplog.records if TOKEN in record.getMessage()]


class TestFetchMedia:
    async def test_the_file_is_downloaded_through_get_file(self, fake, adapter) -> None:
        fake.add_file("BQAC-fatura", b"%PDF-1.4 fatura", path="documents/file_7.pdf")
        fetched = await adapter.fetch_media("BQAC-fatura", limit=1024)
        assert fetched.data == b"%PDF-1.4 fatura"
        assert fake.downloads == ["documents/file_7.pdf"]

    async def test_a_file_said_to_be_over_the_limit_is_refused_before_download(self, fake, adapter) -> None:
        fake.add_file("big", b"x" * 10, reported_size=30 * 1024 * 1024)
        with pytest.raises(FetchFailed, match=r"larger than 25\.0 MB") as failed:
            await adapter.fetch_media("big", limit=25 * 1024 * 1024)
        assert not failed.value.transient and fake.downloads == []

    async def test_a_download_that_outgrows_the_limit_is_cut_off(self, fake, adapter) -> None:
        fake.add_file("liar", b"x" * 5000, reported_size=100)
        with pytest.raises(FetchFailed, match="larger than") as failed:
            await adapter.fetch_media("liar", limit=1000)
        assert not failed.value.transient

    async def test_files_over_telegrams_20_mb_are_refused_for_good(self, fake, adapter) -> None:
        fake.add_file("huge", b"x")
        fake.enqueue("getFile", "file_too_big")
        with pytest.raises(FetchFailed, match="20 MB") as failed:
            await adapter.fetch_media("huge", limit=50 * 1024 * 1024)
        assert not failed.value.transient

    async def test_an_unknown_file_is_refused_for_good(self, fake, adapter) -> None:
        with pytest.raises(FetchFailed, match="Invalid file_id") as failed:
            await adapter.fetch_media("nope", limit=1024)
        assert not failed.value.transient

    async def test_a_telegram_outage_is_worth_another_try(self, fake, adapter) -> None:
        fake.add_file("later", b"x")
        fake.enqueue("getFile", "server_error")
        with pytest.raises(FetchFailed) as failed:
            await adapter.fetch_media("later", limit=1024)
        assert failed.value.transient
        assert (await adapter.fetch_media("later", limit=1024)).data == b"x"


class TestCheckAndButtons:
    async def test_check_names_the_bot(self, fake, adapter) -> None:
        assert await adapter.check() == "Bot @acme_destek_bot (7012345678)"

    async def test_check_with_a_wrong_token_says_so_without_showing_it(self, fake) -> None:
        adapter = Adapter(settings(fake.base_url, bot_token="123:wrong-token"))
        try:
            with pytest.raises(CheckFailed, match="refused TELEGRAM_BOT_TOKEN") as failed:
                await adapter.check()
        finally:
            await adapter.aclose()
        assert "wrong-token" not in str(failed.value)

    async def test_a_button_tap_is_answered_so_the_spinner_stops(self, fake, adapter) -> None:
        assert adapter.acknowledge(update("callback_query.json")) == EMPTY
        for _ in range(200):
            if fake.called("answerCallbackQuery"):
                break
            await asyncio.sleep(0.01)
        [call] = fake.called("answerCallbackQuery")
        assert call.params["callback_query_id"] == "2201456789012345678"

    async def test_other_updates_are_not_answered(self, fake, adapter) -> None:
        adapter.acknowledge(update("text.json"))
        await asyncio.sleep(0.1)
        assert fake.calls == []


def test_settings_read_the_documented_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:1", "PUBLIC_BASE_URL": "https://x.example"}.items():
        monkeypatch.setenv(name, value)
    adapter = Adapter()
    assert adapter.configured and adapter.webhook_url == "https://x.example/webhooks/telegram"
    assert adapter.settings.api_base_url == "http://127.0.0.1:1"


class TestPlainTextShortcut:
    """updates.parse reads plain text messages without PTB; what it makes must be what PTB's path makes."""

    @staticmethod
    def _both(body: bytes) -> tuple[object, object]:
        def through(parse: object) -> object:
            try:
                return parse()  # type: ignore[operator]
            except BadPayload:
                return BadPayload

        return (through(lambda: updates.parse(body)),
                through(lambda: updates.events(updates.read_update(body))))

    @pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda path: path.name)
    def test_every_recorded_update_parses_as_through_ptb(self, path: Path) -> None:
        if path.name.startswith("api_"):
            pytest.skip("a Bot API answer, not an update")
        shortcut, ptb = self._both(path.read_bytes())
        assert shortcut == ptb

    @pytest.mark.parametrize("change", [
        {"text": "/start 42-abc"}, {"text": "a\x00b"}, {"text": ""}, {"date": 10**20}, {"date": "1768469412"},
        {"date": True}, {"message_id": "101"}, {"entities": [{"type": "url", "offset": 0, "length": 3}]},
        {"entities": [{"type": "url"}]}, {"entities": "x"}, {"reply_to_message": None}, {"from": None},
        {"chat": {"id": 512345678, "type": "group", "title": "Ekip"}}, {"chat": {"id": "512345678", "type": "private"}},
        {"from": {"id": 1, "is_bot": True, "first_name": "Bot"}},
        {"from": {"id": 1, "is_bot": False, "first_name": ""}},
        {"from": {"id": 1, "is_bot": False, "first_name": "", "username": "ayse"}},
        {"from": {"id": 1, "is_bot": "no", "first_name": "Ayşe"}},
        {"from": {"id": 1, "is_bot": False, "first_name": "Ayşe", "is_premium": True, "added_to_attachment_menu": 1}},
        {"chat": {"id": 512345678, "type": "private", "is_bot": False, "first_name": "Ayşe", "photo": {"x": 1}}},
        {"chat": {"id": 512345678}}, {"from": {"is_bot": False, "first_name": "Ayşe"}},
    ], ids=repr)
    def test_a_text_message_changed_still_parses_as_through_ptb(self, change: dict[str, object]) -> None:
        data = json.loads((FIXTURES / "text.json").read_bytes())
        data["message"].update(change)
        shortcut, ptb = self._both(json.dumps(data).encode())
        assert shortcut == ptb
