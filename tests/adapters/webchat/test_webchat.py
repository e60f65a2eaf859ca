import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.base import BadPayload, BadSignature, RawRequest
from adapters.webchat import Adapter, frames
from adapters.webchat.adapter import NO_HUB, VISITOR_HEADER, VISITOR_KIND_HEADER, VISITOR_NAME_HEADER, provider_id
from adapters.webchat.settings import WebchatSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundMessage,
    IncomingFile,
    OutboundMessage,
    OutgoingFile,
    Party,
    SendFailed,
    SendResult,
)
from tests.adapters.conftest import load_fixture

# The shop's secret the session fixtures were signed with.
SECRET = "fake_widget_identity_secret_0123"
NOW = datetime(2026, 1, 15, 9, 41, 7, tzinfo=UTC)
VISITOR = Party("visitor:5f0c2b7e1d3a4c6e8f9b0a1c2d3e4f50", AddressKind.handle, True)


def adapter(secret: str = SECRET, publish: Any = None) -> Adapter:
    return Adapter(WebchatSettings(identity_secret=secret), publish=publish, clock=lambda: NOW)  # type: ignore[arg-type]


def session_request(name: str) -> RawRequest:
    return load_fixture("webchat", name, path="/widget/session")


def frame(name: str, visitor: Party = VISITOR) -> RawRequest:
    raw = load_fixture("webchat", name, path="/ws/widget")
    return replace(raw, headers={**raw.headers, VISITOR_HEADER: visitor.address,
                                 VISITOR_KIND_HEADER: str(visitor.kind), VISITOR_NAME_HEADER: visitor.name or ""})


class TestIdentify:
    def test_an_anonymous_visitor_needs_no_signature(self) -> None:
        raw = session_request("session__anonymous.json")
        adapter().verify(raw)
        assert adapter().shopper(raw) is None

    def test_a_shopper_signed_by_email_is_a_verified_email(self) -> None:
        raw = session_request("session__verified_email.json")
        adapter().verify(raw)
        assert adapter().shopper(raw) == Party("Ayse.Yilmaz@example.net", AddressKind.email, True, "Ayşe Yılmaz")

    def test_a_shopper_signed_by_account_id_is_the_shops_handle(self) -> None:
        raw = session_request("session__verified_account_id.json")
        assert adapter().shopper(raw) == Party("shop:48213", AddressKind.handle, True, "Ayşe Yılmaz")

    def test_a_forged_signature_is_refused(self) -> None:
        with pytest.raises(BadSignature, match=r"user\.hash"):
            adapter().verify(session_request("session__forged_hash.json"))

    def test_without_the_shops_secret_nobody_is_identified(self) -> None:
        with pytest.raises(BadSignature, match="WIDGET_IDENTITY_SECRET"):
            adapter(secret="").verify(session_request("session__verified_email.json"))

    def test_a_shopper_with_neither_email_nor_id_is_a_bad_payload(self) -> None:
        with pytest.raises(BadPayload, match="email or an id"):
            adapter().verify(session_request("session__malformed_user.json"))

    def test_the_signature_is_the_shops_hmac_sha256_of_the_email(self) -> None:
        # What the shop's backend runs (docs/channels/webchat.md), written out independently.
        digest = hmac.new(SECRET.encode(), b"Ayse.Yilmaz@example.net", hashlib.sha256).hexdigest()
        assert f'"hash": "{digest}"' in (load_fixture("webchat", "session__verified_email.json", path="/")
                                         .body.decode())


