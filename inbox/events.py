"""The adapter contract: what every channel turns a provider payload into, and back.

Adapters translate; they never decide. Identity, threading, dedupe and reopening happen once,
in inbox.ingest.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from inbox.channels import AddressKind, Channel


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    note = "note"
    event = "event"


class DeliveryStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class Party:
    """Who a message comes from (or goes to), as the channel names them."""

    address: str
    kind: AddressKind = AddressKind.handle
    # True when the channel itself proves the address (a WhatsApp number, an email sender, ...);
    # False when the customer merely typed it.
    verified: bool = True
    name: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingFile:
    filename: str
    content_type: str
    data: bytes | None = None
    # Where the provider keeps it when the adapter has not fetched the bytes yet.
    url: str | None = None
    # Already in this server's file store, uploaded to us (the web chat's uploads).
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    provider_id: str
    sender: Party
    text: str = ""
    html: str | None = None
    subject: str | None = None
    files: tuple[IncomingFile, ...] = ()
    provider_at: datetime | None = None
    # Provider ids of the message this one answers (email In-Reply-To/References, quoted replies).
    reply_to: tuple[str, ...] = ()
    # outbound: a message a staff member sent from the provider's own inbox (Messenger page echo).
    # event: something that belongs in the thread but must not reopen it (auto-replies).
    direction: Direction = Direction.inbound
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageEdited:
    channel: Channel
    provider_id: str
    text: str
    edited_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    channel: Channel
    provider_id: str
    status: DeliveryStatus
    error: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryWatermark:
    """Every outbound message to `recipient` sent at or before `up_to` has reached `status`.

    Receipts that name a moment, not messages (Messenger's delivery and read watermarks)."""

    channel: Channel
    recipient: Party
    status: DeliveryStatus
    up_to: datetime


@dataclass(frozen=True, slots=True)
class ContactShared:
    """The customer proved another address of theirs (Telegram's own-contact share)."""

    channel: Channel
    provider_id: str
    sender: Party
    shared: Party


@dataclass(frozen=True, slots=True)
class LinkOpened:
    """The customer opened a link the shop made for a known customer (Telegram's /start payload).

    The adapter cannot tell a signed payload from a typed one; ingest checks the signature and,
    when it does not hold, keeps `text` as an ordinary message."""

    channel: Channel
    provider_id: str
    sender: Party
    payload: str
    text: str
    provider_at: datetime | None = None


InboundEvent = InboundMessage | MessageEdited | DeliveryUpdate | DeliveryWatermark | ContactShared | LinkOpened


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    filename: str
    content_type: str
    path: str
    size: int
    # A signed link to the file, for providers that download it themselves (Twilio); None when the
    # server has no public address.
    url: str | None = None
    # The stored attachment, for a channel of our own that links the file itself (web chat).
    attachment_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int
    channel: Channel
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    files: tuple[OutgoingFile, ...] = ()
    # Provider ids of earlier messages in the conversation, oldest first (email threading).
    references: tuple[str, ...] = ()
    # The provider id of the customer's message this reply answers (email In-Reply-To).
    in_reply_to: str | None = None
    author_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str
    status: DeliveryStatus = DeliveryStatus.sent


class SendFailed(Exception):
    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """An inbound file's bytes, fetched from the provider after the webhook was answered."""

    data: bytes
    # What the provider says the file is; None keeps what the webhook said.
    content_type: str | None = None
    filename: str | None = None


class FetchFailed(Exception):
    """An inbound file could not be fetched. transient: try again later; else give up and say why."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient

    @classmethod
    def too_large(cls, limit: int) -> "FetchFailed":
        # MB as MAX_ATTACHMENT_BYTES counts them (25 MB is 25 × 1,048,576 bytes).
        return cls(f"larger than {limit / 1_048_576:.3g} MB, the most this inbox keeps", transient=False)


@dataclass(frozen=True, slots=True)
class IncomingLine:
    title: str
    quantity: int
    price: Decimal
    sku: str = ""


@dataclass(frozen=True, slots=True)
class IncomingOrder:
    external_id: str
    status: str
    total: Decimal
    currency: str
    placed_at: datetime
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    number: str | None = None
    lines: Sequence[IncomingLine] = field(default_factory=tuple)
    tracking_url: str | None = None
    store_name: str | None = None
    # When the shop last changed it: an older update arriving late must not undo a newer one.
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderReported:
    """A shop's webhook said what an order now is (created, updated, fulfilled, cancelled).

    (source, event_id) is the shop's own id for this event, the same on every retry: it is
    applied once."""

    source: str
    event_id: str
    topic: str
    order: IncomingOrder


@dataclass(frozen=True, slots=True)
class RefundReported:
    """Money went back to the customer for an order; refund_id is the shop's id for the refund."""

    source: str
    event_id: str
    topic: str
    order_external_id: str
    refund_id: str
    amount: Decimal
    at: datetime


ShopEvent = OrderReported | RefundReported
