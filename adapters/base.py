"""The contract every channel adapter fulfils; web/routes/webhooks.py is its only HTTP caller."""

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import unquote

from pydantic import ValidationError

from inbox.channels import Channel

# Part of this contract, defined in the domain so the media worker can read them.
from inbox.events import FetchedFile as FetchedFile
from inbox.events import FetchFailed as FetchFailed
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


def parse_form(body: bytes) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body as urllib's parse_qs(keep_blank_values=True) reads it.

    Each webhook parses one, and parse_qs's general path costs more than Twilio's signature
    check: names and most values need no unquoting at all. Raises BadPayload for non-UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadPayload("the form is not UTF-8 url-encoded") from error
    form: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        form.setdefault(name, []).append(value)
    return form


def read_json(body: bytes) -> Any:
    """The body as JSON; BadPayload for anything else.

    Nesting deeper than the parser recurses (`[[[[…` thousands deep, still valid JSON) raises
    RecursionError, which is no ValueError: caught here, or it would be a 500.
    """
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadPayload("the body is not JSON") from error
    except RecursionError:
        raise BadPayload("the body is not JSON: nested too deeply") from None


class BadSignature(Exception):
    """The request cannot be proven to come from the provider: 403, nothing stored."""


class BadPayload(Exception):
    """The request is signed but unreadable: 400 with this message, nothing stored."""

    @classmethod
    def naming(cls, error: ValidationError, whole: str) -> "BadPayload":
        """A Pydantic error as one line naming the first field at fault ("customer.email: …")."""
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or whole
        return cls(f"{where}: {first['msg']}")


class NotConfigured(Exception):
    """The channel has no credentials: its webhook answers 404."""


class CheckFailed(Exception):
    """`onethread channels check`: the provider refused our credentials or could not be reached."""


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

    async def check(self) -> str:
        """One line naming the account the credentials open; raises CheckFailed."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Handshake(Protocol):
    """Optional: providers that verify a webhook URL with a GET first (Messenger)."""

    def handshake(self, raw: RawRequest) -> RawResponse: ...


@runtime_checkable
class MediaSource(Protocol):
    """Optional: channels whose inbound files stay at the provider (IncomingFile.url holds the
    adapter's own reference) until the media worker fetches them, after the webhook is answered."""

    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile:
        """The file's bytes; FetchFailed(transient=False) for anything over `limit` bytes."""
        ...


@runtime_checkable
class NamesSenders(Protocol):
    """Optional: channels whose webhooks carry no sender name (Messenger). The name is asked for
    after the message is committed (inbox.customers.names), never on the webhook's path."""

    async def sender_name(self, address: str) -> str | None:
        """The provider's name for this sender, or None when it has none or refuses to say."""
        ...
