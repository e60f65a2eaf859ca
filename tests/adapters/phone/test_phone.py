from dataclasses import replace
from urllib.parse import parse_qs, urlencode
from xml.etree import ElementTree

import pytest

from adapters.base import BadPayload, BadSignature, RawRequest
from adapters.phone import Adapter
from adapters.phone.adapter import CANNOT_SEND, VOICE_PATH
from adapters.phone.settings import PhoneSettings
from inbox.channels import AddressKind, Channel
from inbox.events import Direction, InboundMessage, IncomingFile, OutboundMessage, Party, SendFailed
from tests.adapters.conftest import load_fixture
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running

PUBLIC = "https://inbox.example.com"
CALL_SID = "CA6e5d4c3b2a1908f7e6d5c4b3a2918070"
RECORDING_SID = "RE3c2b1a09f8e7d6c5b4a3928170f6e5d4"
AYSE = Party("+905321234567", AddressKind.phone, True)
# The signature Twilio put on voice_01_incoming_call.form (../shared/fixtures/payloads/README.md).
RECORDED_SIGNATURE = "6LRPKAkjZFGFhXdeeJ28bHnaORs="


def settings(**overrides: object) -> PhoneSettings:
    values: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_base_url": PUBLIC,
                                 "api_base_url": "http://127.0.0.1:9"}
    values.update(overrides)
    return PhoneSettings(**values)  # type: ignore[arg-type]


def signed(name: str, query: dict[str, str] | None = None) -> RawRequest:
    raw = load_fixture("phone", name, path=VOICE_PATH, query=query)
    url = PUBLIC + VOICE_PATH + (f"?{raw.query_string}" if raw.query_string else "")
    return replace(raw, headers={**raw.headers, "x-twilio-signature": twilio_signature(url, raw.form)})


def handled(name: str, query: dict[str, str] | None = None, **overrides: object) -> tuple[list[object], str]:
    adapter = Adapter(settings(**overrides))
    raw = signed(name, query)
    adapter.verify(raw)
    return list(adapter.parse(raw)), adapter.acknowledge(raw).body


def verbs(twiml: str) -> list[tuple[str, dict[str, str], str]]:
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response"
    return [(child.tag, dict(child.attrib), "".join(child.itertext())) for child in root]


def callback(url: str) -> dict[str, str]:
    assert url.startswith(PUBLIC + VOICE_PATH + "?")
    return {key: values[0] for key, values in parse_qs(url.split("?", 1)[1]).items()}


class TestIncomingCall:
    def test_a_ringing_call_is_an_inbound_message_from_the_proven_number(self) -> None:
        events, _ = handled("incoming_call.form")
        assert events == [InboundMessage(
            channel=Channel.phone, provider_id=CALL_SID, sender=AYSE, text="Incoming call from +905321234567",
            extra={"call": {"kind": "incoming", "number": "+905321234567", "seconds": None, "auto": True}})]

    def test_without_a_forwarding_number_the_caller_hears_the_greeting_and_leaves_a_message(self) -> None:
        _, twiml = handled("incoming_call.form", voice_greeting="Merhaba & hoş geldiniz")
        (say, say_attributes, said), (record, attributes, _) = verbs(twiml)
        assert (say, say_attributes, said) == ("Say", {"language": "tr-TR"}, "Merhaba & hoş geldiniz")
        assert record == "Record" and attributes["transcribe"] == "true" and attributes["maxLength"] == "120"
        # The callbacks come back here, signed over these URLs, with what their payloads leave out.
        assert callback(attributes["recordingStatusCallback"]) == {"step": "recording", "caller": "+905321234567"}
        assert callback(attributes["transcribeCallback"]) == {"step": "transcribed", "caller": "+905321234567"}
        assert callback(attributes["action"]) == {"step": "recorded", "caller": "+905321234567"}

    def test_with_a_forwarding_number_the_shop_phone_rings_first(self) -> None:
        _, twiml = handled("incoming_call.form", voice_forward_to="+902161234567")
        [(dial, attributes, number)] = verbs(twiml)
        assert (dial, number, attributes["timeout"]) == ("Dial", "+902161234567", "20")
        assert callback(attributes["action"]) == {"step": "dialed", "caller": "+905321234567"}

    def test_an_anonymous_caller_is_known_only_by_the_call(self) -> None:
        events, _ = handled("incoming_call__anonymous.form")
        [event] = events
        assert isinstance(event, InboundMessage)
        assert event.sender == Party("caller:CA11112222333344445555666677778888", AddressKind.handle, True)
        assert event.extra["call"]["number"] is None