class TestParse:
    def test_a_text_message_is_an_inbound_message_deduplicated_per_visitor(self) -> None:
        events = adapter().parse(frame("message__text.json"))
        client_msg_id = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
        assert events == [InboundMessage(
            channel=Channel.webchat, provider_id=provider_id(VISITOR.address, client_msg_id), sender=VISITOR,
            text="Merhaba, 1002 numaralı siparişim ne zaman kargoya verilir?",
            extra={"client_msg_id": client_msg_id})]
        other = Party("visitor:0000000000000000000000000000000a", AddressKind.handle, True)
        assert provider_id(other.address, client_msg_id) != provider_id(VISITOR.address, client_msg_id)

    def test_an_uploaded_image_is_referenced_by_its_content_address(self) -> None:
        [event] = adapter().parse(frame("message__image.json"))
        assert isinstance(event, InboundMessage)
        assert event.files == (IncomingFile("kutu.jpg", "image/jpeg", sha256=hashlib.sha256(b"fake jpeg").hexdigest()),)

    def test_a_file_type_the_chat_does_not_take_is_refused(self) -> None:
        with pytest.raises(BadPayload, match="text/html"):
            adapter().parse(frame("message__html_file.json"))

    @pytest.mark.parametrize(("name", "says"), [("message__empty.json", "text or a file"),
                                                ("malformed__no_client_msg_id.json", "client_msg_id")])
    def test_unreadable_frames_say_what_is_wrong(self, name: str, says: str) -> None:
        with pytest.raises(BadPayload, match=says):
            adapter().parse(frame(name))

    def test_a_read_receipt_names_the_replies_by_the_ids_they_were_sent_as(self) -> None:
        assert adapter().parse(frame("read.json")) == [
            DeliveryUpdate(Channel.webchat, "webchat:77", DeliveryStatus.read),
            DeliveryUpdate(Channel.webchat, "webchat:78", DeliveryStatus.read)]

    def test_a_delivered_receipt_too(self) -> None:
        assert adapter().parse(frame("delivered.json")) == [
            DeliveryUpdate(Channel.webchat, "webchat:78", DeliveryStatus.delivered)]

    @pytest.mark.parametrize("name", ["typing.json", "hello.json"])
    def test_typing_and_hellos_are_the_sockets_business_not_the_inboxs(self, name: str) -> None:
        assert adapter().parse(frame(name)) == []
        assert isinstance(frames.read(load_fixture("webchat", name, path="/").body), frames.Typing | frames.Hello)

    def test_a_frame_without_a_proven_visitor_is_refused(self) -> None:
        with pytest.raises(BadPayload, match="no visitor"):
            adapter().parse(load_fixture("webchat", "message__text.json", path="/ws/widget"))


class TestUpload:
    @pytest.mark.parametrize(("name", "content_type", "data", "says"), [
        ("kutu.jpg", "image/jpeg", b"\xff\xd8\xff" + b"x" * (10 * 1024 * 1024), "larger than 10 MB"),
        ("fatura.html", "text/html", b"<script>", "not a file the chat takes"),
        ("kutu.png", "image/png", b"<svg onload=alert(1)>", "not the image/png it says"),
        ("not.txt", "text/plain", b"\xff\xfe", "UTF-8"),
        ("bos.pdf", "application/pdf", b"", "empty"),
    ])
    def test_what_the_widget_must_not_send(self, name: str, content_type: str, data: bytes, says: str) -> None:
        with pytest.raises(BadPayload, match=says):
            adapter().check_upload(filename=name, content_type=content_type, data=data)

    def test_an_image_within_the_limit_passes(self) -> None:
        adapter().check_upload(filename="kutu.png", content_type="image/png", data=b"\x89PNG\r\n\x1a\n" + b"x" * 99)


class TestSend:
    async def test_a_reply_is_published_to_the_visitors_topic(self) -> None:
        published: list[tuple[str, dict[str, Any]]] = []
        result = await adapter(publish=lambda topic, said: published.append((topic, said))).send(OutboundMessage(
            message_id=77, channel=Channel.webchat, to=VISITOR.address, text="Yarın kargoda", author_name="Ayşe",
            files=(OutgoingFile("iade.pdf", "application/pdf", "/data/x", 812, attachment_id=5),)))
        assert result == SendResult(provider_id="webchat:77", status=DeliveryStatus.sent)
        assert published == [(f"webchat:{VISITOR.address}", {
            "type": "message", "id": 77, "author": "agent", "name": "Ayşe", "text": "Yarın kargoda",
            "ts": NOW.isoformat(),
            "files": [{"attachment_id": 5, "name": "iade.pdf", "type": "application/pdf", "size": 812}]})]

    async def test_without_a_hub_the_send_is_retried_later(self) -> None:
        with pytest.raises(SendFailed) as failed:
            await adapter().send(OutboundMessage(1, Channel.webchat, VISITOR.address, "Merhaba"))
        assert (failed.value.reason, failed.value.transient) == (NO_HUB, True)
