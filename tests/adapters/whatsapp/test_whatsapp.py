import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.base import BadPayload, BadSignature, RawRequest, RawResponse
from adapters.whatsapp import Adapter
from adapters.whatsapp.adapter import EMPTY_TWIML, INBOUND_PATH, STATUS_PATH
from adapters.whatsapp.settings import WhatsAppSettings
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
)
from tests.adapters.conftest import load_fixture
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running

PUBLIC = "https://inbox.example.com"
AYSE = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
JOHN = Party("whatsapp:+14155550123", AddressKind.phone, True, "John Carter")
# Our outbound template that the button reply answers, and our reply the status callbacks are about.
TEMPLATE_SID = "SMf1e2d3c4b5a697887766554433221100"
REPLY_SID = "SMe3d2c1b0a9f8e7d6c5b4a39281706f5e"


def settings(**overrides: object) -> WhatsAppSettings:
    values: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                                 "whatsapp_from": "whatsapp:+14155550100", "public_base_url": PUBLIC,
                                 "api_base_url": "http://127.0.0.1:9"}
    values.update(overrides)
    return WhatsAppSettings(**values)  # type: ignore[arg-type]


def twilio_signature(url: str, form: dict[str, list[str]], token: str = AUTH_TOKEN) -> str:
    # Twilio's algorithm written out independently of the SDK the adapter uses: URL, then each
    # name+value in name order, HMAC-SHA1 with the auth token, base64.
    data = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signed(name: str, path: str, *, public: str = PUBLIC) -> RawRequest:
    raw = load_fixture("whatsapp", name, path=path)
    signature = twilio_signature(public + path, raw.form)
    return replace(raw, headers={**raw.headers, "x-twilio-signature": signature})


def handled(name: str, path: str) -> tuple[list[object], RawResponse]:
    """What the webhook route does with a fixture: verify, parse, acknowledge."""
    adapter = Adapter(settings())
    raw = signed(name, path)
    adapter.verify(raw)
    return list(adapter.parse(raw)), adapter.acknowledge(raw)


TWIML = RawResponse(200, EMPTY_TWIML, "text/xml")
EMPTY = RawResponse(200, "", "text/plain")


class TestParseInbound:
    def test_text_is_a_message_from_a_verified_phone(self) -> None:
        events, ack = handled("inbound_text.form", INBOUND_PATH)
        assert events == [InboundMessage(
            channel=Channel.whatsapp, provider_id="SM7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c", sender=AYSE,
            text="Merhaba, 1002 numaralı siparişim ne zaman kargoya verilecek?")]
        assert ack == TWIML

    def test_image_keeps_its_caption_and_points_at_the_media(self) -> None:
        events, ack = handled("inbound_image_caption.form", INBOUND_PATH)
        media = ("https://api.twilio.com/2010-04-01/Accounts/ACa1b2c3d4e5f60718293a4b5c6d7e8f90/Messages/"
                 "MM4d5e6f708192a3b4c5d6e7f8091a2b3c/Media/ME9a8b7c6d5e4f30211203f4e5d6c7b8a9")
        assert events == [InboundMessage(
            channel=Channel.whatsapp, provider_id="MM4d5e6f708192a3b4c5d6e7f8091a2b3c", sender=AYSE,
            text="Kutu bu şekilde ezik geldi 😞",
            files=(IncomingFile("ME9a8b7c6d5e4f30211203f4e5d6c7b8a9.jpg", "image/jpeg", url=media),))]
        assert ack == TWIML

    def test_location_pin_lands_in_extra(self) -> None:
        events, ack = handled("inbound_location.form", INBOUND_PATH)
        assert events == [InboundMessage(
            channel=Channel.whatsapp, provider_id="SM0b1c2d3e4f5061728394a5b6c7d8e9f0", sender=AYSE, text="",
            extra={"location": {"latitude": 41.0421, "longitude": 29.0093,
                                "address": "Barbaros Blv. No:12, Beşiktaş, İstanbul",
                                "label": "Acme Mağaza Beşiktaş"}})]
        assert ack == TWIML

    def test_button_reply_answers_our_template(self) -> None:
        events, ack = handled("inbound_button_reply.form", INBOUND_PATH)
        assert events == [InboundMessage(
            channel=Channel.whatsapp, provider_id="SM2a3b4c5d6e7f8091a2b3c4d5e6f70819", sender=JOHN,
            text="Yes, reschedule", reply_to=(TEMPLATE_SID,),
            extra={"button": {"text": "Yes, reschedule", "payload": "reschedule_delivery:1001"}})]
        assert ack == TWIML


