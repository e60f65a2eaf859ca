import json
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.base import BadPayload, BadSignature, CheckFailed, FetchFailed, RawRequest, RawResponse
from adapters.messenger import Adapter
from adapters.messenger.adapter import PATH, signature
from adapters.messenger.settings import MessengerSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    DeliveryWatermark,
    Direction,
    InboundMessage,
    IncomingFile,
    OutboundMessage,
    OutgoingFile,
    Party,
    SendFailed,
)
from tests.adapters.conftest import fixture_path, load_fixture
from tests.fakes.graph_api import APP_ID, APP_SECRET, PAGE_ID, PAGE_TOKEN, VERIFY_TOKEN, GraphFake, running

AYSE = Party("7123456789012345", AddressKind.handle, True)
ECHO_OF_OURS = "m_Qk9hbmRvbUZha2VNaWQtMDAzLWVjaG8tYWdlbnQtcmVwbHktZnJvbS1hcHAtMjAyNg"


def settings(**overrides: object) -> MessengerSettings:
    values: dict[str, object] = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
                                 "page_access_token": PAGE_TOKEN, "graph_base_url": "http://127.0.0.1:9"}
    values.update(overrides)
    return MessengerSettings(**values)  # type: ignore[arg-type]


def signed(name: str, secret: str = APP_SECRET) -> RawRequest:
    raw = load_fixture("messenger", name, path=PATH)
    return replace(raw, headers={**raw.headers, "x-hub-signature-256": signature(secret, raw.body)})


def handled(name: str, **overrides: object) -> list[object]:
    """What the webhook route does with a fixture: verify, then parse."""
    adapter = Adapter(settings(**overrides))
    raw = signed(name)
    adapter.verify(raw)
    assert adapter.acknowledge(raw) == RawResponse(200, "EVENT_RECEIVED", "text/plain")
    return list(adapter.parse(raw))


