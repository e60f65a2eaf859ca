import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, or_, select, update
from sqlalchemy.event import listen, remove
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox.channels import AddressKind, Channel
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.db import transaction
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    DeliveryWatermark,
    Direction,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    MessageEdited,
    Party,
)
from inbox.ingest import IngestConfig, ingest
from inbox.ingest_batch import ingest_many
from inbox.ingest_queue import IngestWriter
from inbox.messages.models import Message
from inbox.realtime import LiveEvent, LocalHub, last_event_id
from inbox.replies import queue_reply
from inbox.search import SearchDoc, search
from inbox.threads import service as threads
from inbox.threads.models import Case, Status, Thread, ThreadCount, ViewFamilyCount

T0 = datetime(2025, 11, 17, 9, tzinfo=UTC)
THREAD_ROW = ("status", "last_preview", "last_direction", "last_channel", "channels", "last_inbound_channel",
              "unread_count")


WHO = "abcdefgh"


def _party(world: int, who: str) -> Party:
    return Party(f"whatsapp:+90532{world}{WHO.index(who) + 1:06d}", AddressKind.phone, True, f"{who.upper()} {world}")


def _says(world: int, who: str, text: str, minute: int, *, pid: str | None = None, **more) -> InboundMessage:  # type: ignore[no-untyped-def]
    return InboundMessage(Channel.whatsapp, f"w{world}-{pid or text}", _party(world, who), text=text,
                          provider_at=T0 + timedelta(minutes=minute), **more)


async def _seed(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, world: int) -> None:
    """A and B write into open cases; C's case is resolved; A's "a0" is stored already."""
    for event in (_says(world, "a", "a0", 0), _says(world, "b", "b0", 1), _says(world, "c", "c0", 2)):
        async with transaction(sessions) as session:
            result = await ingest(session, event, config=config)
    async with transaction(sessions) as session:
        await threads.set_status(session, await threads.get(session, result.thread_id or 0), status=Status.resolved)


def _batch(world: int) -> list[InboundEvent]:
    return [
        _says(world, "a", "a1", 100),
        _says(world, "b", "b1", 101),
        _says(world, "d", "d1", 102),                        # a new customer
        _says(world, "a", "a1", 100),                        # the provider retries within the batch
        _says(world, "a", "a0", 0),                          # … and long after it was stored
        _says(world, "c", "c1", 103),                        # reopens C's resolved thread
        _says(world, "c", "c2", 104),
        _says(world, "d", "d2", 105),
        _says(world, "a", "a photo", 106, files=(IncomingFile("p.jpg", "image/jpeg", data=b"jpeg"),)),
        _says(world, "b", "b late", 50),                     # a late retry from earlier that day
        _says(world, "a", "a echo", 107, direction=Direction.outbound),
        _says(world, "a", "a3", 108),
        MessageEdited(Channel.whatsapp, f"w{world}-b1", "b1 edited"),
        DeliveryUpdate(Channel.whatsapp, f"w{world}-nothing", DeliveryStatus.delivered),
        _says(world, "b", "b2", 109),
        _says(world, "b", "b2", 109),
    ]


async def _world(session: AsyncSession, world: int) -> dict[str, object]:
    """Everything the inbox shows of one world's customers, keyed by who they are, without ids."""
    shown: dict[str, object] = {}
    for who in "abcd":
        address = _party(world, who).address.removeprefix("whatsapp:")
        identity = (await session.execute(select(Identity).where(Identity.address == address))).scalar_one()
        thread = (await session.execute(select(Thread).where(Thread.customer_id == identity.customer_id))
                  ).scalar_one()
        await session.refresh(thread)
        history = (await session.execute(
            select(Message.direction, Message.text, Message.at).where(Message.thread_id == thread.id)
            .order_by(Message.at, Message.id))).all()
        shown[who] = {"row": {key: getattr(thread, key) for key in THREAD_ROW},
                      # System lines take the time they were written; messages keep the provider's.
                      "history": [(d, t, None if d == "event" else at) for d, t, at in history]}
    return shown


