"""Names for new customers whose channel's webhooks carry none (Messenger), asked for after the commit.

A name lookup is an HTTP request to the provider: on the webhook's path it cost Messenger most of its
throughput (bench/channels.py) and held the webhook for as long as the provider took. Here the webhook
only queues the sender once its message is committed; a few lookups run at a time, and the names they
bring are written a batch per transaction, each announced as a `customer.named` live event so open
inboxes show it. Best effort throughout: a lookup that fails leaves the customer unnamed, and a backlog
that is full drops new requests rather than grow (the next message from that sender asks again).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.customers import service as customers
from inbox.db import transaction
from inbox.realtime import NewLiveEvent, emit_many

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[str | None]]
NAMED = "customer.named"
# Lookups in flight at once: enough to hide the provider's round trip, few enough to stay polite.
CONCURRENCY = 4
# Senders waiting for a lookup; beyond this, new ones are dropped.
BACKLOG = 10_000
# Senders checked against the database, and names written, per transaction.
MAX_BATCH = 200
# Seconds the writer waits for more names before writing the ones it has.
WRITE_DELAY = 0.1


@dataclass(frozen=True, slots=True)
class _Wanted:
    channel: str
    address: str
    customer_id: int


class NameLookups:
    """Looks up the names of senders queued with `want`, `concurrency` at a time, and writes them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lookups: Mapping[str, Lookup], *,
                 concurrency: int = CONCURRENCY, backlog: int = BACKLOG) -> None:
        self._sessions = sessions
        self._lookups = dict(lookups)
        self._queue: asyncio.Queue[_Wanted] = asyncio.Queue(maxsize=backlog)
        # (channel, address) queued, being looked up or waiting to be written: asked once at a time.
        self._pending: set[tuple[str, str]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._named: list[tuple[_Wanted, str]] = []
        self._have_names = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Senders queued, being looked up or waiting to be written."""
        return len(self._pending)

    def want(self, *, channel: str, address: str, customer_id: int) -> None:
        """Queue a lookup for this sender of a committed message; never waits."""
        key = (str(channel), address)
        if key[0] not in self._lookups or key in self._pending:
            return
        try:
            self._queue.put_nowait(_Wanted(key[0], address, customer_id))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("name lookups: the backlog is full; %d senders dropped so far (they stay unnamed "
                            "until they write again)", self.dropped)
            return
        self._pending.add(key)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._dispatch(), name="name-lookups"),
                       asyncio.create_task(self._write(), name="name-writer")]

    async def stop(self) -> None:
        """Cancels what is still waiting: those customers stay unnamed until they write again."""
        for task in [*self._tasks, *self._in_flight]:
            task.cancel()
        for task in [*self._tasks, *self._in_flight]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _dispatch(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                # An agent may have typed a name meanwhile, or the sender was merged into a named customer.
                async with self._sessions() as session:
                    nameless = await customers.unnamed(session, [wanted.customer_id for wanted in batch])
            except Exception:
                log.exception("name lookups: could not check %d customers; they stay unnamed", len(batch))
                nameless = set()
            for wanted in batch:
                if wanted.customer_id not in nameless:
                    self._pending.discard((wanted.channel, wanted.address))
                    continue
                await self._slots.acquire()
                task = asyncio.create_task(self._look_up(wanted))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _look_up(self, wanted: _Wanted) -> None:
        name: str | None = None
        try:
            name = await self._lookups[wanted.channel](wanted.address)
        except Exception as error:
            log.warning("%s name lookup failed (%s: %s); the customer stays unnamed", wanted.channel,
                        type(error).__name__, error)
        finally:
            self._slots.release()
        if name and name.strip():
            self._named.append((wanted, name))
            self._have_names.set()
        else:
            self._pending.discard((wanted.channel, wanted.address))

    async def _write(self) -> None:
        while True:
            await self._have_names.wait()
            # Names are not urgent: a moment's wait gathers those of the lookups still in flight,
            # one transaction for many instead of one each.
            await asyncio.sleep(WRITE_DELAY)
            self._have_names.clear()
            while self._named:
                batch, self._named = self._named[:MAX_BATCH], self._named[MAX_BATCH:]
                try:
                    async with transaction(self._sessions) as session:
                        named = await customers.name_if_unknown(
                            session, {wanted.customer_id: name for wanted, name in batch})
                        await emit_many(session, [NewLiveEvent(NAMED, n.thread_id, n.customer_id, {"name": n.name})
                                                  for n in named])
                except Exception:
                    log.exception("name lookups: could not store %d names; those customers stay unnamed",
                                  len(batch))
                finally:
                    for wanted, _ in batch:
                        self._pending.discard((wanted.channel, wanted.address))