def at(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def cdn(url: str) -> str:
    return url.replace("\\/", "/")


class TestParseMessages:
    def test_text(self) -> None:
        assert handled("text.json") == [InboundMessage(
            channel=Channel.messenger, sender=AYSE, provider_at=at(1768469412000),
            provider_id="m_Qk9hbmRvbUZha2VNaWQtMDAxLXRleHQtQXlzZVlpbG1hei1vcmRlcjEwMDItcXVlc3Rpb24tMjAyNg",
            text="Merhaba! 1002 numaralı siparişim nerede? Teşekkürler 🙏")]

    def test_image_points_at_the_cdn_file_to_fetch_later(self) -> None:
        [event] = handled("image.json")
        assert isinstance(event, InboundMessage) and event.text == ""
        assert event.files == (IncomingFile(
            "471234567_1234567890123456_987654321_n.jpg", "image/jpeg",
            url="https://scontent.xx.fbcdn.net/v/t1.15752-9/471234567_1234567890123456_987654321_n.jpg"
                "?_nc_cat=1&ccb=1-7&oh=00_AYfake&oe=679ABCDE"),)

    @pytest.mark.parametrize(("name", "filename", "content_type", "text"), [
        ("video.json", "472345678_1122334455667788_n.mp4", "video/mp4", ""),
        ("audio.json", "audioclip-1768470399000-4123.mp4", "audio/mp4", ""),
        ("file.json", "fatura-1002.pdf", "application/pdf", "Fatura ekte"),
    ])
    def test_video_audio_and_file_keep_their_names(self, name: str, filename: str, content_type: str,
                                                   text: str) -> None:
        [event] = handled(name)
        assert isinstance(event, InboundMessage) and event.text == text
        [file] = event.files
        assert (file.filename, file.content_type, file.data) == (filename, content_type, None)
        body = json.loads(fixture_path("messenger", name).read_bytes())
        assert file.url == body["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"]

    def test_quick_reply_is_the_tapped_text_with_its_payload(self) -> None:
        [event] = handled("quick_reply.json")
        assert isinstance(event, InboundMessage)
        assert (event.text, event.extra) == ("Kargo durumu", {"button": {"text": "Kargo durumu",
                                                                           "payload": "ORDER_STATUS:1002"}})

    def test_postback_is_the_button_title_with_its_payload(self) -> None:
        assert handled("postback.json") == [InboundMessage(
            channel=Channel.messenger, provider_id="m_Qk9hbmRvbUZha2VNaWQtMDA1LXBvc3RiYWNrLXRyYWNrLW9yZGVy",
            sender=AYSE, text="Siparişimi takip et", provider_at=at(1768470067000),
            extra={"button": {"text": "Siparişimi takip et", "payload": "TRACK_ORDER:1002"}})]

    def test_sticker_sent_as_image_and_sticker_is_one_file(self) -> None:
        [event] = handled("sticker.json")
        assert isinstance(event, InboundMessage)
        assert [(f.filename, f.content_type) for f in event.files] == [("851557_369239266556155_759568595_n.png",
                                                                         "image/png")]
        assert event.extra == {"stickers": ["369239263222822"]}

    def test_location_lands_in_extra(self) -> None:
        [event] = handled("location.json")
        assert isinstance(event, InboundMessage) and event.files == ()
        assert event.extra == {"location": {"latitude": 41.0421, "longitude": 29.0093, "label": "Ayşe's Location"}}

    def test_each_entry_of_a_batch_is_a_message(self) -> None:
        events = handled("batch.json")
        assert [(e.sender.address, e.text) for e in events if isinstance(e, InboundMessage)] == [
            ("7123456789012345", "Bir sorum var"), ("7987654321098765", "İade nasıl yapılır?")]


class TestParseEchoes:
    def test_echo_of_a_staff_reply_in_the_page_inbox_is_ours_in_the_customers_thread(self) -> None:
        assert handled("echo__page_inbox.json", app_id=APP_ID) == [InboundMessage(
            channel=Channel.messenger, provider_id="m_Qk9hbmRvbUZha2VNaWQtMDA0LWVjaG8tcGFnZS1pbmJveC1odW1hbi0yMDI2",
            sender=AYSE, text="Kargo takip numaranız: 1Z999AA10123456784", provider_at=at(1768470100000),
            direction=Direction.outbound)]

    def test_echo_of_our_own_send_is_dropped_by_app_id(self) -> None:
        assert handled("echo__ours.json", app_id=APP_ID) == []

    def test_echo_of_our_own_send_is_dropped_by_our_metadata_without_an_app_id(self) -> None:
        raw = signed("echo__ours.json")
        body = raw.body.replace(b'"outbox:msg_8842"', b'"onethread:8842"')
        adapter = Adapter(settings())
        assert adapter.parse(replace(raw, body=body)) == []
        # Without either mark it is imported, and the stored reply's provider id drops it in ingest.
        [event] = adapter.parse(raw)
        assert isinstance(event, InboundMessage) and event.provider_id == ECHO_OF_OURS


class TestParseReceipts:
    def test_delivery_names_its_messages_and_a_watermark(self) -> None:
        assert handled("delivery.json") == [
            DeliveryUpdate(Channel.messenger, ECHO_OF_OURS, DeliveryStatus.delivered),
            DeliveryWatermark(Channel.messenger, AYSE, DeliveryStatus.delivered, at(1768469711000))]

    def test_read_is_a_watermark(self) -> None:
        assert handled("read.json") == [
            DeliveryWatermark(Channel.messenger, AYSE, DeliveryStatus.read, at(1768469710000))]

    def test_unknown_event_kind_is_acknowledged_and_left_out(self) -> None:
        assert handled("unknown_event.json") == []

    def test_not_a_page_subscription_is_left_out(self) -> None:
        assert Adapter(settings()).parse(RawRequest("POST", PATH, {}, body=b'{"object":"instagram","entry":[]}')) == []


class TestParseBadInput:
    def test_message_without_mid_names_the_field(self) -> None:
        with pytest.raises(BadPayload, match=r"entry\[0\]\.messaging\[0\]\.message\.mid"):
            handled("malformed__no_mid.json")

    @pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[]", b'{"object":"page"}',
                                      b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{}}]}]}',
                                      b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},'
                                      b'"recipient":{"id":"2"},"message":{"mid":"m","attachments":'
                                      b'[{"type":"location","payload":{}}]}}]}]}',
                                      b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},'
                                      b'"recipient":{"id":"2"},"read":{"watermark":99999999999999999999}}]}]}'])
    def test_unreadable_body_is_a_bad_payload(self, body: bytes) -> None:
        with pytest.raises(BadPayload):
            Adapter(settings()).parse(RawRequest("POST", PATH, {}, body=body))


