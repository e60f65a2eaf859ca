"""Telegram through the Bot API: webhooks checked by their secret header in, python-telegram-bot's Bot out."""

import asyncio
import functools
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar, TypeVar

import httpx
from telegram import Bot, InputFile, Message, WebhookInfo
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from adapters.base import (
    BadPayload,
    BadSignature,
    CheckFailed,
    FetchedFile,
    FetchFailed,
    RawRequest,
    RawResponse,
)
from adapters.download import download
from adapters.telegram import updates
from adapters.telegram.settings import TelegramSettings
from inbox.channels import Channel
from inbox.events import InboundEvent, OutboundMessage, OutgoingFile, SendFailed, SendResult

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
NOT_CONFIGURED = "Telegram is not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET"
# Telegram's own limits (telegram.constants.MessageLimit, FileSizeLimit).
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Forbidden's descriptions, said so an agent knows what happened.
_FORBIDDEN = {"blocked": "The customer blocked the bot",
              "deactivated": "The customer's Telegram account was deleted",
              "initiate": "The customer has never started a chat with the bot"}
_PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}

T = TypeVar("T")


class Adapter:
    channel: ClassVar[Channel] = Channel.telegram
    paths: ClassVar[tuple[str, ...]] = (WEBHOOK_PATH,)

    def __init__(self, settings: TelegramSettings | None = None) -> None:
        self.settings = settings or TelegramSettings()
        self._session: _Session | None = None
        # Answers to button taps still on their way; held so they are not collected mid-flight.
        self._answering: set[asyncio.Task[None]] = set()
        _hide_in_logs(self.settings.bot_token.get_secret_value())

    @property
    def configured(self) -> bool:
        return bool(self.settings.bot_token.get_secret_value() and self.settings.webhook_secret.get_secret_value())

    @property
    def webhook_url(self) -> str:
        return self.settings.public_base_url.rstrip("/") + WEBHOOK_PATH if self.settings.public_base_url else ""

    def verify(self, raw: RawRequest) -> None:
        secret = self.settings.webhook_secret.get_secret_value()
        if not secret:
            raise BadSignature("TELEGRAM_WEBHOOK_SECRET is not set")
        given = raw.headers.get(SECRET_HEADER, "")
        if not given:
            raise BadSignature("X-Telegram-Bot-Api-Secret-Token header missing")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise BadSignature("X-Telegram-Bot-Api-Secret-Token does not match")

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            return updates.parse(raw.body)
        # Telegram's shapes, bent in a way read_update did not foresee: still the sender's fault, never a 500.
        except (AttributeError, TypeError, ValueError) as error:
            raise BadPayload(f"not a Telegram update: {type(error).__name__} {error}") from error

    def acknowledge(self, raw: RawRequest) -> RawResponse:
        # An empty 200: a Bot API call in the answer would go out unchecked and unrecorded.
        query_id = _callback_query_id(raw.body)
        if query_id is not None:
            self._answer_soon(query_id)
        return RawResponse(200, "", "text/plain")

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.configured:
            raise SendFailed(NOT_CONFIGURED, transient=False)
        if len(message.text) > MAX_TEXT:
            raise SendFailed(f"Telegram messages hold at most {MAX_TEXT} characters; this one has "
                             f"{len(message.text)}: shorten it or split it", transient=False)
        if not message.text.strip() and not message.files:
            raise SendFailed("Nothing to send: the message is empty", transient=False)
        too_big = [file.filename for file in message.files if file.size > MAX_UPLOAD_BYTES]
        if too_big:
            # Telegram answers these with a bare 413, which would read as a passing outage.
            raise SendFailed(f"Telegram bots send files up to {_megabytes(MAX_UPLOAD_BYTES)}: "
                             f"{', '.join(too_big)} is larger", transient=False)
        bot = self._for_running_loop().bot
        # The text rides as the last file's caption when it fits; otherwise it goes first, alone.
        caption = message.text if message.files and message.text.strip() and len(message.text) <= MAX_CAPTION else None
        steps: list[Callable[[], Awaitable[Message]]] = []
        if message.text.strip() and caption is None:
            steps.append(functools.partial(bot.send_message, message.to, message.text))
        for index, file in enumerate(message.files):
            last = index == len(message.files) - 1
            steps.append(functools.partial(self._send_file, bot, message.to, file, caption if last else None))
        sent: list[Message] = []
        for step in steps:
            try:
                sent.append(await step())
            except (TelegramError, OSError) as error:
                token = self.settings.bot_token.get_secret_value()
                failed = (_refused(error, token) if isinstance(error, TelegramError)
                          else SendFailed(f"The attachment could not be read: {error.strerror or error}",
                                          transient=False))
                if sent:
                    # Retrying would send the delivered parts twice.
                    raise SendFailed(f"{failed.reason} ({len(sent)} of {len(steps)} parts were sent)",
                                     transient=False) from error
                raise failed from error
        return SendResult(provider_id=updates.provider_id(sent[0]))

    async def _send_file(self, bot: Bot, chat_id: str, file: OutgoingFile, caption: str | None) -> Message:
        # Read in a thread: an attachment may be tens of megabytes on a slow disk.
        data = await asyncio.to_thread(Path(file.path).read_bytes)
        upload = InputFile(data, filename=file.filename)
        if file.content_type in _PHOTO_TYPES and file.size <= MAX_PHOTO_BYTES:
            return await bot.send_photo(chat_id, upload, caption=caption)
        return await bot.send_document(chat_id, upload, caption=caption)

    async def check(self) -> str:
        if not self.settings.bot_token.get_secret_value():
            raise CheckFailed("not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
        me = await self._call_or_check_failed(self._for_running_loop().bot.get_me())
        return f"Bot @{me.username} ({me.id})"

    async def username(self) -> str:
        """The bot's @name without the @, from TELEGRAM_BOT_USERNAME or else from Telegram."""
        if self.settings.bot_username:
            return self.settings.bot_username.lstrip("@")
        if not self.settings.bot_token.get_secret_value():
            raise CheckFailed("TELEGRAM_BOT_TOKEN is not set")
        me = await self._call_or_check_failed(self._for_running_loop().bot.get_me())
        return str(me.username)

    async def set_webhook(self) -> WebhookInfo:
        """Point Telegram at PUBLIC_BASE_URL/webhooks/telegram with our secret; returns what Telegram then reports."""
        if not self.configured:
            raise CheckFailed(NOT_CONFIGURED)
        if not self.webhook_url:
            raise CheckFailed("PUBLIC_BASE_URL is not set: Telegram needs the https address this server is reached at")
        bot = self._for_running_loop().bot
        await self._call_or_check_failed(bot.set_webhook(
            self.webhook_url, secret_token=self.settings.webhook_secret.get_secret_value(),
            allowed_updates=list(updates.ALLOWED_UPDATES)))
        return await self._call_or_check_failed(bot.get_webhook_info())

    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile:
        if not self.configured:
            # The file waits at Telegram (for a while): once configured, a later try can still get it.
            raise FetchFailed(NOT_CONFIGURED, transient=True)
        session = self._for_running_loop()
        token = self.settings.bot_token.get_secret_value()
        try:
            found = await session.bot.get_file(reference)
        except TelegramError as error:
            raise _not_fetched(error, token) from error
        if found.file_size is not None and found.file_size > limit:
            raise FetchFailed(f"larger than {_megabytes(limit)} ({_megabytes(found.file_size)})", transient=False)
        if not found.file_path:
            raise FetchFailed("Telegram gave no download path for this file", transient=False)
        # PTB has made file_path the full download URL under base_file_url (token included): the
        # download's own error texts name no URL.
        fetched = await download(found.file_path, limit=limit, provider="Telegram's file server", client=session.files)
        # Telegram labels most files application/octet-stream: the type the update named is kept.
        return FetchedFile(fetched.data)

    async def aclose(self) -> None:
        for task in list(self._answering):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call_or_check_failed(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except InvalidToken as error:
            raise CheckFailed("Telegram refused TELEGRAM_BOT_TOKEN") from error
        except (TimedOut, NetworkError) as error:
            raise CheckFailed(f"Telegram unreachable at {self.settings.api_base_url}: "
                              f"{_redact(str(error), self.settings.bot_token.get_secret_value())}") from error
        except TelegramError as error:
            raise CheckFailed(f"Telegram refused: {_redact(error.message, self.settings.bot_token.get_secret_value())}"
                              ) from error

    def _answer_soon(self, query_id: str) -> None:
        # Until answerCallbackQuery, the customer's button keeps spinning; the tap is already stored.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._answer(query_id))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, query_id: str) -> None:
        try:
            await self._for_running_loop().bot.answer_callback_query(query_id)
        except TelegramError as error:
            log.warning("telegram: could not answer a button tap: %s",
                        _redact(str(error), self.settings.bot_token.get_secret_value()))

    def _for_running_loop(self) -> "_Session":
        loop = asyncio.get_running_loop()
        # httpx pools belong to the loop that opened them.
        if self._session is None or self._session.loop is not loop:
            self._session = _Session.open(self.settings, loop)
        return self._session


@dataclass(slots=True)
class _Session:
    loop: asyncio.AbstractEventLoop
    bot: Bot
    request: HTTPXRequest
    files: httpx.AsyncClient

    @classmethod
    def open(cls, settings: TelegramSettings, loop: asyncio.AbstractEventLoop) -> "_Session":
        api = settings.api_base_url.rstrip("/")
        timeout = settings.timeout_seconds
        request = HTTPXRequest(connection_pool_size=8, read_timeout=timeout, write_timeout=timeout,
                               connect_timeout=min(timeout, 10.0), media_write_timeout=timeout)
        # One request object for both roles: we never poll, and it is one pool to close. No
        # initialize(): it would call getMe before every first send, and its InvalidToken names the token.
        bot = Bot(settings.bot_token.get_secret_value(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
                  request=request, get_updates_request=request)
        files = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
        return cls(loop, bot, request, files)

    async def close(self) -> None:
        await self.request.shutdown()
        await self.files.aclose()


def _callback_query_id(body: bytes) -> str | None:
    # Most updates are messages: only a body that names a callback_query is read again.
    if b'"callback_query"' not in body:
        return None
    try:
        query = json.loads(body).get("callback_query")
    except (ValueError, AttributeError):
        return None
    return str(query["id"]) if isinstance(query, dict) and query.get("id") else None


def _refused(error: TelegramError, token: str) -> SendFailed:
    text = _redact(error.message, token)
    if isinstance(error, RetryAfter):
        seconds = _retry_after_seconds(error)
        return SendFailed(f"Telegram flood limit: retry after {seconds:g} s", transient=True, retry_after=seconds)
    if isinstance(error, Forbidden):
        known = next((reason for key, reason in _FORBIDDEN.items() if key in text), None)
        return SendFailed(f"{known} (Telegram: {text})" if known else f"Telegram refused: {text}", transient=False)
    if isinstance(error, InvalidToken):
        return SendFailed("Telegram refused TELEGRAM_BOT_TOKEN", transient=False)
    if isinstance(error, BadRequest):
        return SendFailed(f"Telegram: {text}", transient=False)
    if isinstance(error, TimedOut):
        cause = error.__cause__
        if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
            return SendFailed("Telegram could not be reached in time; nothing was sent", transient=True)
        # The request may have reached Telegram, and sendMessage takes no idempotency key.
        return SendFailed("Telegram did not answer in time: the message may or may not have been sent; "
                          "check the chat before retrying", transient=False)
    if isinstance(error, NetworkError):
        cause = error.__cause__
        if cause is None or isinstance(cause, httpx.ConnectError):
            # Never connected, or Telegram answered with a 5xx: nothing was sent.
            return SendFailed(f"Telegram unavailable: {text}", transient=True)
        return SendFailed(f"The connection to Telegram broke ({type(cause).__name__}): the message may or may not "
                          "have been sent; check the chat before retrying", transient=False)
    return SendFailed(f"Telegram: {text}", transient=False)


def _not_fetched(error: TelegramError, token: str) -> FetchFailed:
    text = _redact(error.message, token)
    if isinstance(error, BadRequest) and "too big" in text.lower():
        return FetchFailed("larger than the 20 MB Telegram lets bots download", transient=False)
    if isinstance(error, RetryAfter | TimedOut | NetworkError) and not isinstance(error, BadRequest | Forbidden):
        return FetchFailed(f"Telegram unavailable: {text}", transient=True)
    return FetchFailed(f"Telegram: {text}", transient=False)


def _retry_after_seconds(error: RetryAfter) -> float:
    # Reading retry_after warns in PTB ≥ 22.2 (int today, timedelta with PTB_TIMEDELTA=true).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _redact(text: str, token: str) -> str:
    return text.replace(token, "<TELEGRAM_BOT_TOKEN>") if token else text


class _HideToken(logging.Filter):
    """The token is part of every Bot API URL, and httpx logs each URL it requests at INFO."""

    tokens: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(token in message for token in self.tokens):
            for token in self.tokens:
                message = message.replace(token, "<TELEGRAM_BOT_TOKEN>")
            record.msg, record.args = message, ()
        return True


_FILTER = _HideToken()


def _hide_in_logs(token: str) -> None:
    if not token or token in _HideToken.tokens:
        return
    _HideToken.tokens.add(token)
    for name in ("httpx", "telegram.Bot", "telegram.ext.ExtBot"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
