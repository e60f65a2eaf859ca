"""Each adapter's pure parts under hostile input, without HTTP: the signature check either passes or
raises BadSignature, and the parser returns events or raises BadPayload. Any other exception would
be a 500 at the webhook, and fails here with the smallest input that causes it."""

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import BadPayload, BadSignature, RawRequest, parse_form, read_json
from adapters.messenger import Adapter as Messenger
from adapters.messenger.settings import MessengerSettings
from adapters.phone import Adapter as Phone
from adapters.phone.settings import PhoneSettings
from adapters.telegram import Adapter as Telegram
from adapters.telegram.settings import TelegramSettings
from adapters.webchat import Adapter as Webchat
from adapters.webchat import frames
from adapters.webchat.adapter import VISITOR_HEADER
from adapters.webchat.settings import WebchatSettings
from adapters.whatsapp import Adapter as WhatsApp
from adapters.whatsapp.settings import WhatsAppSettings
from inbox.events import InboundEvent
from tests.hostile.conftest import FIXTURES, META_SECRET, PUBLIC_BASE_URL, TELEGRAM_SECRET, TWILIO_TOKEN, WIDGET_SECRET
from tests.hostile.mutations import JUNK_JSON, JUNK_TEXT, budget, damaged_bytes, damaged_json
from tests.soak.figures import record

TWILIO = {"account_sid": "AC1", "auth_token": TWILIO_TOKEN, "public_base_url": PUBLIC_BASE_URL}
ADAPTERS: dict[str, Callable[[], Any]] = {
    "whatsapp": lambda: WhatsApp(WhatsAppSettings(**TWILIO, whatsapp_from="whatsapp:+1")),  # type: ignore[arg-type]
    "phone": lambda: Phone(PhoneSettings(**TWILIO)),  # type: ignore[arg-type]
    "messenger": lambda: Messenger(MessengerSettings(app_secret=META_SECRET, verify_token="v",
                                                     page_access_token="p", app_id="1")),
    "telegram": lambda: Telegram(TelegramSettings(bot_token="1:x", webhook_secret=TELEGRAM_SECRET)),
    "webchat": lambda: Webchat(WebchatSettings(identity_secret=WIDGET_SECRET)),
}
FORMS = st.dictionaries(JUNK_TEXT | st.sampled_from(["MessageSid", "CallSid", "From", "NumMedia", "MediaUrl0",
                                                      "MessageStatus", "Latitude", "Longitude", "ErrorCode",
                                                      "CallStatus", "RecordingStatus", "RecordingUrl"]),
                        st.lists(JUNK_TEXT, min_size=1, max_size=2), max_size=8)
HEADERS = st.dictionaries(st.sampled_from(["x-twilio-signature", "x-hub-signature-256", "content-type",
                                           "x-telegram-bot-api-secret-token", VISITOR_HEADER,
                                           "x-webchat-visitor-kind"]) | JUNK_TEXT, JUNK_TEXT, max_size=4)


def _recorded(folder: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((FIXTURES / folder / "fixtures").iterdir())
            if not path.name.startswith("api_") and path.suffix in (".json", ".form")]


@st.composite
def requests(draw: st.DrawFn, channel: str) -> RawRequest:
    recorded = _recorded(channel)
    original = draw(st.sampled_from(recorded))
    rewritten = (damaged_json(json.loads(original)).map(lambda d: json.dumps(d).encode("utf-8", "surrogatepass"))
                 if original.lstrip().startswith(b"{") else st.just(original))
    body = draw(st.one_of(st.binary(max_size=500), damaged_bytes(original), rewritten))
    form = draw(FORMS | st.just(_form_or_empty(body)))
    query = draw(st.dictionaries(st.sampled_from(["step", "caller"]) | JUNK_TEXT, JUNK_TEXT, max_size=2))
    return RawRequest("POST", draw(st.sampled_from(["/webhooks/x", ""])), draw(HEADERS), query=query,
                      body=body, form=form)


def _form_or_empty(body: bytes) -> dict[str, list[str]]:
    try:
        return parse_form(body)
    except BadPayload:
        return {}


@pytest.mark.parametrize("channel", list(ADAPTERS))
def test_verify_and_parse_raise_only_what_the_webhook_answers_with(channel: str) -> None:
    adapter = ADAPTERS[channel]()
    tally = {"requests": 0, "events": 0, "bad signature": 0, "bad payload": 0}

    @budget(1.5)
    @given(requests(channel))
    def case(raw: RawRequest) -> None:
        tally["requests"] += 1
        try:
            adapter.verify(raw)
        except BadSignature:
            tally["bad signature"] += 1
        except BadPayload:
            tally["bad payload"] += 1
        try:
            events: list[InboundEvent] = adapter.parse(raw)
            adapter.acknowledge(raw)
        except BadPayload:
            tally["bad payload"] += 1
            return
        tally["events"] += len(events)

    try:
        case()
    finally:
        record(f"hostile input, {channel} verify + parse (pure)",
               f"requests {tally['requests']}, other exceptions 0, BadSignature {tally['bad signature']}, "
               f"BadPayload {tally['bad payload']}, events {tally['events']}")


def test_a_widget_frame_is_a_frame_or_a_bad_payload() -> None:
    recorded = [json.loads(path.read_bytes()) for path in sorted((FIXTURES / "webchat" / "fixtures").glob("*.json"))
                if not path.name.startswith("session__")]
    seen = {"frames": 0, "read": 0, "refused": 0}

    @budget(1.5)
    @given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                     st.sampled_from(recorded).flatmap(damaged_json).map(json.dumps), JUNK_JSON.map(json.dumps)))
    def case(data: bytes | str) -> None:
        seen["frames"] += 1
        try:
            frames.read(data)
        except BadPayload:
            seen["refused"] += 1
            return
        seen["read"] += 1

    try:
        case()
        for depth in (1_000, 100_000):
            seen["frames"] += 1
            with pytest.raises(BadPayload):
                frames.read("[" * depth + "]" * depth)
            seen["refused"] += 1
    finally:
        record("hostile input, web chat frames (pure)",
               f"frames {seen['frames']}, other exceptions 0, read {seen['read']}, refused {seen['refused']}")


@budget()
@given(st.binary(max_size=300))
def test_parse_form_reads_any_bytes_or_refuses_them(body: bytes) -> None:
    try:
        form = parse_form(body)
    except BadPayload:
        return
    assert all(isinstance(name, str) and all(isinstance(v, str) for v in values) for name, values in form.items())


@budget()
@given(st.binary(max_size=300) | st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n))
def test_read_json_reads_any_bytes_or_refuses_them(body: bytes) -> None:
    with contextlib.suppress(BadPayload):
        read_json(body)
