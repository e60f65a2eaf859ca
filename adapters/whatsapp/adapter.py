"""WhatsApp through Twilio: signed form webhooks in, the Messages API out."""

import asyncio
import json
import mimetypes
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from adapters import _twilio
from adapters.base import BadPayload, CheckFailed, FetchedFile, RawRequest, RawResponse
from adapters.whatsapp.settings import WhatsAppSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    OutboundMessage,
    Party,
    SendFailed,
    SendResult,
)

INBOUND_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
PREFIX = "whatsapp:"
MAX_MEDIA_BYTES = 16_000_000

# The Twilio error codes an agent meets with WhatsApp (PROTOCOLS §1.4), said so they know what to do.
ERRORS: dict[int, str] = {
    63016: "Outside the 24-hour WhatsApp window: send an approved template",
    63003: "The number is not on WhatsApp",
    21211: "Invalid 'To' number",
    21617: "The message is longer than 1600 characters",
    63007: "The 'From' number is not a WhatsApp sender on this Twilio account",
    63018: "WhatsApp rate limit reached",
    63024: "Invalid recipient",
    63013: "WhatsApp policy violation (e.g. an empty template variable)",
    63021: "Content WhatsApp does not accept (media type, template length)",
    63019: "Twilio could not download the media",
    20429: "Too many requests to Twilio",
    20003: "Twilio refused the account SID / auth token",
}
# Rate limits clear by themselves; every other 4xx will fail the same way next time.
_TRANSIENT_CODES = {63018, 20429}

# Twilio's MessageStatus → ours. None: nothing to record (accepted/queued are where we already are).
_STATUSES: dict[str, DeliveryStatus | None] = {
    "queued": None, "accepted": None, "scheduled": None, "partially_delivered": None,
    "sending": DeliveryStatus.sending, "sent": DeliveryStatus.sent, "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.read,
    "failed": DeliveryStatus.failed, "undelivered": DeliveryStatus.failed, "canceled": DeliveryStatus.failed,
}

_PHONE = re.compile(r"\+?\d{6,15}")
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4",
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/amr": ".amr", "audio/aac": ".aac",
    "application/pdf": ".pdf", "text/vcard": ".vcf", "text/x-vcard": ".vcf",
}


