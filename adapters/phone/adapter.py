"""Phone calls through Twilio Voice: signed webhooks in (incoming and missed calls, voicemail and its
transcription), TwiML back. Calls staff log by hand are not this adapter's: they are notes
(inbox/calls.py). A phone call cannot be "sent", so send refuses, plainly.

One URL, /webhooks/twilio/voice, takes every callback; the TwiML we answer points Twilio back at it
with ?step=… saying what the callback is, and with the caller's number, which a recording's
callback does not carry. Twilio signs the URL with its query, so neither can be forged.
"""

import re
from typing import ClassVar
from urllib.parse import parse_qs, urlencode
from xml.sax.saxutils import escape, quoteattr

from adapters import _twilio
from adapters.base import BadPayload, CheckFailed, FetchedFile, RawRequest, RawResponse
from adapters.phone.settings import PhoneSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    Direction,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    OutboundMessage,
    Party,
    SendFailed,
    SendResult,
)

VOICE_PATH = "/webhooks/twilio/voice"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
CANNOT_SEND = "a phone call cannot be sent as a message: log the call as a note, or reply on another channel"
_RINGING = {"queued", "ringing", "in-progress"}
_MISSED = {"busy", "no-answer", "failed", "canceled"}
_PHONE = re.compile(r"\+?\d{6,15}")


class Adapter:
    channel: ClassVar[Channel] = Channel.phone
    paths: ClassVar[tuple[str, ...]] = (VOICE_PATH,)

    def __init__(self, settings: PhoneSettings | None = None) -> None:
        self.settings = settings or PhoneSettings()

    @property
    def configured(self) -> bool:
        return bool(self.settings.account_sid and self.settings.auth_token.get_secret_value())

    def verify(self, raw: RawRequest) -> None:
        _twilio.verify(raw, auth_token=self.settings.auth_token.get_secret_value(),
                       public_base_url=self.settings.public_base_url)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        form = _twilio.form(raw)
        sid = _twilio.field(form, "CallSid")
        if not sid:
            raise BadPayload("CallSid missing")
        step = _step(raw)
        caller = _caller(form, raw, sid)
        match step:
            case "":
                status = (_twilio.field(form, "CallStatus") or "").lower()
                if status in _RINGING:
                    return [InboundMessage(channel=Channel.phone, provider_id=sid, sender=caller,
                                           text=f"Incoming call from {caller.address}",
                                           extra={"call": _call("incoming", caller)})]
                return [_missed(sid, caller, status)] if status in _MISSED else []
            case "dialed":
                status = (_twilio.field(form, "DialCallStatus") or "").lower()
                if status == "completed":
                    seconds = _seconds(form, "DialCallDuration")
                    return [_line(f"{sid}:answered", caller, "call.answered", f"Call answered ({seconds} s)",
                                  _call("answered", caller, seconds=seconds))]
                return [_missed(sid, caller, status or "no-answer")]
            case "recording":
                return self._voicemail(form, sid, caller)
            case "transcribed":
                text = (_twilio.field(form, "TranscriptionText") or "").strip()
                if (_twilio.field(form, "TranscriptionStatus") or "").lower() != "completed" or not text:
                    return []
                transcription = _twilio.field(form, "TranscriptionSid") or f"{sid}:transcription"
                recording = _twilio.field(form, "RecordingSid")
                return [_line(transcription, caller, "call.transcribed", text, {"kind": "transcription"},
                              reply_to=(recording,) if recording else ())]
            case "recorded":
                return []
        raise BadPayload(f"unknown step {step!r}")

    def _voicemail(self, form: dict[str, list[str]], sid: str, caller: Party) -> list[InboundEvent]:
        if (_twilio.field(form, "RecordingStatus") or "").lower() != "completed":
            return []
        recording, url = _twilio.field(form, "RecordingSid"), _twilio.field(form, "RecordingUrl")
        if not recording or not url:
            raise BadPayload("RecordingSid or RecordingUrl missing")
        seconds = _seconds(form, "RecordingDuration")
        # Twilio serves the recording as WAV unless asked for MP3, a tenth of the size.
        audio = IncomingFile(filename=f"voicemail-{recording}.mp3", content_type="audio/mpeg", url=f"{url}.mp3")
        return [InboundMessage(channel=Channel.phone, provider_id=recording, sender=caller,
                               text=f"Voicemail ({seconds} s)", files=(audio,), reply_to=(sid,),
                               extra={"call": _call("voicemail", caller, seconds=seconds)})]

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        form = _twilio.form(raw)
        step = _step(raw)
        caller = _twilio.field(form, "From") or _query(raw).get("caller", "")
        if step == "" and (_twilio.field(form, "CallStatus") or "").lower() in _RINGING:
            return _twiml(self._ring(caller) if self.settings.voice_forward_to else self._voicemail_prompt(caller))
        if step == "dialed" and (_twilio.field(form, "DialCallStatus") or "").lower() != "completed":
            return _twiml(self._voicemail_prompt(caller))
        if step in ("dialed", "recorded"):
            return _twiml("<Hangup/>")
        return RawResponse(200, EMPTY_TWIML, "text/xml")

    def _ring(self, caller: str) -> str:
        s = self.settings
        return (f"<Dial action={quoteattr(self._url('dialed', caller))} timeout=\"{s.voice_ring_seconds}\">"
                f"<Number>{escape(s.voice_forward_to)}</Number></Dial>")

    def _voicemail_prompt(self, caller: str) -> str:
        s = self.settings
        return (f"<Say language={quoteattr(s.voice_language)}>{escape(s.voice_greeting)}</Say>"
                f"<Record maxLength=\"{s.voice_max_message_seconds}\" playBeep=\"true\""
                f" action={quoteattr(self._url('recorded', caller))}"
                f" recordingStatusCallback={quoteattr(self._url('recording', caller))}"
                f" transcribe=\"true\" transcribeCallback={quoteattr(self._url('transcribed', caller))}/>")

    def _url(self, step: str, caller: str) -> str:
        return f"{self.settings.public_base_url.rstrip('/')}{VOICE_PATH}?{urlencode({'step': step, 'caller': caller})}"

    async def send(self, message: OutboundMessage) -> SendResult:
        raise SendFailed(CANNOT_SEND, transient=False)

    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile:
        return await _twilio.fetch(reference, limit=limit, account_sid=self.settings.account_sid,
                                   auth_token=self.settings.auth_token.get_secret_value(),
                                   api_base_url=self.settings.api_base_url, read_timeout=self.settings.timeout_seconds)

    async def check(self) -> str:
        if not self.configured:
            raise CheckFailed("not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        twilio = _twilio.client(self.settings.account_sid, self.settings.auth_token.get_secret_value(),
                                self.settings.api_base_url)
        try:
            account = await _twilio.account_name(twilio, self.settings.account_sid,
                                                 api_base_url=self.settings.api_base_url,
                                                 seconds=self.settings.timeout_seconds)
        finally:
            await twilio.http_client.close()
        where = "forwarded to " + self.settings.voice_forward_to if self.settings.voice_forward_to else "to voicemail"
        return f"Twilio account {account}, calls go {where}"

    async def aclose(self) -> None:
        return None


