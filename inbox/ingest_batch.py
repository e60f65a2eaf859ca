"""ingest_many: a batch of events, with the common case done a batch at a time.

Nearly every webhook is a known customer writing into an open case. One at a time that costs a
dozen statements per message; here a run of such messages costs the same dozen in total. Any
other event (a new sender, a thread to reopen, files, a quoted reply, an edit, a status) goes
through ingest() on its own, in arrival order, after the run before it is written: the database
ends as if the events had been ingested one by one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import channel_activity
from inbox.customers import service as customers
from inbox.customers.addresses import normalize
from inbox.customers.models import Customer, Identity
from inbox.db import table_of, utcnow
from inbox.errors import Invalid
from inbox.events import ContactShared, Direction, InboundEvent, InboundMessage, LinkOpened
from inbox.ingest import Duplicate, IngestConfig, Ingested, ingest, new_message
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.threads.models import Status, Thread

_IDENTITIES = table_of(Identity)
_CUSTOMERS = table_of(Customer)
_MESSAGES = table_of(Message)
_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Sender:
    identity_id: int
    customer_id: int
    verified: bool
    named: bool


@dataclass(slots=True)
class _Known:
    """What the batch's opening reads found: only ever an under-estimate of what the fast path may assume."""

    senders: dict[_Key, _Sender]
    threads: dict[int, Thread]  # by customer id; the session's own objects, so they stay current
    stored: set[_Key]  # (channel, provider id) stored before or earlier in the batch


@dataclass(frozen=True, slots=True)
class _Fast:
    index: int
    event: InboundMessage
    sender: _Sender
    thread: Thread


async def ingest_many(session: AsyncSession, events: Sequence[InboundEvent], *,
                      config: IngestConfig) -> list[Ingested]:
    """Ingest events in order in the session's transaction; one Ingested per event, as ingest() gives."""
    addresses = [_address(event, config.region) for event in events]
    known = await _read(session, events, addresses)
    results: list[Ingested | None] = [None] * len(events)
    run: list[_Fast] = []
    for index, (event, address) in enumerate(zip(events, addresses, strict=True)):
        if isinstance(event, InboundMessage):
            key = (str(event.channel), event.provider_id)
            if key in known.stored:
                results[index] = Ingested("duplicate")
                continue
            known.stored.add(key)
            fast = _fast(index, event, address, known)
            if fast is not None:
                run.append(fast)
                continue
            sender = known.senders.get((key[0], address or ""))
            if sender is not None and event.sender.verified and not sender.verified:
                # ingest() proves the claim and moves the identity to its owner: ask the database again.
                del known.senders[(key[0], address or "")]
        await _store(session, run, results)
        run = []
        results[index] = await ingest(session, event, config=config)
        if isinstance(event, ContactShared | LinkOpened):
            # A share or a link can merge two customers, moving identities and messages between threads.
            known = await _read(session, events[index + 1:], addresses[index + 1:])
    await _store(session, run, results)
    await channel_activity.record(session, (event.channel for event in events))
    done = [result for result in results if result is not None]
    assert len(done) == len(events)
    return done


def _address(event: InboundEvent, region: str) -> str | None:
    if not isinstance(event, InboundMessage):
        return None
    try:
        return normalize(event.sender.kind, event.sender.address, region=region)
    except Invalid:
        return None  # ingest() raises it for this event alone


def _fast(index: int, event: InboundMessage, address: str | None, known: _Known) -> _Fast | None:
    """The message, if storing it needs no decision: a known sender writing into an open case."""
    if event.direction != Direction.inbound or event.files or event.reply_to or address is None:
        return None
    sender = known.senders.get((str(event.channel), address))
    if sender is None or (event.sender.verified and not sender.verified):
        return None
    if not sender.named and event.sender.name and event.sender.name.strip():
        return None
    thread = known.threads.get(sender.customer_id)
    if thread is None or thread.status != Status.open or thread.case_id is None:
        return None
    return _Fast(index, event, sender, thread)


# Built once: constructing and cache-keying a statement per batch costs more than running it.
_SENDERS = (
    select(_IDENTITIES.c.channel, _IDENTITIES.c.address, _IDENTITIES.c.id, _IDENTITIES.c.customer_id,
           _IDENTITIES.c.verified, _CUSTOMERS.c.name)
    .join(_CUSTOMERS, _CUSTOMERS.c.id == _IDENTITIES.c.customer_id)
    # channel IN … AND address IN … rides the (channel, address) index on both databases; the
    # few cross pairs it also matches are dropped by the caller.
    .where(_IDENTITIES.c.channel.in_(bindparam("channels", expanding=True)),
           _IDENTITIES.c.address.in_(bindparam("addresses", expanding=True)))
)
_THREADS_OF = select(Thread).where(col(Thread.customer_id).in_(bindparam("customer_ids", expanding=True)))
_STORED = select(_MESSAGES.c.channel, _MESSAGES.c.provider_id).where(
    _MESSAGES.c.channel.in_(bindparam("channels", expanding=True)),
    _MESSAGES.c.provider_id.in_(bindparam("provider_ids", expanding=True)))


async def _read(session: AsyncSession, events: Sequence[InboundEvent], addresses: Sequence[str | None]) -> _Known:
    pairs = {(str(event.channel), address) for event, address in zip(events, addresses, strict=True)
             if isinstance(event, InboundMessage) and address is not None}
    keys = {(str(event.channel), event.provider_id) for event in events if isinstance(event, InboundMessage)}
    senders: dict[_Key, _Sender] = {}
    threads: dict[int, Thread] = {}
    stored: set[_Key] = set()
    if pairs:
        rows = await session.execute(_SENDERS, {"channels": sorted({channel for channel, _ in pairs}),
                                                "addresses": sorted({address for _, address in pairs})})
        senders = {(row.channel, row.address): _Sender(row.id, row.customer_id, bool(row.verified), bool(row.name))
                   for row in rows if (row.channel, row.address) in pairs}
    if senders:
        threads = {thread.customer_id: thread for thread in (await session.execute(
            _THREADS_OF, {"customer_ids": sorted({sender.customer_id for sender in senders.values()})})).scalars()}
    if keys:
        rows = await session.execute(_STORED, {"channels": sorted({channel for channel, _ in keys}),
                                               "provider_ids": sorted({provider_id for _, provider_id in keys})})
        stored = {(row.channel, row.provider_id) for row in rows} & keys
    return _Known(senders, threads, stored)


async def _store(session: AsyncSession, run: Sequence[_Fast], results: list[Ingested | None]) -> None:
    if not run:
        return
    message_ids = await messages.append_many(session, [
        (fast.thread, new_message(fast.event, identity_id=fast.sender.identity_id, reply_to_id=None))
        for fast in run])
    if None in message_ids:
        # Another connection stored one of these since _read: start over one request at a time.
        raise Duplicate()
    await customers.touch_inbound_many(session, [(fast.sender.identity_id, fast.event.provider_at or utcnow())
                                                 for fast in run])
    for fast, message_id in zip(run, message_ids, strict=True):
        results[fast.index] = Ingested("stored", message_id, fast.sender.customer_id, fast.thread.id)