class Adapter:
    channel: ClassVar[Channel] = Channel.whatsapp
    paths: ClassVar[tuple[str, ...]] = (INBOUND_PATH, STATUS_PATH)

    def __init__(self, settings: WhatsAppSettings | None = None) -> None:
        self.settings = settings or WhatsAppSettings()
        self._client: Client | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.account_sid and s.auth_token.get_secret_value() and s.whatsapp_from)

    def verify(self, raw: RawRequest) -> None:
        _twilio.verify(raw, auth_token=self.settings.auth_token.get_secret_value(),
                       public_base_url=self.settings.public_base_url)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        form = _twilio.form(raw)
        sid = _twilio.field(form, "MessageSid")
        if not sid:
            raise BadPayload("MessageSid missing")
        if _is_status(form):
            update = _status(form, sid)
            return [update] if update is not None else []
        return [_inbound(form, sid)]

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        # Messages get TwiML (an empty one: replies go out through the API); status callbacks nothing.
        if _is_status(_twilio.form(raw)):
            return RawResponse(200, "", "text/plain")
        return RawResponse(200, EMPTY_TWIML, "text/xml")

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.configured:
            raise SendFailed("WhatsApp is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                             "TWILIO_WHATSAPP_FROM", transient=False)
        params: dict[str, Any] = {"from_": _whatsapp(self.settings.whatsapp_from), "to": _whatsapp(message.to),
                                  "body": message.text}
        if message.files:
            params["media_url"] = _media_urls(message)
        if template := message.extra.get("template"):
            # Twilio sends its own approved copy of the text: no Body or media beside a ContentSid (PROTOCOLS §1.5).
            params = {"from_": params["from_"], "to": params["to"], "content_sid": template["content_sid"],
                      "content_variables": json.dumps(template.get("variables") or {}, ensure_ascii=False)}
        if self.settings.public_base_url:
            params["status_callback"] = self.settings.public_base_url.rstrip("/") + STATUS_PATH
        client = self._client_for_running_loop()
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                created = await client.messages.create_async(**params)
        except TwilioRestException as error:
            raise _refused(error.status, error.code, error.msg) from error
        except TwilioServiceException as error:
            raise _refused(error.status, error.code, error.detail or error.title) from error
        except aiohttp.ClientConnectorError as error:
            # Never connected, so nothing was sent: safe to try again.
            raise SendFailed(f"Twilio unreachable: {error or type(error).__name__}", transient=True) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            # The request may have reached Twilio and created the message; Twilio's Messages API
            # takes no idempotency key, so a retry could send it twice. An agent decides.
            what = (f"Twilio did not answer within {self.settings.timeout_seconds:g} s"
                    if isinstance(error, TimeoutError) else f"the connection to Twilio broke ({type(error).__name__})")
            raise SendFailed(f"{what}: the message may or may not have been sent; check before retrying",
                             transient=False) from error
        return SendResult(provider_id=str(created.sid))

    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile:
        return await _twilio.fetch(reference, limit=limit, account_sid=self.settings.account_sid,
                                   auth_token=self.settings.auth_token.get_secret_value(),
                                   api_base_url=self.settings.api_base_url,
                                   read_timeout=self.settings.timeout_seconds)

    async def check(self) -> str:
        if not self.configured:
            raise CheckFailed("not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM")
        account = await _twilio.account_name(self._client_for_running_loop(), self.settings.account_sid,
                                             api_base_url=self.settings.api_base_url,
                                             seconds=self.settings.timeout_seconds)
        return f"Twilio account {account}, sending from {self.settings.whatsapp_from}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None

    def _client_for_running_loop(self) -> Client:
        loop = asyncio.get_running_loop()
        # The aiohttp session inside belongs to the loop that created it.
        if self._client is None or self._client_loop is not loop:
            self._client = _twilio.client(self.settings.account_sid, self.settings.auth_token.get_secret_value(),
                                          self.settings.api_base_url)
            self._client_loop = loop
        return self._client


def _media_urls(message: OutboundMessage) -> list[str]:
    # WhatsApp shows one file per message (PROTOCOLS §1.4); Twilio downloads it from our signed link.
    if len(message.files) > 1:
        raise SendFailed("WhatsApp takes one file per message: send the files one at a time", transient=False)
    file = message.files[0]
    if file.url is None:
        raise SendFailed("Twilio must download the file from this server: set PUBLIC_BASE_URL", transient=False)
    if file.size > MAX_MEDIA_BYTES:
        raise SendFailed(f"WhatsApp takes files up to {MAX_MEDIA_BYTES // 1_000_000} MB", transient=False)
    return [file.url]


def _is_status(form: dict[str, list[str]]) -> bool:
    # Only status callbacks carry MessageStatus today; should Twilio add "received" to inbound
    # webhooks, they must still arrive as messages, never vanish as an ignored status.
    return (_twilio.field(form, "MessageStatus") or "received").lower() not in ("received", "receiving")


def _whatsapp(address: str) -> str:
    return address if address.startswith(PREFIX) else PREFIX + address


def _sender(form: dict[str, list[str]]) -> Party:
    sender = _twilio.field(form, "From") or ""
    bare = sender.removeprefix(PREFIX)
    if not bare:
        raise BadPayload("From missing")
    name = (_twilio.field(form, "ProfileName") or "").strip() or None
    # Users with a WhatsApp username may hide their number: From is then "whatsapp:TR.AbC123…",
    # an id that only this channel knows.
    kind = AddressKind.phone if _PHONE.fullmatch(bare) else AddressKind.handle
    return Party(sender, kind, True, name)


def _inbound(form: dict[str, list[str]], sid: str) -> InboundMessage:
    extra: dict[str, Any] = {}
    latitude, longitude = _twilio.field(form, "Latitude"), _twilio.field(form, "Longitude")
    if latitude and longitude:
        try:
            location: dict[str, Any] = {"latitude": float(latitude), "longitude": float(longitude)}
        except ValueError as error:
            raise BadPayload("Latitude/Longitude are not numbers") from error
        for key in ("Address", "Label"):
            if value := _twilio.field(form, key):
                location[key.lower()] = value
        extra["location"] = location
    button_text, button_payload = _twilio.field(form, "ButtonText"), _twilio.field(form, "ButtonPayload")
    if button_text or button_payload:
        extra["button"] = {"text": button_text or "", "payload": button_payload or ""}
    replied = _twilio.field(form, "OriginalRepliedMessageSid")
    return InboundMessage(
        channel=Channel.whatsapp, provider_id=sid, sender=_sender(form),
        # PostgreSQL text cannot hold U+0000 and WhatsApp bodies sometimes carry it.
        text=(_twilio.field(form, "Body") or "").replace("\x00", ""),
        files=_files(form), reply_to=(replied,) if replied else (), extra=extra,
    )


def _files(form: dict[str, list[str]]) -> tuple[IncomingFile, ...]:
    try:
        count = int(_twilio.field(form, "NumMedia") or 0)
    except ValueError as error:
        raise BadPayload("NumMedia is not a number") from error
    files = []
    for index in range(count):
        url = _twilio.field(form, f"MediaUrl{index}")
        if not url:
            raise BadPayload(f"MediaUrl{index} missing")
        content_type = _twilio.field(form, f"MediaContentType{index}") or "application/octet-stream"
        files.append(IncomingFile(filename=_filename(url, content_type, index), content_type=content_type, url=url))
    return tuple(files)


def _filename(url: str, content_type: str, index: int) -> str:
    # Twilio sends no file name: the media sid (ME…) plus an extension for the content type.
    stem = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or f"media{index}"
    extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return stem + extension


def _status(form: dict[str, list[str]], sid: str) -> DeliveryUpdate | None:
    status = _STATUSES.get((_twilio.field(form, "MessageStatus") or "").lower())
    if status is None:
        # Statuses we already hold, and any Twilio adds later: nothing to record.
        return None
    error = None
    if status == DeliveryStatus.failed:
        error = _explain(_twilio.field(form, "ErrorCode"),
                         _twilio.field(form, "ErrorMessage") or _twilio.field(form, "ChannelStatusMessage"),
                         fallback=f"Twilio reported the message {_twilio.field(form, 'MessageStatus')}")
    return DeliveryUpdate(channel=Channel.whatsapp, provider_id=sid, status=status, error=error)


def _explain(code: str | None, message: str | None, *, fallback: str) -> str:
    if not code:
        return message or fallback
    known = ERRORS.get(int(code)) if code.isdigit() else None
    return f"{code}: {known or message or fallback}"


def _refused(status: int, code: int | None, message: str) -> SendFailed:
    text = message.removeprefix("Unable to create record: ")
    known = ERRORS.get(code) if code is not None else None
    reason = f"{code or status}: {known} (Twilio: {text})" if known else f"{code or status}: {text}"
    transient = status == 429 or status >= 500 or code in _TRANSIENT_CODES
    return SendFailed(reason, transient=transient)
