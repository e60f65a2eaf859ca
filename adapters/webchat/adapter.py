"""The web chat widget: our own channel, so no provider, but the same contract as the others.

verify   the shop's signature on a signed-in shopper (WIDGET_IDENTITY_SECRET): HMAC-SHA256, hex, of the
         shopper's email, or of their account id when the shop gives no email (as Intercom and
         Chatwoot verify identities). A good one makes the shopper a verified identity.
parse    a widget frame (adapters/webchat/frames.py) from a visitor the socket already proved
         (web/routes/widget_socket.py puts its address in the request's headers).
send     hands an agent's reply to an injected publish callable, the visitor's live topic; this
         module knows no hub. A visitor who is away catches up from the table when they return.
"""

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from adapters.base import BadPayload, BadSignature, RawRequest, RawResponse, read_json
from adapters.webchat import frames
from adapters.webchat.settings import WebchatSettings
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

# (topic, frame) → delivered to every socket listening on that topic, in any process.
Publish = Callable[[str, dict[str, Any]], None]
Clock = Callable[[], datetime]

# The visitor a frame is from, as the socket proved it.
VISITOR_HEADER = "x-webchat-visitor"
VISITOR_KIND_HEADER = "x-webchat-visitor-kind"
VISITOR_NAME_HEADER = "x-webchat-visitor-name"
NO_HUB = "the web chat has no live connection to publish on"
# What a visitor may send, and what its first bytes must be: a browser's type is only a claim.
UPLOAD_TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",), "application/pdf": (b"%PDF-",), "text/plain": (),
}


def _now() -> datetime:
    return datetime.now(UTC)


class Adapter:
    channel: ClassVar[Channel] = Channel.webchat
    # No provider calls us: frames arrive over /ws/widget, sessions at /widget/session.
    paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: WebchatSettings | None = None, *, publish: Publish | None = None,
                 clock: Clock = _now) -> None:
        self.settings = settings or WebchatSettings()
        self._publish = publish
        self._clock = clock

    @property
    def configured(self) -> bool:
        # Nothing to set up: the widget works anonymously; the identity secret only adds verified shoppers.
        return True

    @property
    def identifies_shoppers(self) -> bool:
        return bool(self.settings.identity_secret.get_secret_value())

    def verify(self, raw: RawRequest) -> None:
        """A widget's session request: a shopper it names must carry the shop's signature."""
        self.shopper(raw)

    def shopper(self, raw: RawRequest) -> Party | None:
        """The signed-in shopper of a session request, verified; None for an anonymous visitor."""
        user = _json(raw.body).get("user")
        if user is None:
            return None
        if not isinstance(user, dict):
            raise BadPayload("user: must be an object")
        email, account, name, given = (_text(user, key, limit) for key, limit in (
            ("email", 320), ("id", 100), ("name", 200), ("hash", 128)))
        signed = email or account
        if not signed:
            raise BadPayload("user: needs an email or an id")
        secret = self.settings.identity_secret.get_secret_value()
        if not secret:
            raise BadSignature("WIDGET_IDENTITY_SECRET is not set, so no shopper can be identified")
        expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
            raise BadSignature("user.hash does not match")
        if email:
            return Party(email, AddressKind.email, True, name or None)
        return Party(f"shop:{account}", AddressKind.handle, True, name or None)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        return self.events(frames.read(raw.body), _visitor(raw))

    def events(self, frame: frames.ClientFrame, visitor: Party) -> list[InboundEvent]:
        """What a frame means for the inbox; typing, pings and hellos are the socket's own business."""
        match frame:
            case frames.Message():
                return [InboundMessage(
                    channel=Channel.webchat, provider_id=provider_id(visitor.address, frame.client_msg_id),
                    sender=visitor, text=frame.text.replace("\x00", "").strip(),
                    files=tuple(self._file(ref) for ref in frame.files),
                    extra={"client_msg_id": frame.client_msg_id})]
            case frames.Receipt():
                # By our own provider ids (see send): a receipt that comes before the send is recorded
                # is held until it is, as Twilio's early callbacks are. Which ids a visitor may name
                # is the socket's to check: it knows what it showed them.
                status = DeliveryStatus.read if frame.type == "read" else DeliveryStatus.delivered
                return [DeliveryUpdate(Channel.webchat, reply_provider_id(message_id), status)
                        for message_id in frame.ids]
        return []

    def _file(self, ref: frames.FileRef) -> IncomingFile:
        if ref.type not in UPLOAD_TYPES:
            raise BadPayload(f"files: {ref.type} is not a file the chat takes")
        return IncomingFile(filename=ref.name, content_type=ref.type, sha256=ref.sha256)

    def check_upload(self, *, filename: str, content_type: str, data: bytes) -> None:
        """Refuse what the widget must not send: too large, another type, or bytes that are not that type."""
        limit = self.settings.max_upload_bytes
        if len(data) > limit:
            raise BadPayload(f"larger than {limit / 1_048_576:.3g} MB")
        if not data:
            raise BadPayload("the file is empty")
        if not filename.strip():
            raise BadPayload("the file has no name")
        magic = UPLOAD_TYPES.get(content_type)
        if magic is None:
            raise BadPayload(f"{content_type or 'this type'} is not a file the chat takes: send an image, a PDF or "
                             "a text file")
        if magic and not data.startswith(magic):
            raise BadPayload(f"the file is not the {content_type} it says it is")
        if content_type == "text/plain":
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise BadPayload("a text file must be UTF-8") from None

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        return RawResponse(200, "", "text/plain")

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._publish is None:
            raise SendFailed(NO_HUB, transient=True)
        self._publish(frames.visitor_topic(message.to), frames.message(
            message_id=message.message_id, author="agent", name=message.author_name or "", text=message.text,
            ts=self._clock().isoformat(),
            files=[frames.file(attachment_id=f.attachment_id, name=f.filename, content_type=f.content_type,
                               size=f.size) for f in message.files]))
        # Handed to every open widget of the visitor's; one that is closed reads it from the table later.
        return SendResult(provider_id=reply_provider_id(message.message_id), status=DeliveryStatus.sent)

    async def check(self) -> str:
        verified = "signed-in shoppers verified" if self.identifies_shoppers else \
            "anonymous visitors only (set WIDGET_IDENTITY_SECRET to verify signed-in shoppers)"
        return f"web chat: {verified}"

    async def aclose(self) -> None:
        return None


def reply_provider_id(message_id: int) -> str:
    return f"webchat:{message_id}"


def provider_id(address: str, client_msg_id: str) -> str:
    # client_msg_id is unique per visitor only: a digest of the address keeps two visitors' ids apart.
    return f"{hashlib.sha256(address.encode()).hexdigest()[:16]}:{client_msg_id}"


def _visitor(raw: RawRequest) -> Party:
    address = raw.headers.get(VISITOR_HEADER, "")
    if not address:
        raise BadPayload("no visitor: frames come through the widget's socket")
    kind = AddressKind(raw.headers.get(VISITOR_KIND_HEADER, AddressKind.handle))
    return Party(address, kind, True, raw.headers.get(VISITOR_NAME_HEADER) or None)


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    data = read_json(body)
    if not isinstance(data, dict):
        raise BadPayload("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadPayload(f"user.{key}: must be text")
    text = str(value).strip()
    if len(text) > limit:
        raise BadPayload(f"user.{key}: longer than {limit} characters")
    return text