class TestParseStatus:
    def test_sent(self) -> None:
        events, ack = handled("status__sent.form", STATUS_PATH)
        assert events == [DeliveryUpdate(Channel.whatsapp, REPLY_SID, DeliveryStatus.sent)]
        assert ack == EMPTY

    def test_delivered(self) -> None:
        events, ack = handled("status__delivered.form", STATUS_PATH)
        assert events == [DeliveryUpdate(Channel.whatsapp, REPLY_SID, DeliveryStatus.delivered)]
        assert ack == EMPTY

    def test_read(self) -> None:
        events, ack = handled("status__read.form", STATUS_PATH)
        assert events == [DeliveryUpdate(Channel.whatsapp, REPLY_SID, DeliveryStatus.read)]
        assert ack == EMPTY

    def test_failed_63016_says_a_template_is_needed(self) -> None:
        events, ack = handled("status__failed_63016.form", STATUS_PATH)
        assert events == [DeliveryUpdate(
            Channel.whatsapp, TEMPLATE_SID, DeliveryStatus.failed,
            error="63016: Outside the 24-hour WhatsApp window: send an approved template")]
        assert ack == EMPTY


def _form(**fields: str) -> RawRequest:
    return RawRequest("POST", INBOUND_PATH, {}, form={key: [value] for key, value in fields.items()})


class TestParseEdges:
    def test_username_sender_without_a_number_is_a_handle(self) -> None:
        [event] = Adapter(settings()).parse(_form(MessageSid="SM1", From="whatsapp:TR.AbC123xyz", Body="hi"))
        assert isinstance(event, InboundMessage)
        assert event.sender == Party("whatsapp:TR.AbC123xyz", AddressKind.handle, True, None)

    def test_nul_is_stripped_from_the_body(self) -> None:
        [event] = Adapter(settings()).parse(_form(MessageSid="SM1", From="whatsapp:+905321234567", Body="a\x00b"))
        assert isinstance(event, InboundMessage) and event.text == "ab"

    def test_a_message_marked_received_is_still_a_message(self) -> None:
        [event] = Adapter(settings()).parse(_form(MessageSid="SM1", From="whatsapp:+905321234567", Body="hi",
                                                  MessageStatus="received"))
        assert isinstance(event, InboundMessage) and event.text == "hi"

    def test_queued_status_records_nothing(self) -> None:
        assert Adapter(settings()).parse(_form(MessageSid="SM1", MessageStatus="queued")) == []

    def test_unknown_error_code_keeps_twilios_words(self) -> None:
        [event] = Adapter(settings()).parse(_form(MessageSid="SM1", MessageStatus="undelivered",
                                                  ErrorCode="30008", ErrorMessage="Unknown error"))
        assert event == DeliveryUpdate(Channel.whatsapp, "SM1", DeliveryStatus.failed, error="30008: Unknown error")

    @pytest.mark.parametrize("fields", [
        {"From": "whatsapp:+905321234567", "Body": "no sid"},
        {"MessageSid": "SM1", "Body": "no sender"},
        {"MessageSid": "SM1", "From": "whatsapp:+905321234567", "NumMedia": "two"},
        {"MessageSid": "SM1", "From": "whatsapp:+905321234567", "NumMedia": "1"},
        {"MessageSid": "SM1", "From": "whatsapp:+905321234567", "Latitude": "north", "Longitude": "1"},
    ])
    def test_unreadable_form_is_a_bad_payload(self, fields: dict[str, str]) -> None:
        with pytest.raises(BadPayload):
            Adapter(settings()).parse(_form(**fields))