class TestIngestMany:
    async def test_a_mixed_batch_leaves_what_one_event_at_a_time_leaves(self, sessions, session, ingest_config):
        for world in (1, 2):
            await _seed(sessions, ingest_config, world)
        one_by_one = []
        for event in _batch(1):
            async with transaction(sessions) as tx:
                one_by_one.append(await ingest(tx, event, config=ingest_config))
        async with transaction(sessions) as tx:
            batched = await ingest_many(tx, _batch(2), config=ingest_config)

        assert [r.outcome for r in batched] == [r.outcome for r in one_by_one] == [
            "stored", "stored", "stored", "duplicate", "duplicate", "stored", "stored", "stored", "stored",
            "stored", "stored", "stored", "updated", "held", "stored", "duplicate"]
        assert await _world(session, 2) == await _world(session, 1)

    async def test_a_batch_row_matches_explicit_expectations(self, sessions, session, ingest_config):
        await _seed(sessions, ingest_config, 1)
        async with transaction(sessions) as tx:
            results = await ingest_many(tx, _batch(1), config=ingest_config)
        shown = await _world(session, 1)
        b = shown["b"]
        assert isinstance(b, dict)
        # "b late" is older than "b1", so the list keeps showing the newest message.
        assert b["row"] == {"status": "open", "last_preview": "b2", "last_direction": "inbound",
                            "last_channel": "whatsapp", "channels": "whatsapp", "last_inbound_channel": "whatsapp",
                            "unread_count": 4}
        assert [text for kind, text, _ in b["history"] if kind != "event"] == ["b0", "b late", "b1 edited", "b2"]
        c = shown["c"]
        assert isinstance(c, dict)
        assert [text for kind, text, _ in c["history"] if kind != "event"] == ["c0", "c1", "c2"]
        assert [text for kind, text, _ in c["history"] if kind == "event"] == ["case opened", "case reopened"]
        stored_ids = [r.message_id for r in results if r.outcome == "stored"]
        assert None not in stored_ids and len(set(stored_ids)) == len(stored_ids)
        hits = await search(session, "b2", kind="message")
        assert [hit.ref_id for hit in hits] == [results[14].message_id]

    async def test_live_events_are_published_after_commit_in_id_order(self, sessions, session, ingest_config,
                                                                       hub: LocalHub):
        await _seed(sessions, ingest_config, 1)
        async with sessions() as reader:
            before = await last_event_id(reader)
        subscription = hub.subscribe()

        def drain() -> list[dict[str, Any]]:
            # Through Redis, the seed's own events may still be arriving: only newer ones count.
            found = []
            while not subscription.queue.empty():
                event = subscription.queue.get_nowait()
                if event is not None and event["id"] > before:
                    found.append(event)
            return found

        async with transaction(sessions) as tx:
            results = await ingest_many(tx, _batch(1), config=ingest_config)
            await asyncio.sleep(0.05)
            assert drain() == []
        stored = [r.message_id for r in results if r.outcome == "stored"]
        heard: list[dict[str, Any]] = []
        while not set(stored) <= {e["data"].get("message_id") for e in heard if e["kind"] == "message.created"}:
            event = await subscription.get(wait=5)
            if event["id"] > before:
                heard.append(event)
        heard += drain()
        ids = [event["id"] for event in heard]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        created = [event["data"]["message_id"] for event in heard if event["kind"] == "message.created"]
        # Every stored message is announced once, in the order it was stored (plus the case-opened lines).
        assert [message_id for message_id in created if message_id in stored] == stored


    async def test_a_delivered_receipt_after_a_read_watermark_in_one_batch_leaves_read(
            self, sessions, session, ingest_config):
        psid = Party("7123456789012345", AddressKind.handle, True, "Ayşe")
        async with transaction(sessions) as tx:
            customer = (await ingest(tx, InboundMessage(Channel.messenger, "m_in", psid, text="selam"),
                                     config=ingest_config)).customer_id
            reply = await queue_reply(tx, customer_id=customer or 0, channel=Channel.messenger, text="cevap")
            await tx.execute(update(Message).where(Message.id == reply.id).values(
                delivery_status="sent", claimed_at=T0, provider_id="m_reply"))
        async with transaction(sessions) as tx:
            await ingest_many(tx, [DeliveryUpdate(Channel.messenger, "m_reply", DeliveryStatus.sent),
                                   DeliveryWatermark(Channel.messenger, psid, DeliveryStatus.read, T0),
                                   DeliveryUpdate(Channel.messenger, "m_reply", DeliveryStatus.delivered)],
                              config=ingest_config)
        stored = (await session.execute(select(Message.delivery_status).where(Message.id == reply.id))).scalar_one()
        assert stored == "read"

