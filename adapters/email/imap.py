"""Polling an existing mailbox over IMAP (aioimaplib), for shops that keep their mail at a provider.

A message is known by (mailbox, UIDVALIDITY, UID). The position reached is stored with each mail,
in the same transaction (the caller's `deliver`), so a restart goes on after the last mail kept:
nothing is missed and nothing fetched twice. When the server changes UIDVALIDITY (a rebuilt
mailbox), every UID is new again: the mailbox is read from the start and Message-ID dedupe keeps
what was already stored from being stored twice.
"""

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioimaplib

from adapters.base import RawRequest
from adapters.email.settings import EmailSettings

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCHED_UID = re.compile(rb"UID (\d+)")
# A poll takes at most this many mails; the rest wait for the next one, so a first run over a
# large mailbox commits as it goes instead of holding one long session.
BATCH = 200


@dataclass(frozen=True, slots=True)
class Position:
    uidvalidity: int
    uid: int


class ImapFailed(Exception):
    """The server could not be reached, refused the login or the mailbox; the next poll tries again."""


# source → the position stored for it, if any.
LoadPosition = Callable[[str], Awaitable[Position | None]]
# The mail and its position, committed together.
Deliver = Callable[[RawRequest, str, Position], Awaitable[None]]


class Poller:
    def __init__(self, settings: EmailSettings, *, load: LoadPosition, deliver: Deliver,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        self.settings = settings
        self._load = load
        self._deliver = deliver
        self._ssl_context = ssl_context
        self._timeout = timeout

    @property
    def source(self) -> str:
        s = self.settings
        return f"imap://{s.imap_user}@{s.imap_host}:{s.imap_port}/{s.imap_mailbox}"

    async def poll_once(self) -> int:
        """Fetch and deliver what arrived since the stored position; how many mails were delivered."""
        client = await self._connect()
        try:
            uidvalidity = await self._examine(client)
            known = await self._load(self.source)
            after = known.uid if known is not None and known.uidvalidity == uidvalidity else 0
            if known is not None and known.uidvalidity != uidvalidity:
                log.warning("imap %s: UIDVALIDITY changed (%s → %s); reading the mailbox again",
                            self.source, known.uidvalidity, uidvalidity)
            delivered = 0
            for uid in (await self._uids_after(client, after))[:BATCH]:
                raw = await self._fetch(client, uid)
                if raw is None:
                    continue  # expunged between SEARCH and FETCH
                await self._deliver(RawRequest(method="IMAP", path=self.source, headers={}, body=raw),
                                    self.source, Position(uidvalidity, uid))
                delivered += 1
            return delivered
        finally:
            try:
                await asyncio.wait_for(client.logout(), self._timeout)
            except Exception:
                log.debug("imap %s: logout failed", self.source, exc_info=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every IMAP_POLL_SECONDS until `stop` is set; a failed poll is logged and tried again."""
        while not stop.is_set():
            try:
                count = await self.poll_once()
                if count:
                    log.info("imap %s: %s new mail(s)", self.source, count)
            except Exception as error:
                log.warning("imap %s: poll failed: %s", self.source, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.imap_poll_seconds)

    async def _connect(self) -> aioimaplib.IMAP4:
        return await _connect(self.settings, seconds=self._timeout, ssl_context=self._ssl_context)

    async def _examine(self, client: aioimaplib.IMAP4) -> int:
        return await _examine(client, self.settings.imap_mailbox)

    async def _uids_after(self, client: aioimaplib.IMAP4, after: int) -> list[int]:
        found = await client.uid_search(f"UID {after + 1}:*", charset=None)
        if found.result != "OK":
            raise ImapFailed(f"UID SEARCH: {_said(found.lines)}")
        uids = {int(word) for line in found.lines[:-1] for word in bytes(line).split() if word.isdigit()}
        # "N:*" always matches the newest message, even one below N: only the ones after are new.
        return sorted(uid for uid in uids if uid > after)

    async def _fetch(self, client: aioimaplib.IMAP4, uid: int) -> bytes | None:
        # BODY.PEEK[]: the whole mail, without setting \Seen for the people who read the mailbox too.
        found = await client.uid("fetch", str(uid), "(UID BODY.PEEK[])")
        if found.result != "OK":
            raise ImapFailed(f"UID FETCH {uid}: {_said(found.lines)}")
        for index, line in enumerate(found.lines):
            if isinstance(line, bytearray) and index > 0:
                header = bytes(found.lines[index - 1])
                match = _FETCHED_UID.search(header)
                if match is None or int(match.group(1)) == uid:
                    return bytes(line)
        return None


async def check(settings: EmailSettings, *, seconds: float = 30.0) -> str:
    """One line naming the mailbox the IMAP settings open; ImapFailed when they do not.

    `seconds` bounds each IMAP command."""
    client = await _connect(settings, seconds=seconds)
    try:
        await _examine(client, settings.imap_mailbox)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), seconds)
    return f"IMAP {settings.imap_user}@{settings.imap_host}:{settings.imap_port} {settings.imap_mailbox}"


async def _connect(settings: EmailSettings, *, seconds: float,
                   ssl_context: ssl.SSLContext | None = None) -> aioimaplib.IMAP4:
    s = settings
    try:
        client = (aioimaplib.IMAP4_SSL(s.imap_host, s.imap_port, timeout=seconds,
                                       ssl_context=ssl_context or ssl.create_default_context())
                  if s.imap_ssl else aioimaplib.IMAP4(s.imap_host, s.imap_port, timeout=seconds))
        await client.wait_hello_from_server()
        login = await client.login(s.imap_user, s.imap_password.get_secret_value())
    except (OSError, TimeoutError, aioimaplib.AioImapException) as error:
        raise ImapFailed(f"{s.imap_host}:{s.imap_port} could not be reached: {type(error).__name__} {error}"
                         ) from error
    if login.result != "OK":
        raise ImapFailed(f"{s.imap_host} refused IMAP_USER/IMAP_PASSWORD: {_said(login.lines)}")
    return client


async def _examine(client: aioimaplib.IMAP4, mailbox: str) -> int:
    # SELECT (aioimaplib searches and fetches only in a SELECTed mailbox); the fetches PEEK, so no
    # mail is marked read for the people who use the mailbox too.
    found = await client.select(mailbox)
    if found.result != "OK":
        raise ImapFailed(f"mailbox {mailbox!r}: {_said(found.lines)}")
    for line in found.lines:
        match = _UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ImapFailed(f"mailbox {mailbox!r}: the server gave no UIDVALIDITY")


def _said(lines: list[bytes]) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in lines[-1:]) or "no reason given"
