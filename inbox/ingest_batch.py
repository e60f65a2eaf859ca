"""ingest_many: a batch of events, with the common cases done a batch at a time.

Nearly every webhook is a known customer writing into an open case, or someone writing for the
first time from an address nobody has. One at a time each costs a dozen statements or more per
message; here a run of such messages costs about a dozen in total. Any other event (a thread to
reopen, an address known on another channel, files, a quoted reply, an edit, a status) goes
through ingest() on its own, in arrival order, after the run before it is written: the database
ends as if the events had been ingested one by one.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import channel_activity
from inbox.customers import service as customers
from inbox.customers.addresses import normalize
from inbox.customers.models import Customer, Identity
from inbox.db import one_of, table_of, utcnow
from inbox.driver_sql import held_writes
from inbox.errors import Invalid
from inbox.events import ContactShared, Direction, InboundEvent, InboundMessage, LinkOpened
from inbox.ingest import MATCHABLE, Duplicate, IngestConfig, Ingested, case_line, ingest, new_message
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.realtime import NewLiveEvent
from inbox.threads import service as threads
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
class _Newcomer:
    """A sender first seen in the current run, created when the run is stored."""

    event: InboundMessage  # the first message: the customer is made from its party
    address: str
    sender: _Sender | None = None
    thread: Thread | None = None


@dataclass(slots=True)
class _Known:
    """What the batch's opening reads found: only ever an under-estimate of what the fast path may assume."""

    senders: dict[_Key, _Sender]
    threads: dict[int, Thread]  # by customer id; the session's own objects, so they stay current
    stored: set[_Key]  # (channel, provider id) seen earlier in the batch
    # (kind, address) of every phone and email some identity has, on any channel, or a newcomer
    # claimed in this batch: writing from one joins or suggests a customer, which ingest() decides.
    elsewhere: set[_Key]
    # (channel, address) of senders ingest() saw in this batch: it may have created them since the reads.
    handled: set[_Key] = field(default_factory=set)
    newcomers: dict[_Key, _Newcomer] = field(default_factory=dict)  # of the run not yet stored


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class _Fast:
    index: int
    event: InboundMessage
    sender: _Sender | _Newcomer
    thread: Thread | None  # a newcomer's is made when the run is stored
    first: bool = False  # a newcomer's first message: it creates the customer and opens case 1


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
            sender_key = (key[0], address or "")
            sender = known.senders.get(sender_key)
            if sender is not None and event.sender.verified and not sender.verified:
                # ingest() proves the claim and moves the identity to its owner: ask the database again.
                del known.senders[sender_key]
            known.handled.add(sender_key)
            if event.sender.kind in MATCHABLE:
                known.elsewhere.add((str(event.sender.kind), address or ""))
        await _store(session, run, results, known)
        run = []
        results[index] = await ingest(session, event, config=config)
        if isinstance(event, ContactShared | LinkOpened):
            # A share or a link can merge two customers, moving identities and messages between threads.
            known = await _read(session, events[index + 1:], addresses[index + 1:])
    await _store(session, run, results, known)
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
    """The message, if storing it needs no decision: a known sender writing into an open case, or a newcomer."""
    if event.direction != Direction.inbound or event.files or event.reply_to or address is None:
        return None
    key = (str(event.channel), address)
    newcomer = known.newcomers.get(key)
    if newcomer is not None:
        first = newcomer.event.sender
        # ingest() would prove the claim, or name the customer: the run must be written first.
        if (event.sender.verified and not first.verified) or (_named(event.sender.name) and not _named(first.name)):
            return None
        return _Fast(index, event, newcomer, None)
    sender = known.senders.get(key)
    if sender is None:
        return _first(index, event, key, address, known)
    if event.sender.verified and not sender.verified:
        return None
    if not sender.named and _named(event.sender.name):
        return None
    thread = known.threads.get(sender.customer_id)
    if thread is None or thread.status != Status.open or thread.case_id is None:
        return None
    return _Fast(index, event, sender, thread)


def _first(index: int, event: InboundMessage, key: _Key, address: str, known: _Known) -> _Fast | None:
    matchable = (str(event.sender.kind), address) if event.sender.kind in MATCHABLE else None
    if key in known.handled or matchable in known.elsewhere:
        return None
    newcomer = known.newcomers[key] = _Newcomer(event, address)
    if matchable is not None:
        # The same phone on another channel later in the batch joins this customer: ingest() does that.
        known.elsewhere.add(matchable)
    return _Fast(index, event, newcomer, None, first=True)


def _named(name: str | None) -> bool:
    return bool(name and name.strip())


# Built once per database: constructing and cache-keying a statement per batch costs more than running it.
@functools.cache
def _senders(dialect: str) -> Select[Any]:
    # With the customer's thread: on PostgreSQL each statement is a round trip that the whole
    # batch, and every webhook in it, waits for.
    return (
        select(_IDENTITIES.c.channel, _IDENTITIES.c.address, _IDENTITIES.c.id.label("identity_id"),
               _IDENTITIES.c.customer_id, _IDENTITIES.c.verified, _CUSTOMERS.c.name, Thread)
        .select_from(_IDENTITIES)
        .join(_CUSTOMERS, _CUSTOMERS.c.id == _IDENTITIES.c.customer_id)
        .outerjoin(Thread, col(Thread.customer_id) == _IDENTITIES.c.customer_id)
        # channel IN … AND address IN … rides the (channel, address) index on both databases; the
        # few cross pairs it also matches are dropped by the caller.
        .where(one_of(_IDENTITIES.c.channel, "channels", dialect), one_of(_IDENTITIES.c.address, "addresses", dialect))
    )