class TestVerify:
    def test_signature_recorded_from_meta_validates_over_the_raw_bytes(self) -> None:
        # Escaped slashes in the body: re-serialised JSON would not match (PROTOCOLS §3.2).
        raw = load_fixture("messenger", "image.json", path=PATH, headers={
            "X-Hub-Signature-256": "sha256=20bbcea8dc879ff7c79150bc8fb80a7f0cb07c897af96bb66a942cc9f49d4a67"})
        Adapter(settings()).verify(raw)
        reserialised = json.dumps(json.loads(raw.body), separators=(",", ":")).encode()
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(replace(raw, body=reserialised))

    def test_wrong_secret_is_refused(self) -> None:
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(signed("text.json", secret="another-secret"))

    def test_missing_signature_is_refused(self) -> None:
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(load_fixture("messenger", "text.json", path=PATH))

    def test_empty_secret_refuses_everything(self) -> None:
        with pytest.raises(BadSignature):
            Adapter(settings(app_secret="")).verify(signed("text.json", secret=""))


def _get(**query: str) -> RawRequest:
    return RawRequest("GET", PATH, {}, query=query)


class TestHandshake:
    def test_subscribe_with_our_token_answers_the_challenge(self) -> None:
        answer = Adapter(settings()).handshake(_get(**{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                                       "hub.challenge": "1158201444"}))
        assert answer == RawResponse(200, "1158201444", "text/plain")

    @pytest.mark.parametrize("query", [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ])
    def test_anything_else_is_403(self, query: dict[str, str]) -> None:
        assert Adapter(settings()).handshake(_get(**query)).status == 403


@pytest.fixture
async def graph() -> AsyncIterator[GraphFake]:
    async with running() as fake:
        yield fake


@pytest.fixture
async def adapter(graph: GraphFake) -> AsyncIterator[Adapter]:
    made = Adapter(settings(graph_base_url=graph.base_url))
    yield made
    await made.aclose()


REPLY = OutboundMessage(message_id=42, channel=Channel.messenger, to="7123456789012345",
                        text="Merhaba Ayşe Hanım, siparişiniz bugün kargoya verilecek.")


