"""Facebook Messenger through the Graph API: signed JSON webhooks in, the Send API out."""

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import httpx

from adapters.base import (
    BadPayload,
    BadSignature,
    CheckFailed,
    FetchedFile,
    RawRequest,
    RawResponse,
    read_json,
)
from adapters.messenger import media, payload
from adapters.messenger.graph import GraphError, raise_for_error
from adapters.messenger.settings import MessengerSettings
from inbox.channels import Channel
from inbox.events import (
    InboundEvent,
    OutboundMessage,
    OutgoingFile,
    SendFailed,
    SendResult,
)

log = logging.getLogger(__name__)

PATH = "/webhooks/messenger"
HUMAN_AGENT = "HUMAN_AGENT"
# The Send API refuses longer texts (error 100); said before sending rather than after.
MAX_TEXT = 2000
# Meta's limit for an uploaded attachment.
MAX_FILE_BYTES = 25 * 1024 * 1024
NOT_CONFIGURED = "Messenger is not configured: set META_APP_SECRET, META_VERIFY_TOKEN and META_PAGE_ACCESS_TOKEN"
# A lookup Meta refused (no permission, person gone) is not asked again for a while.
_UNKNOWN_NAME_SECONDS = 600.0


def signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 as Meta computes it over the exact bytes it sent."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Adapter:
    channel: ClassVar[Channel] = Channel.messenger
    paths: ClassVar[tuple[str, ...]] = (PATH,)

    def __init__(self, settings: MessengerSettings | None = None) -> None:
        self.settings = settings or MessengerSettings()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        # PSID → (name or None, expires at): a bounded LRU, in this process only.
        self._names: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.app_secret.get_secret_value() and s.verify_token.get_secret_value()
                    and s.page_access_token.get_secret_value())

    def handshake(self, raw: RawRequest) -> RawResponse:
        token = self.settings.verify_token.get_secret_value()
        given = raw.query.get("hub.verify_token", "")
        if (raw.query.get("hub.mode") != "subscribe" or not token
                or not hmac.compare_digest(given.encode(), token.encode())):
            return RawResponse(403, "verify token does not match", "text/plain")
        return RawResponse(200, raw.query.get("hub.challenge", ""), "text/plain")

    def verify(self, raw: RawRequest) -> None:
        secret = self.settings.app_secret.get_secret_value()
        if not secret:
            raise BadSignature("META_APP_SECRET is not set")
        given = raw.headers.get("x-hub-signature-256", "")
        if not given:
            raise BadSignature("X-Hub-Signature-256 header missing")
        if not hmac.compare_digest(signature(secret, raw.body).encode(), given.strip().lower().encode()):
            raise BadSignature("X-Hub-Signature-256 does not match")

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        body = read_json(raw.body)
        try:
            return payload.events(body, app_id=self.settings.app_id)
        except payload.Unreadable as error:
            raise BadPayload(str(error)) from error

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        return RawResponse(200, "EVENT_RECEIVED", "text/plain")

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.configured:
            raise SendFailed(NOT_CONFIGURED, transient=False)
        if len(message.text) > MAX_TEXT:
            raise SendFailed(f"Messenger takes at most {MAX_TEXT} characters in a message; this reply has "
                             f"{len(message.text)}: shorten it or send it in parts", transient=False)
        for file in message.files:
            if file.size > MAX_FILE_BYTES:
                raise SendFailed(f"{file.filename} is larger than Messenger's 25 MB", transient=False)
        if not message.text.strip() and not message.files:
            raise SendFailed("nothing to send: the reply has no text and no files", transient=False)
        # Text and each file are separate messages to Meta; the first one's id is the reply's.
        envelope = {"recipient": {"id": message.to}, **_messaging_type(message)}
        marked = {"metadata": f"{payload.OUR_METADATA}{message.message_id}"}
        sent: list[str] = []
        try:
            if message.text.strip():
                sent.append(await self._post(json={**envelope, "message": {"text": message.text, **marked}}))
            for file in message.files:
                sent.append(await self._upload(envelope, marked, file))
        except SendFailed as failure:
            if not sent:
                raise
            # A retry would send the first parts again: the agent decides what is missing.
            raise SendFailed(f"only part of the reply was sent ({len(sent)} of "
                             f"{len(message.files) + bool(message.text.strip())} messages): {failure.reason}",
                             transient=False) from failure
        return SendResult(provider_id=sent[0])

    async def _upload(self, envelope: dict[str, Any], marked: dict[str, str], file: OutgoingFile) -> str:
        kind = next((k for k in ("image", "video", "audio") if file.content_type.startswith(k + "/")), "file")
        try:
            data = await asyncio.to_thread(Path(file.path).read_bytes)
        except OSError as error:
            raise SendFailed(f"{file.filename} is not in the file store: {error}", transient=False) from error
        form = {key: json.dumps(value) if isinstance(value, dict) else str(value) for key, value in envelope.items()}
        form["message"] = json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": False}}, **marked})
        return await self._post(data=form, files={"filedata": (file.filename, data, file.content_type)})

    async def _post(self, **content: Any) -> str:
        client = self._client_for_running_loop()
        try:
            answer = raise_for_error(await client.post(self._url("me/messages"), params=self._proof(),
                                                       headers=self._auth(), **content))
        except GraphError as error:
            raise error.as_send_failed() from error
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Never reached Meta, so nothing was sent: safe to try again.
            raise SendFailed(f"Graph API unreachable: {type(error).__name__}", transient=True) from error
        except httpx.TransportError as error:
            # The request may have reached Meta and gone out; the Send API takes no idempotency key.
            what = (f"Graph API did not answer within {self.settings.timeout_seconds:g} s"
                    if isinstance(error, httpx.TimeoutException) else
                    f"the connection to the Graph API broke ({type(error).__name__})")
            raise SendFailed(f"{what}: the message may or may not have been sent; check before retrying",
                             transient=False) from error
        message_id = answer.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise SendFailed("the Graph API answered without a message_id: the message may have been sent",
                             transient=False)
        return message_id

    async def check(self) -> str:
        if not self.configured:
            raise CheckFailed(NOT_CONFIGURED.removeprefix("Messenger is "))
        client = self._client_for_running_loop()
        try:
            page = raise_for_error(await client.get(self._url("me"), params={"fields": "id,name", **self._proof()},
                                                    headers=self._auth()))
        except GraphError as error:
            raise CheckFailed(f"Graph API refused: {error.explained()}") from error
        except httpx.TransportError as error:
            raise CheckFailed(f"Graph API unreachable at {self.settings.graph_base_url}: "
                              f"{type(error).__name__}") from error
        return f"Page {page.get('name')!r} ({page.get('id')})"

    async def sender_name(self, address: str) -> str | None:
        """The sender's name from the Graph profile lookup (the webhook carries none); cached."""
        if not self.configured:
            return None
        now = time.monotonic()
        cached = self._names.get(address)
        if cached is not None and cached[1] > now:
            self._names.move_to_end(address)
            return cached[0]
        client = self._client_for_running_loop()
        try:
            profile = raise_for_error(await client.get(self._url(address), params={
                "fields": "first_name,last_name", **self._proof()}, headers=self._auth()))
        except GraphError as error:
            log.warning("Messenger profile lookup refused (%s); the customer stays unnamed", error.explained())
            self._remember(address, None, now + _UNKNOWN_NAME_SECONDS)
            return None
        except httpx.TransportError as error:
            log.warning("Messenger profile lookup failed: %s", type(error).__name__)
            return None
        name = " ".join(str(part) for part in (profile.get("first_name"), profile.get("last_name")) if part) or None
        self._remember(address, name, now + (self.settings.profile_cache_seconds if name else _UNKNOWN_NAME_SECONDS))
        return name

    def _remember(self, psid: str, name: str | None, until: float) -> None:
        self._names[psid] = (name, until)
        self._names.move_to_end(psid)
        while len(self._names) > self.settings.profile_cache_size:
            self._names.popitem(last=False)

    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile:
        return await media.fetch(self._client_for_running_loop(), reference, limit=limit,
                                 graph_base_url=self.settings.graph_base_url)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _url(self, path: str) -> str:
        return f"{self.settings.graph_base_url.rstrip('/')}/{self.settings.graph_version}/{path}"

    def _auth(self) -> dict[str, str]:
        # In a header, never in a URL a log line could print; and only to the Graph API, not the CDN.
        return {"Authorization": f"Bearer {self.settings.page_access_token.get_secret_value()}"}

    def _proof(self) -> dict[str, str]:
        # appsecret_proof: required when the app has "Require App Secret" on, harmless otherwise.
        token = self.settings.page_access_token.get_secret_value()
        secret = self.settings.app_secret.get_secret_value()
        return {"appsecret_proof": hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()}

    def _client_for_running_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        # The connection pool belongs to the loop that opened it.
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
            self._client_loop = loop
        return self._client


def _messaging_type(message: OutboundMessage) -> dict[str, str]:
    if message.extra.get("tag") == HUMAN_AGENT:
        # Between 24 h and 7 days after the customer's last message, only a human agent's tagged reply.
        return {"messaging_type": "MESSAGE_TAG", "tag": HUMAN_AGENT}
    return {"messaging_type": "RESPONSE"}