class TestIngestWriter:
    @pytest.mark.parametrize("lanes", [1, 2])
    async def test_provider_retries_are_stored_once(self, sessions, session, ingest_config, lanes: int):
        await _seed(sessions, ingest_config, 1)
        writer = IngestWriter(sessions, ingest_config, lanes=lanes)
        await writer.start()
        try:
            events = [_says(1, who, f"{who}-{n}", 200 + n) for n in range(20) for who in "abd"]
            # Each webhook arrives twice at once, and the whole lot once more afterwards.
            first = await asyncio.gather(*(writer.submit([event]) for event in events + events))
            again = await asyncio.gather(*(writer.submit([event]) for event in events))
        finally:
            await writer.stop()
        outcomes = [result.outcome for [result] in first]
        assert outcomes[:60].count("stored") + outcomes[60:].count("stored") == 60
        assert all(outcome == "duplicate" for outcome in outcomes[60:])
        assert {result.outcome for [result] in again} == {"duplicate"}
        inbound = (await session.execute(
            select(func.count()).select_from(Message).where(Message.direction == "inbound"))).scalar_one()
        assert inbound == 3 + 60

    async def test_with_two_lanes_each_customer_has_one_thread_in_arrival_order_and_the_counts_hold(
            self, sessions, session, ingest_config):
        await _seed(sessions, ingest_config, 1)
        writer = IngestWriter(sessions, ingest_config, lanes=2)  # PostgreSQL's own; one connection on SQLite
        await writer.start()
        try:
            # Known senders (a, b), a resolved one (c) and newcomers (e-h), all writing at once, in waves.
            for wave in range(4):
                await asyncio.gather(*(writer.submit([_says(1, who, f"{who}-{wave}-{n}", 10 + wave * 5 + n)])
                                       for n in range(5) for who in "abcefgh"))
        finally:
            await writer.stop()
        rows = (await session.execute(select(Customer.id, Message.text).join(Thread, Thread.customer_id == Customer.id)
                                      .join(Message, Message.thread_id == Thread.id)
                                      .where(Message.direction == "inbound")
                                      .order_by(Message.at, Message.id))).all()
        by_customer: dict[int, list[str]] = {}
        for customer_id, text in rows:
            by_customer.setdefault(customer_id, []).append(text)
        assert len(by_customer) == 7
        for texts in by_customer.values():
            who = texts[-1][0]
            written = [f"{who}-{wave}-{n}" for wave in range(4) for n in range(5)]
            assert [text for text in texts if "-" in text] == written
        open_threads = (await session.execute(select(func.count()).select_from(Thread)
                                              .where(Thread.status == "open"))).scalar_one()
        on_whatsapp = (await session.execute(select(func.count()).select_from(Thread).where(
            Thread.status == "open", Thread.last_inbound_channel == "whatsapp"))).scalar_one()
        counters = await _counters(session)
        assert (open_threads, on_whatsapp) == (7, 7)
        assert (counters[("open", 0)], counters[("channel", "whatsapp")]) == (7, 7)


def _newcomer(world: int, who: str, text: str, minute: int, *, channel: Channel = Channel.whatsapp,
              verified: bool = True, name: str | None = None, **more: Any) -> InboundMessage:
    """A message from e, f, g or h: nobody the seed knows, unless told to write from a seeded phone."""
    number = f"+90532{world}{WHO.index(who) + 1:06d}"
    if channel == Channel.telegram:
        party = Party(f"tg{world}-{who}", AddressKind.handle, verified, name)
    else:
        party = Party(f"whatsapp:{number}" if channel == Channel.whatsapp else number, AddressKind.phone, verified,
                      name)
    return InboundMessage(channel, f"{channel}{world}-{text}", party, text=text,
                          provider_at=T0 + timedelta(minutes=minute), **more)