@functools.cache
def _elsewhere(dialect: str) -> Select[Any]:
    return select(_IDENTITIES.c.kind, _IDENTITIES.c.address).where(
        one_of(_IDENTITIES.c.kind, "kinds", dialect), one_of(_IDENTITIES.c.address, "addresses", dialect))


async def _read(session: AsyncSession, events: Sequence[InboundEvent], addresses: Sequence[str | None]) -> _Known:
    pairs = {(str(event.channel), address) for event, address in zip(events, addresses, strict=True)
             if isinstance(event, InboundMessage) and address is not None}
    dialect = session.get_bind().dialect.name
    senders: dict[_Key, _Sender] = {}
    threads: dict[int, Thread] = {}
    elsewhere: set[_Key] = set()
    if pairs:
        found = [row for row in (await session.execute(_senders(dialect), {
            "channels": sorted({channel for channel, _ in pairs}),
            "addresses": sorted({address for _, address in pairs})})) if (row.channel, row.address) in pairs]
        senders = {(row.channel, row.address): _Sender(row.identity_id, row.customer_id, bool(row.verified),
                                                       bool(row.name)) for row in found}
        threads = {row.Thread.customer_id: row.Thread for row in found if row.Thread is not None}
    # Only the unknown senders' phones and emails: a known sender never takes the newcomer's path.
    matchable = {(str(event.sender.kind), address) for event, address in zip(events, addresses, strict=True)
                 if isinstance(event, InboundMessage) and address is not None and event.sender.kind in MATCHABLE
                 and (str(event.channel), address) not in senders}
    if matchable:
        rows = await session.execute(_elsewhere(dialect), {"kinds": sorted({kind for kind, _ in matchable}),
                                                  "addresses": sorted({address for _, address in matchable})})
        elsewhere = {(row.kind, row.address) for row in rows}
    # What was stored before is not asked: the fast path's INSERT skips it (ON CONFLICT DO NOTHING)
    # and ingest() looks first. A round trip less per batch on PostgreSQL.
    return _Known(senders, threads, set(), elsewhere)


async def _store(session: AsyncSession, run: Sequence[_Fast], results: list[Ingested | None], known: _Known) -> None:
    if not run:
        return
    opened = await _create_newcomers(session, [fast for fast in run if fast.first], known)
    entries: list[tuple[Thread, messages.NewMessage]] = []
    before: dict[int, list[NewLiveEvent]] = {}
    touches: list[tuple[int, datetime]] = []
    for fast in run:
        sender, thread = _resolved(fast)
        at = fast.event.provider_at or utcnow()
        if fast.first:
            # What reopen_on_inbound announces comes just before the case line, as one at a time.
            before[len(entries)] = [opened[fast.index]]
            entries.append((thread, case_line(fast.event, at=at, what="opened")))
        entries.append((thread, new_message(fast.event, identity_id=sender.identity_id, reply_to_id=None)))
        touches.append((sender.identity_id, at))
    async with held_writes(session):
        # Written with the messages, in one statement on PostgreSQL: each identity's messaging window.
        await customers.touch_inbound_many(session, touches)
        message_ids = await messages.append_many(session, entries, before=before)
    # Each message is the last entry of its own (a newcomer's case line comes before it).
    for fast, message_id in zip(run, _each_last(run, message_ids), strict=True):
        if message_id is None:
            if fast.first:
                # Another connection stored it, and so its sender, since _read: start over one request at a time.
                raise Duplicate()
            results[fast.index] = Ingested("duplicate")  # a provider's retry of a stored message
            continue
        sender, thread = _resolved(fast)
        results[fast.index] = Ingested("stored", message_id, sender.customer_id, thread.id)


async def _create_newcomers(session: AsyncSession, firsts: Sequence[_Fast], known: _Known) -> dict[int, NewLiveEvent]:
    """The run's newcomers as resolve_identity() and reopen_on_inbound() would make them: the
    "thread.updated" event of each one's case opening, by the index of its first message."""
    if not firsts:
        return {}
    created = await customers.create_many(session, [
        customers.Newcomer(name=fast.event.sender.name or "", channel=fast.event.channel,
                           kind=fast.event.sender.kind, address=_newcomer(fast).address,
                           verified=fast.event.sender.verified, display=fast.event.sender.address)
        for fast in firsts])
    if created is None:
        # Another connection wrote from one of these addresses since _read.
        raise Duplicate()
    opened = await threads.open_first_cases(session, [
        (made.thread_id, made.customer_id, fast.event.provider_at or utcnow())
        for fast, made in zip(firsts, created, strict=True)])
    loaded = await threads.get_many(session, [made.thread_id for made in created])
    for fast, made in zip(firsts, created, strict=True):
        newcomer = _newcomer(fast)
        newcomer.sender = _Sender(made.identity_id, made.customer_id, fast.event.sender.verified,
                                  _named(fast.event.sender.name))
        newcomer.thread = loaded[made.thread_id]
        # Known senders from here on: their next messages take the other fast path.
        known.senders[(str(fast.event.channel), newcomer.address)] = newcomer.sender
        known.threads[made.customer_id] = newcomer.thread
    known.newcomers.clear()
    return {fast.index: event for fast, event in zip(firsts, opened, strict=True)}


def _newcomer(fast: _Fast) -> _Newcomer:
    assert isinstance(fast.sender, _Newcomer)
    return fast.sender


def _resolved(fast: _Fast) -> tuple[_Sender, Thread]:
    if isinstance(fast.sender, _Sender):
        assert fast.thread is not None
        return fast.sender, fast.thread
    assert fast.sender.sender is not None and fast.sender.thread is not None
    return fast.sender.sender, fast.sender.thread


def _each_last(run: Sequence[_Fast], message_ids: Sequence[int | None]) -> list[int | None]:
    ids = iter(message_ids)
    return [(next(ids), next(ids))[1] if fast.first else next(ids) for fast in run]