def _step(raw: RawRequest) -> str:
    return _query(raw).get("step", "")


def _query(raw: RawRequest) -> dict[str, str]:
    if raw.query:
        return raw.query
    return {key: values[0] for key, values in parse_qs(raw.query_string, keep_blank_values=True).items()}


def _caller(form: dict[str, list[str]], raw: RawRequest, sid: str) -> Party:
    number = (_twilio.field(form, "From") or _query(raw).get("caller", "")).strip()
    name = (_twilio.field(form, "CallerName") or "").strip() or None
    if _PHONE.fullmatch(number):
        # The network says who calls, as WhatsApp says who writes: a proven number.
        return Party(number, AddressKind.phone, True, name)
    # "anonymous", a SIP or client id: only this call knows who it was.
    return Party(f"caller:{sid}", AddressKind.handle, True, name)


def _call(kind: str, caller: Party, *, seconds: int | None = None) -> dict[str, object]:
    number = caller.address if caller.kind == AddressKind.phone else None
    return {"kind": kind, "number": number, "seconds": seconds, "auto": True}


def _missed(sid: str, caller: Party, status: str) -> InboundMessage:
    # The same id whichever callback says so first (a Dial's action or the call's status): one line.
    return _line(f"{sid}:missed", caller, "call.missed", f"Missed call ({status})",
                 {**_call("missed", caller), "status": status})


def _line(provider_id: str, caller: Party, event: str, text: str, call: dict[str, object], *,
          reply_to: tuple[str, ...] = ()) -> InboundMessage:
    # A line in the thread, not a message to answer: it neither reopens the case nor counts as unread.
    return InboundMessage(channel=Channel.phone, provider_id=provider_id, sender=caller, text=text,
                          direction=Direction.event, reply_to=reply_to, extra={"event": event, "call": call})


def _seconds(form: dict[str, list[str]], name: str) -> int:
    value = _twilio.field(form, name) or "0"
    if not value.isdigit():
        raise BadPayload(f"{name} is not a number of seconds")
    return int(value)


def _twiml(verbs: str) -> RawResponse:
    return RawResponse(200, f'<?xml version="1.0" encoding="UTF-8"?><Response>{verbs}</Response>', "text/xml")
