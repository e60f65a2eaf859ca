"""Email: RFC 5322 in (from the SMTP listener or IMAP), aiosmtplib out to SMTP_HOST.

Mail has no webhook: smtp.py and imap.py hand each mail to parse() as a RawRequest whose body is
the mail's bytes and whose headers carry the SMTP envelope, and web/ ingests what it returns.
"""

import asyncio
import hashlib
import logging
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import aiosmtplib

from adapters.base import BadPayload, CheckFailed, RawRequest, RawResponse
from adapters.email import automatic, history, imap, mime
from adapters.email.compose import compose
from adapters.email.settings import EmailSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    Direction,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    Party,
    SendFailed,
    SendResult,
)

log = logging.getLogger(__name__)

# Set by the SMTP listener: MAIL FROM ("" for the null sender <>) and the accepted RCPT TOs.
ENVELOPE_FROM = "x-envelope-from"
ENVELOPE_TO = "x-envelope-to"
NOT_CONFIGURED = "email is not configured: set SMTP_HOST and SUPPORT_ADDRESSES (or SMTP_FROM)"
AUTO_REPLY = "email.auto_reply"
MAX_PROVIDER_ID = 255
# RFC 5322's line limit, and what the column holds.
MAX_SUBJECT = 998
MAX_REPLY_TO = 50