class TestVerify:
    def test_signature_recorded_from_twilio_validates(self) -> None:
        raw = load_fixture("whatsapp", "inbound_text.form", path=INBOUND_PATH,
                           headers={"X-Twilio-Signature": "xMk6xRC8XONrjo9pUlx18hTXW1I="})
        Adapter(settings()).verify(raw)

    def test_wrong_signature_is_refused(self) -> None:
        raw = signed("inbound_text.form", INBOUND_PATH)
        with pytest.raises(BadSignature):
            Adapter(settings(auth_token="another-token")).verify(raw)

    def test_changed_field_is_refused(self) -> None:
        raw = signed("inbound_text.form", INBOUND_PATH)
        tampered = replace(raw, form={**raw.form, "Body": ["Siparişimi iptal edin"]})
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(tampered)

    def test_missing_signature_is_refused(self) -> None:
        raw = load_fixture("whatsapp", "inbound_text.form", path=INBOUND_PATH)
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(raw)

    def test_empty_token_refuses_everything(self) -> None:
        with pytest.raises(BadSignature):
            Adapter(settings(auth_token="")).verify(signed("inbound_text.form", INBOUND_PATH))

    def test_url_is_rebuilt_from_the_public_base_behind_a_tls_proxy(self) -> None:
        # The proxy hands us http://10.0.0.5:8000/…; Twilio signed the https:// public URL.
        raw = signed("status__delivered.form", STATUS_PATH)
        proxied = replace(raw, headers={**raw.headers, "host": "10.0.0.5:8000", "x-forwarded-proto": "http"})
        Adapter(settings(public_base_url=PUBLIC + "/")).verify(proxied)
        with pytest.raises(BadSignature):
            Adapter(settings(public_base_url="http://inbox.example.com")).verify(proxied)

    def test_query_string_is_part_of_the_signed_url(self) -> None:
        raw = load_fixture("whatsapp", "inbound_text.form", path=INBOUND_PATH, query={"inbox": "tr"})
        signature = twilio_signature(PUBLIC + INBOUND_PATH + "?inbox=tr", raw.form)
        Adapter(settings()).verify(replace(raw, headers={**raw.headers, "x-twilio-signature": signature}))


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    async with running() as fake:
        yield fake


@pytest.fixture
async def adapter(twilio: TwilioFake) -> AsyncIterator[Adapter]:
    made = Adapter(settings(api_base_url=twilio.base_url))
    yield made
    await made.aclose()


REPLY = OutboundMessage(message_id=1, channel=Channel.whatsapp, to="+905321234567",
                        text="Merhaba Ayşe Hanım, siparişiniz bugün kargoya verilecek.")