class TestSend:
    async def test_reply_inside_the_window_is_a_response(self, adapter: Adapter, graph: GraphFake) -> None:
        result = await adapter.send(REPLY)
        [request] = graph.requests
        assert request.authorized and request.path == "/v25.0/me/messages"
        assert request.body == {"recipient": {"id": "7123456789012345"}, "messaging_type": "RESPONSE",
                                "message": {"text": REPLY.text, "metadata": "onethread:42"}}
        assert result.provider_id == graph.sent[0] and result.status == DeliveryStatus.sent

    async def test_late_reply_carries_the_human_agent_tag(self, adapter: Adapter, graph: GraphFake) -> None:
        await adapter.send(replace(REPLY, extra={"tag": "HUMAN_AGENT"}))
        [request] = graph.requests
        assert (request.body["messaging_type"], request.body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")

    async def test_files_are_uploaded_after_the_text(self, adapter: Adapter, graph: GraphFake,
                                                     tmp_path: Path) -> None:
        photo = tmp_path / "photo"
        photo.write_bytes(b"\xff\xd8jpeg")
        result = await adapter.send(replace(REPLY, files=(OutgoingFile("kutu.jpg", "image/jpeg", str(photo), 6),)))
        text, upload = graph.requests
        assert "text" in text.body["message"] and result.provider_id == graph.sent[0]
        assert upload.authorized and upload.files == {"filedata": ("kutu.jpg", "image/jpeg", b"\xff\xd8jpeg")}
        assert upload.body["message"] == {"attachment": {"type": "image", "payload": {"is_reusable": False}},
                                          "metadata": "onethread:42"}
        assert upload.body["recipient"] == {"id": "7123456789012345"}

    async def test_outside_the_window_is_refused_with_the_reason(self, adapter: Adapter, graph: GraphFake) -> None:
        graph.enqueue("outside_window")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(REPLY)
        assert not failed.value.transient
        assert failed.value.reason.startswith(
            "Outside Messenger's 24-hour window (7 days with HUMAN_AGENT): (#10) This message is sent outside")

    @pytest.mark.parametrize(("answer", "reason"), [
        ("user_unavailable", "This person isn't available right now"),
        ("bad_token", "The Page access token is invalid or expired"),
    ])
    async def test_unreachable_person_and_bad_token_are_permanent(self, adapter: Adapter, graph: GraphFake,
                                                                  answer: str, reason: str) -> None:
        graph.enqueue(answer)  # type: ignore[arg-type]
        with pytest.raises(SendFailed) as failed:
            await adapter.send(REPLY)
        assert not failed.value.transient and failed.value.reason.startswith(reason)

    @pytest.mark.parametrize("answer", ["rate_limited", "server_error"])
    async def test_rate_limit_and_server_error_are_transient(self, adapter: Adapter, graph: GraphFake,
                                                             answer: str) -> None:
        graph.enqueue(answer)  # type: ignore[arg-type]
        with pytest.raises(SendFailed) as failed:
            await adapter.send(REPLY)
        assert failed.value.transient
        assert failed.value.reason.startswith(("Graph error 613: Calls to this api", "Graph error 2: An unexpected"))

    async def test_a_failed_file_after_the_text_is_not_retried(self, adapter: Adapter, graph: GraphFake,
                                                               tmp_path: Path) -> None:
        # A retry would send the text a second time.
        graph.enqueue("sent", "server_error")
        (tmp_path / "f").write_bytes(b"%PDF")
        invoice = OutgoingFile("a.pdf", "application/pdf", str(tmp_path / "f"), 4)
        with pytest.raises(SendFailed) as failed:
            await adapter.send(replace(REPLY, files=(invoice,)))
        assert not failed.value.transient and failed.value.reason.startswith("only part of the reply was sent (1 of 2")

    async def test_no_answer_in_time_is_left_to_an_agent_not_retried(self, graph: GraphFake) -> None:
        graph.enqueue("hang")
        impatient = Adapter(settings(graph_base_url=graph.base_url, timeout_seconds=0.2))
        try:
            with pytest.raises(SendFailed) as failed:
                await impatient.send(REPLY)
        finally:
            await impatient.aclose()
        assert not failed.value.transient and "may or may not have been sent" in failed.value.reason

    async def test_unreachable_graph_is_transient(self) -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        closed = Adapter(settings(graph_base_url=f"http://127.0.0.1:{port}"))
        try:
            with pytest.raises(SendFailed) as failed:
                await closed.send(REPLY)
        finally:
            await closed.aclose()
        assert failed.value.transient and failed.value.reason.startswith("Graph API unreachable")

    async def test_too_long_and_unconfigured_are_refused_without_calling_meta(self, graph: GraphFake) -> None:
        for adapter, message in ((Adapter(settings(graph_base_url=graph.base_url)), replace(REPLY, text="a" * 2001)),
                                 (Adapter(settings(graph_base_url=graph.base_url, page_access_token="")), REPLY)):
            with pytest.raises(SendFailed) as failed:
                await adapter.send(message)
            assert not failed.value.transient
        assert graph.requests == []


class TestCheck:
    async def test_names_the_page_the_token_opens(self, adapter: Adapter) -> None:
        assert await adapter.check() == f"Page 'Acme Mağaza' ({PAGE_ID})"

    async def test_a_wrong_token_says_so(self, graph: GraphFake) -> None:
        wrong = Adapter(settings(graph_base_url=graph.base_url, page_access_token="EAAwrong"))
        try:
            with pytest.raises(CheckFailed, match="access token is invalid or expired"):
                await wrong.check()
        finally:
            await wrong.aclose()


class TestSenderName:
    async def test_the_name_comes_from_the_profile_once(self, adapter: Adapter, graph: GraphFake) -> None:
        graph.profiles[AYSE.address] = {"first_name": "Ayşe", "last_name": "Yılmaz"}
        for _ in range(2):
            assert await adapter.sender_name(AYSE.address) == "Ayşe Yılmaz"
        assert graph.lookups == [AYSE.address]

    async def test_a_person_meta_does_not_know_is_none_and_not_asked_again_soon(self, adapter: Adapter,
                                                                               graph: GraphFake) -> None:
        for _ in range(2):
            assert await adapter.sender_name(AYSE.address) is None
        assert graph.lookups == [AYSE.address]

    async def test_unconfigured_asks_nobody(self, graph: GraphFake) -> None:
        unconfigured = Adapter(settings(graph_base_url=graph.base_url, page_access_token=""))
        assert await unconfigured.sender_name(AYSE.address) is None
        assert graph.lookups == []


class TestFetchMedia:
    async def test_file_from_the_graph_host_is_fetched(self, adapter: Adapter, graph: GraphFake) -> None:
        graph.media["box.jpg"] = (b"\xff\xd8" + b"x" * 100, "image/jpeg")
        fetched = await adapter.fetch_media(graph.media_url("moved-box.jpg"), limit=1000)
        assert (fetched.data, fetched.content_type) == (b"\xff\xd8" + b"x" * 100, "image/jpeg")

    async def test_larger_than_the_limit_is_refused_with_the_reason(self, adapter: Adapter, graph: GraphFake) -> None:
        graph.media["big.mp4"] = (b"x" * 3 * 1_048_576, "video/mp4")
        with pytest.raises(FetchFailed, match="larger than 2 MB") as failed:
            await adapter.fetch_media(graph.media_url("big.mp4"), limit=2 * 1_048_576)
        assert not failed.value.transient

    @pytest.mark.parametrize(("name", "transient"), [("expired", False), ("broken", True), ("elsewhere", False)])
    async def test_expired_broken_and_redirected_away(self, adapter: Adapter, graph: GraphFake, name: str,
                                                      transient: bool) -> None:
        with pytest.raises(FetchFailed) as failed:
            await adapter.fetch_media(graph.media_url(name), limit=1000)
        assert failed.value.transient is transient

    @pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "https://fbcdn.net.evil.com/a.jpg",
                                     "http://scontent.xx.fbcdn.net/a.jpg", "file:///etc/passwd"])
    async def test_only_meta_hosts_are_fetched(self, adapter: Adapter, url: str) -> None:
        with pytest.raises(FetchFailed, match="not a Meta media URL") as failed:
            await adapter.fetch_media(url, limit=1000)
        assert not failed.value.transient


class TestConfigured:
    def test_needs_secret_verify_token_and_page_token(self) -> None:
        assert Adapter(settings()).configured
        for missing in ("app_secret", "verify_token", "page_access_token"):
            assert not Adapter(settings(**{missing: ""})).configured

    def test_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN,
                            "META_PAGE_ACCESS_TOKEN": PAGE_TOKEN, "META_APP_ID": APP_ID,
                            "META_GRAPH_BASE_URL": "http://127.0.0.1:1", "PUBLIC_BASE_URL": "https://x.example"}.items():
            monkeypatch.setenv(name, value)
        made = Adapter()
        assert made.configured and made.settings.app_id == APP_ID
        assert (made.settings.graph_base_url, made.settings.public_base_url) == ("http://127.0.0.1:1",
                                                                                 "https://x.example")
