"""Mail in: the SMTP listener and the IMAP poller, wired to parse → ingest → commit.

Over SMTP each mail goes through the ingest writer (group commit) and is answered 250 once its
batch is committed. Over IMAP each mail is ingested in its own transaction together with the
mailbox position it was read at, so the poller resumes exactly after the last mail kept.
"""

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import BadPayload, RawRequest
from adapters.email import Adapter as EmailAdapter
from adapters.email import imap, smtp
from inbox import poll_positions
from inbox.db import transaction
from inbox.errors import Invalid
from inbox.ingest import Duplicate, IngestConfig
from inbox.ingest_batch import ingest_many
from inbox.ingest_queue import IngestWriter

log = logging.getLogger(__name__)


class ListenFailed(RuntimeError):
    pass


class EmailIntake:
    def __init__(self, adapter: EmailAdapter, *, writer: IngestWriter, sessions: async_sessionmaker[AsyncSession],
                 config: IngestConfig) -> None:
        self.adapter = adapter
        self._writer = writer
        self._sessions = sessions
        self._config = config
        self._server: asyncio.Server | None = None
        self._polling: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.poller = imap.Poller(adapter.settings, load=self._position, deliver=self.deliver_polled)

    async def start(self) -> None:
        settings = self.adapter.settings
        if settings.listening:
            handler = smtp.Handler(accepts=settings.accepts, deliver=self.deliver)
            try:
                self._server = await smtp.listen(handler, host=settings.listen_host, port=settings.listen_port,
                                                 hostname=settings.from_address.rpartition("@")[2] or "onethread",
                                                 max_bytes=settings.max_message_bytes)
            except OSError as error:
                # Configured but impossible: better no server than one that silently drops the shop's mail.
                raise ListenFailed(f"cannot listen for mail on {settings.listen_host}:{settings.listen_port} "
                                   f"({error.strerror or error}); set SMTP_LISTEN_PORT to a free port, "
                                   "or 0 to turn the listener off") from error
            log.info("email: listening for mail to %s on %s:%s", ", ".join(settings.addresses),
                     settings.listen_host, settings.listen_port)
        if settings.polling:
            self._polling = asyncio.create_task(self.poller.run(self._stop), name="imap-poller")

    async def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling

    async def deliver(self, raw: RawRequest) -> None:
        """One mail from the listener: returns once it is committed (then the sender hears 250)."""
        events = self.adapter.parse(raw)
        try:
            await self._writer.submit(events)
        except Invalid as error:
            # Refused by the domain (an address it cannot use, a file over MAX_ATTACHMENT_BYTES):
            # the sender's problem, said in the bounce.
            raise BadPayload(str(error)) from error

    async def deliver_polled(self, raw: RawRequest, source: str, position: imap.Position) -> None:
        try:
            events = self.adapter.parse(raw)
        except BadPayload as error:
            log.warning("imap %s: UID %s skipped: %s", source, position.uid, error)
            events = []
        try:
            async with transaction(self._sessions) as session:
                await ingest_many(session, events, config=self._config)
                await poll_positions.advance(session, source, epoch=str(position.uidvalidity), position=position.uid)
        except Duplicate:
            # Another process's poller stored this mail a moment ago.
            async with transaction(self._sessions) as session:
                await poll_positions.advance(session, source, epoch=str(position.uidvalidity), position=position.uid)
        except Invalid as error:
            # It will never be storable: step over it rather than stop the mailbox here for good.
            log.warning("imap %s: UID %s skipped: %s", source, position.uid, error)
            async with transaction(self._sessions) as session:
                await poll_positions.advance(session, source, epoch=str(position.uidvalidity), position=position.uid)

    async def _position(self, source: str) -> imap.Position | None:
        async with self._sessions() as session:
            found = await poll_positions.reached(session, source)
        if found is None or not found.epoch.isdigit():
            return None
        return imap.Position(int(found.epoch), found.position)