class TestCallOutcome:
    def test_nobody_answering_is_a_missed_call_line_and_voicemail(self) -> None:
        events, twiml = handled("dial__no_answer.form", {"step": "dialed", "caller": "+905321234567"})
        assert events == [InboundMessage(
            channel=Channel.phone, provider_id=f"{CALL_SID}:missed", sender=AYSE, text="Missed call (no-answer)",
            direction=Direction.event, extra={"event": "call.missed", "call": {
                "kind": "missed", "number": "+905321234567", "seconds": None, "auto": True, "status": "no-answer"}})]
        assert [verb for verb, _, _ in verbs(twiml)] == ["Say", "Record"]

    def test_an_answered_call_is_a_line_with_its_length(self) -> None:
        events, twiml = handled("dial__completed.form", {"step": "dialed", "caller": "+905321234567"})
        [event] = events
        assert isinstance(event, InboundMessage)
        assert (event.provider_id, event.direction, event.text) == (f"{CALL_SID}:answered", Direction.event,
                                                                    "Call answered (184 s)")
        assert event.extra["call"]["seconds"] == 184
        assert verbs(twiml) == [("Hangup", {}, "")]

    def test_a_busy_status_callback_is_the_same_missed_call_line(self) -> None:
        events, _ = handled("status__busy.form")
        [event] = events
        assert isinstance(event, InboundMessage)
        # One id whichever callback tells it: the Dial's action and the status callback dedupe.
        assert (event.provider_id, event.extra["event"]) == (f"{CALL_SID}:missed", "call.missed")


class TestVoicemail:
    def test_a_finished_recording_is_a_message_with_the_audio_to_fetch(self) -> None:
        events, _ = handled("recording__completed.form", {"step": "recording", "caller": "+905321234567"})
        url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.mp3"
        assert events == [InboundMessage(
            channel=Channel.phone, provider_id=RECORDING_SID, sender=AYSE, text="Voicemail (23 s)",
            files=(IncomingFile(f"voicemail-{RECORDING_SID}.mp3", "audio/mpeg", url=url),), reply_to=(CALL_SID,),
            extra={"call": {"kind": "voicemail", "number": "+905321234567", "seconds": 23, "auto": True}})]

    def test_a_recording_still_in_progress_records_nothing(self) -> None:
        events, _ = handled("recording__in_progress.form", {"step": "recording", "caller": "+905321234567"})
        assert events == []

    def test_the_transcription_is_a_line_under_the_voicemail(self) -> None:
        events, _ = handled("transcription__completed.form", {"step": "transcribed", "caller": "+905321234567"})
        [event] = events
        assert isinstance(event, InboundMessage)
        assert (event.provider_id, event.direction, event.reply_to) == (
            "TRa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3", Direction.event, (RECORDING_SID,))
        assert event.text == "Merhaba, dün verdiğim 1002 numaralı siparişin kargosu gelmedi, beni arar mısınız?"
        assert event.extra == {"event": "call.transcribed", "call": {"kind": "transcription"}}

    async def test_the_recording_is_fetched_with_the_accounts_credentials(self) -> None:
        async with running(TwilioFake(recordings={RECORDING_SID: b"ID3 voicemail"})) as twilio:
            adapter = Adapter(settings(api_base_url=twilio.base_url))
            fetched = await adapter.fetch_media(twilio.recording_url(RECORDING_SID) + ".mp3", limit=1000)
        assert (fetched.data, fetched.content_type) == (b"ID3 voicemail", "audio/mpeg")


class TestVerify:
    def test_the_signature_twilio_recorded_validates(self) -> None:
        raw = load_fixture("phone", "incoming_call.form", path=VOICE_PATH,
                           headers={"X-Twilio-Signature": RECORDED_SIGNATURE})
        Adapter(settings()).verify(raw)

    def test_a_callback_url_changed_after_signing_is_refused(self) -> None:
        raw = signed("recording__completed.form", {"step": "recording", "caller": "+905321234567"})
        # Someone points the recording at another customer's thread: the URL is part of what was signed.
        forged = replace(raw, query_string=urlencode({"step": "recording", "caller": "+14155550123"}), query={})
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(forged)

    def test_missing_signature_and_empty_token_are_refused(self) -> None:
        raw = load_fixture("phone", "incoming_call.form", path=VOICE_PATH)
        with pytest.raises(BadSignature):
            Adapter(settings()).verify(raw)
        with pytest.raises(BadSignature):
            Adapter(settings(auth_token="")).verify(signed("incoming_call.form"))

    def test_a_call_without_its_sid_is_a_bad_payload(self) -> None:
        with pytest.raises(BadPayload, match="CallSid"):
            handled("malformed__no_call_sid.form")


class TestSend:
    async def test_a_call_cannot_be_sent_and_says_so(self) -> None:
        with pytest.raises(SendFailed) as failed:
            await Adapter(settings()).send(OutboundMessage(1, Channel.phone, "+905321234567", "Merhaba"))
        assert (failed.value.reason, failed.value.transient) == (CANNOT_SEND, False)

    def test_configured_by_the_accounts_sid_and_token(self) -> None:
        assert Adapter(settings()).configured
        assert not Adapter(settings(auth_token="")).configured