_COUNTERS = (select(ThreadCount.status, ThreadCount.assignee_id, ThreadCount.n),
             select(ViewFamilyCount.family, ViewFamilyCount.ref, ViewFamilyCount.n))


async def _counters(session: AsyncSession) -> Counter[tuple[object, ...]]:
    found: Counter[tuple[object, ...]] = Counter()
    for statement in _COUNTERS:
        for *key, n in (await session.execute(statement)).all():
            found[tuple(key)] += n
    return found


def _who(address: str) -> str:
    return address.rsplit("-", 1)[1] if address.startswith("tg") else WHO[int(address[-6:]) - 1]


async def _everything(session: AsyncSession, world: int, live: tuple[int, int]) -> dict[str, object]:
    """Every row one world's customers have, and the live events between two ids, without ids or the world."""
    def same(text: object) -> object:
        return text.replace(f"90532{world}", "90532W").replace(f"tg{world}", "tgW").replace(f" {world}", " W") \
            if isinstance(text, str) else text

    identities = (await session.execute(select(Identity).where(or_(
        col(Identity.address).like(f"+90532{world}%"), col(Identity.address).like(f"tg{world}-%")))
        .order_by(col(Identity.id)))).scalars().all()
    owners: dict[int, list[Identity]] = {}
    for identity in identities:
        owners.setdefault(identity.customer_id, []).append(identity)
    label = {customer_id: "+".join(f"{i.channel}:{_who(i.address)}" for i in owned)
             for customer_id, owned in owners.items()}
    identity_label = {i.id: f"{i.channel}:{_who(i.address)}" for i in identities}
    # A customer who typed an address its owner later proved keeps the thread but not the identity.
    for customer_id, identity_id in (await session.execute(
            select(Thread.customer_id, Message.identity_id).join(Message, col(Message.thread_id) == Thread.id)
            .where(col(Message.identity_id).in_(list(identity_label))).order_by(col(Message.id)))).all():
        if customer_id not in owners:
            owners[customer_id] = []
            label[customer_id] = f"typed by {identity_label[identity_id]}"
    threads_of = {thread.id: thread for thread in (await session.execute(
        select(Thread).where(col(Thread.customer_id).in_(list(owners))))).scalars()}
    thread_label = {thread_id: label[thread.customer_id] for thread_id, thread in threads_of.items()}
    cases = (await session.execute(select(Case).where(col(Case.thread_id).in_(list(threads_of)))
                                   .order_by(col(Case.id)))).scalars().all()
    case_label = {case.id: (thread_label[case.thread_id], case.number) for case in cases}
    history = (await session.execute(select(Message).where(col(Message.thread_id).in_(list(threads_of)))
                                     .order_by(col(Message.id)))).scalars().all()
    message_label = {m.id: (thread_label[m.thread_id], m.direction, m.text) for m in history}
    shown: dict[str, object] = {}
    for customer_id, owned in owners.items():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        thread = next(t for t in threads_of.values() if t.customer_id == customer_id)
        await session.refresh(thread)
        docs = (await session.execute(select(SearchDoc.kind, SearchDoc.ref_id, SearchDoc.body, SearchDoc.at)
                                      .where(SearchDoc.customer_id == customer_id)
                                      .order_by(SearchDoc.kind, col(SearchDoc.id)))).all()
        found = await search(session, customer.name, kind="customer")
        shown[label[customer_id]] = {
            "customer": (same(customer.name), customer.note, customer.absorbed_into_id),
            "identities": [(i.channel, i.kind, same(i.address), i.verified, same(i.display), i.last_inbound_at)
                           for i in owned],
            "thread": ({key: getattr(thread, key) for key in (*THREAD_ROW, "snoozed_until", "assignee_id",
                                                             "team_id", "last_activity_at")},
                       case_label.get(thread.case_id), message_label.get(thread.last_message_id)),
            "cases": [(case.number, case.status, case.opened_at, case.first_response_at, case.resolved_at is None)
                      for case in cases if case.thread_id == thread.id],
            "history": [(m.direction, m.channel, m.author_type, same(m.author_name), m.text, m.at, m.provider_at,
                         m.extra, case_label.get(m.case_id), identity_label.get(m.identity_id or 0), m.references)
                        for m in history if m.thread_id == thread.id],
            # A customer's document is dated by the customer's creation: now, in each world.
            "search": [(kind, message_label.get(ref) if kind == "message" else label.get(ref), same(body),
                        at if kind == "message" else None) for kind, ref, body, at in docs],
            # The other world's namesakes are found too: only this world's count.
            "found by name": [label[hit.customer_id] for hit in found if hit.customer_id in label],
        }
    suggestions = (await session.execute(select(MergeSuggestion).where(or_(
        col(MergeSuggestion.customer_id).in_(list(owners)), col(MergeSuggestion.other_id).in_(list(owners))))
        .order_by(col(MergeSuggestion.id)))).scalars().all()
    shown["suggestions"] = [(label[s.customer_id], label[s.other_id], same(s.reason)) for s in suggestions]
    events = (await session.execute(select(LiveEvent).where(col(LiveEvent.id) > live[0], col(LiveEvent.id) <= live[1])
                                    .order_by(col(LiveEvent.id)))).scalars().all()
    shown["live"] = [(e.kind, thread_label.get(e.thread_id or 0), label.get(e.customer_id or 0),
                      {key: message_label.get(value) if key == "message_id" else
                       case_label.get(int(value)) if key == "case_id" and value else value
                       for key, value in e.data.items()}) for e in events]
    return shown