class Adapter:
    channel: ClassVar[Channel] = Channel.email
    # Mail arrives over SMTP or IMAP, never through a webhook.
    paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: EmailSettings | None = None) -> None:
        self.settings = settings or EmailSettings()

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host and self.settings.from_address)

    def verify(self, raw: RawRequest) -> None:
        # Nothing to check here: SMTP carries no signature. SPF, DKIM and DMARC are the job of the
        # MTA in front of the listener (docs/channels/email.md); RCPT TO is checked by smtp.py.
        return None

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        """The mail as the inbox keeps it; BadPayload only when it names no sender at all.

        Anything else, however damaged, is kept as well as it can be read: a customer's mail is
        never bounced for its encoding.
        """
        envelope_from = raw.headers.get(ENVELOPE_FROM)
        try:
            message = mime.read(raw.body)
            found = automatic.bounce(message)
        except Exception:
            log.warning("email: could not read the mail's structure; keeping its text as it came", exc_info=True)
            return [self._as_it_came(raw, envelope_from)]
        if found is not None:
            if not found.failed:
                return []  # delayed: the relay is still trying, our reply stays "sent"
            return [DeliveryUpdate(Channel.email, found.original_id, DeliveryStatus.failed, error=found.reason)]
        try:
            return [self._message(message, raw, envelope_from)]
        except BadPayload:
            raise
        except Exception:
            log.warning("email: could not read the mail's parts; keeping its text as it came", exc_info=True)
            return [self._as_it_came(raw, envelope_from)]

    def _message(self, message: Any, raw: RawRequest, envelope_from: str | None) -> InboundMessage:
        name, address = mime.sender(message)
        address = address or _address_or_empty(envelope_from)
        if not address:
            raise BadPayload("the mail names no sender address (From)")
        body = mime.body(message)
        text, folded = history.split(body.text)
        details: dict[str, Any] = {}
        if folded:
            details["full_text"] = body.text
        if body.cids:
            details["cids"] = body.cids
        defects = _defects(message)
        if defects:
            details["defects"] = defects
        extra: dict[str, Any] = {"email": details} if details else {}
        reason = automatic.auto_reply(message, envelope_from=envelope_from)
        if reason is not None:
            extra.update(event=AUTO_REPLY, reason=reason)
        references = mime.header_ids(message, "References")
        replying_to = mime.header_ids(message, "In-Reply-To")[:1]
        # Newest last, as ingest looks them up: the mail it answers, then its ancestors.
        reply_to = tuple(dict.fromkeys([*references, *replying_to]))[-MAX_REPLY_TO:]
        subject = _printable(mime.header(message, "Subject"))[:MAX_SUBJECT]
        return InboundMessage(
            channel=Channel.email, provider_id=_provider_id(message, raw.body),
            sender=Party(_printable(address), AddressKind.email, verified=True, name=_printable(name) or None),
            text=text, html=body.html, subject=subject or None, files=body.files,
            provider_at=_date(mime.header(message, "Date")), reply_to=reply_to,
            direction=Direction.event if reason is not None else Direction.inbound, extra=extra)

    def _as_it_came(self, raw: RawRequest, envelope_from: str | None) -> InboundMessage:
        address = _address_or_empty(envelope_from)
        if not address:
            raise BadPayload("the mail cannot be read and its envelope names no sender")
        return InboundMessage(channel=Channel.email, provider_id=_hashed(raw.body),
                              sender=Party(address, AddressKind.email, verified=True),
                              text=mime.text_of(mime.read(b"Content-Type: text/plain\r\n\r\n" + raw.body)),
                              extra={"email": {"defects": ["unreadable structure"]}})

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        return RawResponse(250, "2.0.0 OK: kept")

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.configured:
            raise SendFailed(NOT_CONFIGURED, transient=False)
        settings = self.settings
        sender = settings.from_address
        try:
            # Attachments are read from disk: off the event loop.
            mail = await asyncio.to_thread(compose, message, from_address=sender, from_name=settings.smtp_from_name,
                                           domain=sender.rpartition("@")[2] or "localhost")
        except OSError as error:
            raise SendFailed(f"an attachment could not be read: {error.strerror or error}", transient=False) from error
        try:
            await aiosmtplib.send(mail, sender=sender, recipients=[message.to], **self._connection())
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0] if error.recipients else None
            raise _refused(refused.code, refused.message) if refused else SendFailed(
                "the relay refused the recipient", transient=False) from error
        except aiosmtplib.SMTPAuthenticationError as error:
            raise SendFailed(f"the relay refused SMTP_USERNAME/SMTP_PASSWORD: {error.code} {error.message}",
                             transient=False) from error
        except aiosmtplib.SMTPResponseException as error:
            raise _refused(error.code, error.message) from error
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected,
                OSError) as error:
            # No 250 came back: RFC 5321 has the sender try again, as every MTA does.
            raise SendFailed(f"the relay {settings.smtp_host}:{settings.smtp_port} could not be reached "
                             f"({type(error).__name__}: {error})", transient=True) from error
        except aiosmtplib.SMTPException as error:
            # STARTTLS or AUTH required but not offered, an address the relay cannot carry…
            raise SendFailed(f"the relay cannot take this mail: {error}", transient=False) from error
        return SendResult(provider_id=str(mail["Message-ID"]))

    def _connection(self) -> dict[str, Any]:
        settings = self.settings
        security = settings.smtp_security.strip().lower()
        context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
        return {
            "hostname": settings.smtp_host, "port": settings.smtp_port,
            "username": settings.smtp_username or None,
            "password": settings.smtp_password.get_secret_value() or None,
            "use_tls": security == "tls",
            "start_tls": {"require": True, "off": False, "tls": False}.get(security),
            "tls_context": context, "timeout": settings.smtp_timeout_seconds,
        }

    async def check(self) -> str:
        """The relay replies go through, and the IMAP mailbox when one is set."""
        if not self.configured:
            raise CheckFailed(f"not configured: {NOT_CONFIGURED.split(': ', 1)[1]}")
        relay = await self._check_relay()
        if not self.settings.polling:
            return relay
        try:
            return f"{relay}; {await imap.check(self.settings, seconds=self.settings.smtp_timeout_seconds)}"
        except imap.ImapFailed as error:
            raise CheckFailed(f"{relay}, but IMAP: {error}") from error

    async def _check_relay(self) -> str:
        settings = self.settings
        options = self._connection()
        client = aiosmtplib.SMTP(hostname=options["hostname"], port=options["port"], use_tls=options["use_tls"],
                                 start_tls=options["start_tls"], tls_context=options["tls_context"],
                                 timeout=options["timeout"])
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        try:
            await client.connect()
            secured = "TLS" if options["use_tls"] else ("STARTTLS" if client.get_transport_info("sslcontext")
                                                       else "no TLS")
            signed_in = ""
            if options["username"]:
                await client.login(options["username"], options["password"] or "")
                signed_in = f", signed in as {options['username']}"
            await client.quit()
        except aiosmtplib.SMTPAuthenticationError as error:
            raise CheckFailed(f"{where} refused SMTP_USERNAME/SMTP_PASSWORD: {error.code} {error.message}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise CheckFailed(f"{where}: {type(error).__name__}: {error}") from error
        return f"SMTP relay {where} ({secured}{signed_in}), replies from {settings.from_address}"

    async def aclose(self) -> None:
        return None


def _refused(code: int, text: str) -> SendFailed:
    said = f"{code} {' '.join(str(text).split())}".strip()
    # 4xx: the relay says "not now" (greylisting, a full queue): try again later.
    return SendFailed(f"the mail server said: {said}", transient=400 <= code < 500)


def _provider_id(message: Any, raw: bytes) -> str:
    ids = mime.header_ids(message, "Message-ID")
    if ids and len(ids[0]) <= MAX_PROVIDER_ID:
        return ids[0]
    # No Message-ID (or one too long to store): the bytes themselves, so a retry still dedupes.
    return _hashed(ids[0].encode() if ids else raw)


def _hashed(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 5322's "-0000" (no zone known) parses naive: UTC is the honest reading.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _defects(message: Any) -> list[str]:
    try:
        return sorted({type(defect).__name__ for part in message.walk() for defect in part.defects})
    except Exception:
        return ["unreadable structure"]


def _printable(text: str) -> str:
    # Header text is the sender's: no NUL (PostgreSQL text cannot hold it) nor other control characters.
    return "".join(ch for ch in text if ch.isprintable() or ch == " ").strip()


def _address_or_empty(value: str | None) -> str:
    return value if value and "@" in value else ""