class TestSend:
    async def test_created_message_returns_twilios_sid(self, adapter: Adapter, twilio: TwilioFake) -> None:
        result = await adapter.send(REPLY)
        [request] = twilio.requests
        assert request.authorized and request.account_sid == ACCOUNT_SID
        assert {name: request.get(name) for name in ("From", "To", "Body", "StatusCallback")} == {
            "From": "whatsapp:+14155550100", "To": "whatsapp:+905321234567", "Body": REPLY.text,
            "StatusCallback": PUBLIC + STATUS_PATH}
        assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
        assert result.status == DeliveryStatus.sent

    async def test_a_template_goes_as_content_sid_and_variables_without_a_body(self, adapter: Adapter,
                                                                              twilio: TwilioFake) -> None:
        # Outside the 24-hour window a Body fails with 63016: Twilio must get the approved template instead.
        template = {"name": "siparis_kargoda", "content_sid": "HX" + "0123456789abcdef" * 2,
                    "variables": {"1": "Ayşe", "2": "1002"}}
        await adapter.send(replace(REPLY, text="Merhaba Ayşe, 1002 numaralı siparişiniz kargoya verildi.",
                                   extra={"template": template}))
        [request] = twilio.requests
        assert request.get("ContentSid") == template["content_sid"]
        assert json.loads(request.get("ContentVariables") or "") == {"1": "Ayşe", "2": "1002"}
        assert "Body" not in request.form and "MediaUrl" not in request.form
        assert (request.get("To"), request.get("StatusCallback")) == ("whatsapp:+905321234567", PUBLIC + STATUS_PATH)

    async def test_invalid_number_is_permanent_with_twilios_reason(self, adapter: Adapter,
                                                                   twilio: TwilioFake) -> None:
        twilio.enqueue("invalid_to")
        with pytest.raises(SendFailed) as failed:
            await adapter.send(REPLY)
        assert not failed.value.transient
        assert failed.value.reason == "21211: Invalid 'To' number (Twilio: Invalid 'To' Phone Number: +90532123456)"

    @pytest.mark.parametrize("answer", ["server_error", "rate_limited"])
    async def test_server_error_and_rate_limit_are_transient(self, adapter: Adapter, twilio: TwilioFake,
                                                             answer: str) -> None:
        twilio.enqueue(answer)  # type: ignore[arg-type]
        with pytest.raises(SendFailed) as failed:
            await adapter.send(REPLY)
        assert failed.value.transient
        assert failed.value.reason.startswith(("20500:", "20429: Too many requests to Twilio"))

    async def test_no_answer_in_time_is_left_to_an_agent_not_retried(self, twilio: TwilioFake) -> None:
        # Twilio may have created the message before going quiet: retrying could send it twice.
        twilio.enqueue("hang")
        impatient = Adapter(settings(api_base_url=twilio.base_url, timeout_seconds=0.2))
        try:
            with pytest.raises(SendFailed) as failed:
                await impatient.send(REPLY)
        finally:
            await impatient.aclose()
        assert not failed.value.transient
        assert "did not answer" in failed.value.reason and "may or may not have been sent" in failed.value.reason

    async def test_unreachable_twilio_is_transient(self) -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        closed = Adapter(settings(api_base_url=f"http://127.0.0.1:{port}"))
        try:
            with pytest.raises(SendFailed) as failed:
                await closed.send(REPLY)
        finally:
            await closed.aclose()
        assert failed.value.transient and failed.value.reason.startswith("Twilio unreachable")

    async def test_wrong_credentials_are_permanent(self, twilio: TwilioFake) -> None:
        wrong = Adapter(settings(api_base_url=twilio.base_url, auth_token="not-the-token"))
        try:
            with pytest.raises(SendFailed) as failed:
                await wrong.send(REPLY)
        finally:
            await wrong.aclose()
        assert not failed.value.transient and failed.value.reason.startswith("20003:")

    async def test_unconfigured_channel_refuses_without_calling_twilio(self, twilio: TwilioFake) -> None:
        with pytest.raises(SendFailed) as failed:
            await Adapter(settings(api_base_url=twilio.base_url, account_sid="")).send(REPLY)
        assert not failed.value.transient and twilio.requests == []


class TestMediaReply:
    def _with(self, *files: OutgoingFile) -> OutboundMessage:
        return replace(REPLY, files=files)

    async def test_the_signed_link_goes_as_media_url(self, adapter: Adapter, twilio: TwilioFake) -> None:
        link = "https://inbox.example.com/files/7/fatura.pdf?expires=1&signature=ab"
        await adapter.send(self._with(OutgoingFile("fatura.pdf", "application/pdf", "/nowhere", 10, url=link)))
        assert twilio.requests[0].form["MediaUrl"] == [link]

    @pytest.mark.parametrize(("files", "reason"), [
        ((OutgoingFile("a.pdf", "application/pdf", "/a", 10, url="https://x/a"),
          OutgoingFile("b.pdf", "application/pdf", "/b", 10, url="https://x/b")), "one file per message"),
        ((OutgoingFile("a.pdf", "application/pdf", "/a", 10),), "set PUBLIC_BASE_URL"),
        ((OutgoingFile("a.mp4", "video/mp4", "/a", 17_000_000, url="https://x/a"),), "up to 16 MB"),
    ])
    async def test_what_whatsapp_cannot_take_is_refused_before_calling_twilio(
            self, adapter: Adapter, twilio: TwilioFake, files: tuple[OutgoingFile, ...], reason: str) -> None:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(self._with(*files))
        assert not failed.value.transient and reason in failed.value.reason and twilio.requests == []


class TestConfigured:
    def test_needs_sid_token_and_sender(self) -> None:
        assert Adapter(settings()).configured
        for missing in ("account_sid", "auth_token", "whatsapp_from"):
            assert not Adapter(settings(**{missing: ""})).configured

    def test_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                            "TWILIO_WHATSAPP_FROM": "+14155550100", "TWILIO_API_BASE_URL": "http://127.0.0.1:1",
                            "PUBLIC_BASE_URL": PUBLIC}.items():
            monkeypatch.setenv(name, value)
        made = Adapter()
        assert made.configured and made.settings.public_base_url == PUBLIC
        assert made.settings.api_base_url == "http://127.0.0.1:1"