async def _both_ways(sessions: async_sessionmaker[AsyncSession], session: AsyncSession, config: IngestConfig,
                     batch: Callable[[int], list[InboundEvent]]) -> tuple[list[str], dict[str, object]]:
    """World 1 ingests the batch one event per transaction, world 2 in one ingest_many; both must end alike."""
    for world in (1, 2):
        await _seed(sessions, config, world)
    outcomes, counted, states = [], [], []
    for world in (1, 2):
        async with sessions() as reader:
            before, counters_before = await last_event_id(reader), await _counters(reader)
        if world == 1:
            results = []
            for event in batch(world):
                async with transaction(sessions) as tx:
                    results.append(await ingest(tx, event, config=config))
        else:
            async with transaction(sessions) as tx:
                results = await ingest_many(tx, batch(world), config=config)
        async with sessions() as reader:
            after, counters_after = await last_event_id(reader), await _counters(reader)
            counters_after.subtract(counters_before)
            counted.append(+counters_after)
            states.append(await _everything(reader, world, (before, after)))
        outcomes.append([result.outcome for result in results])
    assert outcomes[1] == outcomes[0]
    assert counted[1] == counted[0]
    for key in states[0]:
        assert states[1][key] == states[0][key], key
    assert states[1] == states[0]
    return outcomes[0], states[0]


