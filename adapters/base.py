"""The contract every channel adapter fulfils; web/routes/webhooks.py is its only HTTP caller."""

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from inbox.channels import Channel
from inbox.events import InboundEvent, OutboundMessage, SendResult


@dataclass(frozen=True, slots=True)
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str] = field(default_factory=dict)
    # As received: signatures over the URL must see the provider's own encoding.
    query_string: str = ""
    body: bytes = b""
    # Decoded form fields (Twilio signs these, not the bytes); empty for JSON bodies.
    form: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int = 200
    body: str = ""
    media_type: str = "text/plain"


class BadSignature(Exception):
    """The request cannot be proven to come from the provider: 403, nothing stored."""


class BadPayload(Exception):
    """The request is signed but unreadable: 400 with this message, nothing stored."""


class NotConfigured(Exception):
    """The channel has no credentials: its webhook answers 404."""


class Adapter(Protocol):
    channel: ClassVar[Channel]
    # Public paths this adapter answers, e.g. ("/webhooks/twilio/whatsapp", "/webhooks/twilio/status").
    paths: ClassVar[tuple[str, ...]]

    @property
    def configured(self) -> bool: ...

    def verify(self, raw: RawRequest) -> None: ...

    def parse(self, raw: RawRequest) -> list[InboundEvent]: ...

    def acknowledge(self, raw: RawRequest) -> RawResponse: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...


@runtime_checkable
class Handshake(Protocol):
    """Optional: providers that verify a webhook URL with a GET first (Messenger)."""

    def handshake(self, raw: RawRequest) -> RawResponse: ...
