"""Meta's webhook body read through types: a signed body with a bad field is a 400 naming it."""

import mimetypes
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    DeliveryWatermark,
    Direction,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    Party,
)

# Our mark in the Send API's `metadata`; echoes carry it back, so our own sends are recognised
# even without META_APP_ID and for every part of a reply that went out as several messages.
OUR_METADATA = "onethread:"

FILE_KINDS = ("image", "video", "audio", "file")
# What the CDN file is when its name says nothing (Messenger voice clips are MP4 audio).
_DEFAULT_TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mp4", "file": "application/octet-stream"}


class _Model(BaseModel):
    # Meta adds fields without notice; ids arrive as strings, app_id as a number.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class _Id(_Model):
    id: str


class _Attachment(_Model):
    type: str
    payload: dict[str, Any] | None = None
    title: str | None = None
    url: str | None = None


class _QuickReply(_Model):
    payload: str = ""


class _ReplyTo(_Model):
    mid: str | None = None


class _Message(_Model):
    mid: str
    text: str = ""
    attachments: list[_Attachment] = []
    quick_reply: _QuickReply | None = None
    reply_to: _ReplyTo | None = None
    is_echo: bool = False
    app_id: str | None = None
    metadata: str | None = None


class _Postback(_Model):
    title: str = ""
    payload: str = ""
    mid: str | None = None


class _Watermark(_Model):
    watermark: int
    mids: list[str] = []


class _Messaging(_Model):
    sender: _Id
    recipient: _Id
    timestamp: int | None = None
    message: _Message | None = None
    postback: _Postback | None = None
    delivery: _Watermark | None = None
    read: _Watermark | None = None


class _Entry(_Model):
    id: str
    # Events for threads another app owns (handover protocol) come in `standby` and are not ours to show.
    messaging: list[dict[str, Any]] = []


class _Body(_Model):
    object: str
    entry: list[_Entry]


_M = TypeVar("_M", bound=_Model)


class Unreadable(Exception):
    """The body is not what Meta sends; the message names the place."""


def events(body: Any, *, app_id: str) -> list[InboundEvent]:
    """A webhook body as normalized events; event kinds we do not handle are left out."""
    envelope = _read(_Body, body, "")
    if envelope.object != "page":
        return []
    found: list[InboundEvent] = []
    for e, entry in enumerate(envelope.entry):
        for m, raw in enumerate(entry.messaging):
            found += _event(_read(_Messaging, raw, f"entry[{e}].messaging[{m}]"), app_id=app_id)
    return found


def _read(model: type[_M], data: Any, where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join([where, *(str(part) for part in first["loc"])]).strip(".") or "body"
        raise Unreadable(f"{place}: {first['msg']}") from error


def _event(event: _Messaging, *, app_id: str) -> list[InboundEvent]:
    if event.message is not None:
        return _message(event, event.message, app_id=app_id)
    if event.postback is not None:
        return [_postback(event, event.postback)]
    # Receipts come from the customer: sender is the person whose messages from us were delivered/read.
    customer = Party(event.sender.id, AddressKind.handle, True)
    if event.delivery is not None:
        receipts: list[InboundEvent] = [DeliveryUpdate(Channel.messenger, mid, DeliveryStatus.delivered)
                                        for mid in event.delivery.mids]
        return [*receipts, DeliveryWatermark(Channel.messenger, customer, DeliveryStatus.delivered,
                                             _time(event.delivery.watermark))]
    if event.read is not None:
        return [DeliveryWatermark(Channel.messenger, customer, DeliveryStatus.read, _time(event.read.watermark))]
    # reaction, referral, optin, message_edit, …: acknowledged and left out (docs/channels/messenger.md).
    return []


def _message(event: _Messaging, message: _Message, *, app_id: str) -> list[InboundEvent]:
    if message.is_echo and (
            (app_id and message.app_id == app_id) or (message.metadata or "").startswith(OUR_METADATA)):
        # Our own send coming back: already in the thread, under the mid the Send API returned.
        return []
    # An echo is the Page writing to the customer: it belongs in the customer's thread, as ours.
    customer = event.recipient.id if message.is_echo else event.sender.id
    text = message.text
    extra: dict[str, Any] = {}
    files: list[IncomingFile] = []
    stickers: set[str] = set()
    for attachment in message.attachments:
        payload = attachment.payload or {}
        sticker = payload.get("sticker_id")
        if attachment.type == "sticker" or sticker is not None:
            # Until Meta's change of 30 Aug 2026 one sticker arrives twice (as image and as sticker).
            key = str(sticker or payload.get("url"))
            if key in stickers:
                continue
            stickers.add(key)
            extra.setdefault("stickers", []).append(key)
        url = payload.get("url")
        if attachment.type in (*FILE_KINDS, "sticker") and isinstance(url, str) and url:
            files.append(_file(attachment.type, url, len(files)))
        elif attachment.type == "location":
            extra["location"] = _location(payload, attachment.title)
        else:
            # Shared posts, reels and links: what they are and where, for the agent to open.
            link = url if isinstance(url, str) else attachment.url
            extra.setdefault("shared", []).append(
                {"type": attachment.type, "title": attachment.title or "", "url": link or ""})
    if message.quick_reply is not None:
        extra["button"] = {"text": text, "payload": message.quick_reply.payload}
    return [InboundMessage(
        channel=Channel.messenger, provider_id=message.mid,
        sender=Party(customer, AddressKind.handle, True),
        text=text.replace("\x00", ""), files=tuple(files), provider_at=_at(event.timestamp),
        reply_to=(message.reply_to.mid,) if message.reply_to and message.reply_to.mid else (),
        direction=Direction.outbound if message.is_echo else Direction.inbound, extra=extra)]


def _postback(event: _Messaging, postback: _Postback) -> InboundMessage:
    # Postbacks from before Meta added `mid` have none: the customer and the moment identify the tap.
    provider_id = postback.mid or f"postback:{event.sender.id}:{event.timestamp}"
    return InboundMessage(
        channel=Channel.messenger, provider_id=provider_id, sender=Party(event.sender.id, AddressKind.handle, True),
        text=postback.title or postback.payload, provider_at=_at(event.timestamp),
        extra={"button": {"text": postback.title, "payload": postback.payload}})


def _file(kind: str, url: str, index: int) -> IncomingFile:
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or f"{kind}{index}"
    guessed = mimetypes.guess_type(name)[0]
    if kind == "audio" and guessed and guessed.startswith("video/"):
        # Voice clips come as .mp4: audio, so the inbox offers a player, not a video frame.
        guessed = "audio/" + guessed.removeprefix("video/")
    content_type = "image/png" if kind == "sticker" and guessed is None else (
        guessed or _DEFAULT_TYPES.get(kind, "application/octet-stream"))
    if "." not in name:
        name += mimetypes.guess_extension(content_type) or ""
    return IncomingFile(filename=name, content_type=content_type, url=url)


def _location(payload: dict[str, Any], title: str | None) -> dict[str, Any]:
    coordinates: Any = payload.get("coordinates")
    try:
        location: dict[str, Any] = {"latitude": float(coordinates["lat"]), "longitude": float(coordinates["long"])}
    except (TypeError, KeyError, ValueError) as error:
        raise Unreadable("location attachment without payload.coordinates.lat/long") from error
    if title:
        location["label"] = title
    return location


def _time(milliseconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise Unreadable(f"timestamp out of range: {milliseconds}") from error


def _at(milliseconds: int | None) -> datetime | None:
    return _time(milliseconds) if milliseconds is not None else None