class TestNewSenders:
    async def test_newcomers_alone_get_a_customer_thread_and_open_case_each(self, sessions, session, ingest_config):
        outcomes, state = await _both_ways(sessions, session, ingest_config, lambda w: [
            _newcomer(w, "e", "e1", 100, name="Ezgi"),
            _newcomer(w, "f", "f1", 101),
            _newcomer(w, "g", "g1", 99, channel=Channel.telegram, name="  Gül  "),
            _newcomer(w, "h", "h1", 102, verified=False, name="Hakan"),
        ])
        assert outcomes == ["stored"] * 4
        e = state["whatsapp:e"]
        assert isinstance(e, dict)
        assert e["customer"] == ("Ezgi", "", None)
        assert [line[4] for line in e["history"]] == ["case opened", "e1"]
        assert e["found by name"] == ["whatsapp:e"]
        assert [(kind, who) for kind, who, _, _ in state["live"]] == [  # type: ignore[attr-defined]
            (kind, who) for who in ("whatsapp:e", "whatsapp:f", "telegram:g", "whatsapp:h")
            for kind in ("thread.updated", "message.created", "message.created")]

    async def test_newcomers_mixed_with_known_senders(self, sessions, session, ingest_config):
        outcomes, state = await _both_ways(sessions, session, ingest_config, lambda w: [
            _says(w, "a", "a1", 100),
            _newcomer(w, "e", "e1", 101, name="E"),
            _says(w, "b", "b1", 102),
            _newcomer(w, "e", "e2", 103),
            _says(w, "c", "c1", 104),                        # reopens C: ingest() on its own
            _newcomer(w, "f", "f1", 105, name="F"),
            _newcomer(w, "e", "e photo", 106, files=(IncomingFile("p.jpg", "image/jpeg", data=b"jpeg"),)),
            _newcomer(w, "e", "e3", 107),
            _newcomer(w, "f", "f0", 90),                     # earlier than f1: not the thread's latest
        ])
        assert outcomes == ["stored"] * 9
        f = state["whatsapp:f"]
        assert isinstance(f, dict)
        assert f["thread"][0]["last_preview"] == "f1" and f["thread"][0]["unread_count"] == 2

    async def test_a_newcomers_later_messages_that_need_a_decision_go_through_ingest(
            self, sessions, session, ingest_config):
        outcomes, state = await _both_ways(sessions, session, ingest_config, lambda w: [
            _newcomer(w, "e", "e1", 100),                    # no name yet
            _newcomer(w, "e", "e2", 101, name="Eda"),        # … names the customer
            _newcomer(w, "f", "f1", 102, verified=False),    # a claim
            _newcomer(w, "f", "f2", 103),                    # … proven: the owner gets their own customer
            _newcomer(w, "g", "g1", 104, channel=Channel.telegram),
            _newcomer(w, "g", "g2", 105, channel=Channel.telegram, direction=Direction.outbound),
            _newcomer(w, "g", "g3", 106, channel=Channel.telegram),
        ])
        assert outcomes == ["stored"] * 7
        assert state["whatsapp:e"]["customer"][0] == "Eda"  # type: ignore[index]
        assert state["suggestions"]

    async def test_a_phone_known_on_another_channel_joins_or_suggests(self, sessions, session, ingest_config):
        outcomes, state = await _both_ways(sessions, session, ingest_config, lambda w: [
            _newcomer(w, "a", "a by phone", 100, channel=Channel.phone, name="A"),     # verified: joins A
            _newcomer(w, "b", "b by phone", 101, channel=Channel.phone, verified=False),  # claimed: suggests
            _newcomer(w, "e", "e1", 102, name="E"),
            _newcomer(w, "e", "e by phone", 103, channel=Channel.phone),            # E's phone, new this batch
            _newcomer(w, "f", "f by phone", 104, channel=Channel.phone, verified=False),
            _newcomer(w, "f", "f1", 105),                                          # proves F's claimed phone
        ])
        assert outcomes == ["stored"] * 6
        assert "whatsapp:a+phone:a" in state and "whatsapp:e+phone:e" in state
        assert len(state["suggestions"]) == 2  # type: ignore[arg-type]

    async def test_duplicates_inside_the_batch_and_of_stored_rows(self, sessions, session, ingest_config):
        outcomes, state = await _both_ways(sessions, session, ingest_config, lambda w: [
            _newcomer(w, "e", "e1", 100),
            _newcomer(w, "e", "e1", 100),
            _says(w, "a", "a0", 0),
            _newcomer(w, "f", "a0", 0, channel=Channel.telegram),  # same provider id, other channel: not a duplicate
            _newcomer(w, "e", "e2", 101),
            _newcomer(w, "e", "e1", 100),
        ])
        assert outcomes == ["stored", "duplicate", "duplicate", "stored", "stored", "duplicate"]
        assert [line[4] for line in state["whatsapp:e"]["history"]] == ["case opened", "e1", "e2"]  # type: ignore[index]

    async def test_many_newcomers_cost_a_handful_of_statements(self, sessions, engine, ingest_config):
        await _seed(sessions, ingest_config, 1)
        statements = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        batch = [_newcomer(1, who, f"{who}{n}", n) for n in range(10) for who in "efgh"]
        async with transaction(sessions) as tx:
            listen(engine.sync_engine, "before_cursor_execute", count)
            try:
                results = await ingest_many(tx, batch, config=ingest_config)
            finally:
                remove(engine.sync_engine, "before_cursor_execute", count)
        assert [r.outcome for r in results] == ["stored"] * 40
        # One at a time, each newcomer's first message alone takes over twenty.
        assert len(statements) <= 20, "\n".join(s[:100] for s in statements)
