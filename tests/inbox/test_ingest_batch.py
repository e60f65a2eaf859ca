import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers.models import Identity
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
from inbox.realtime import LocalHub, last_event_id
from inbox.replies import queue_reply
from inbox.search import search
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread

T0 = datetime(2025, 11, 17, 9, tzinfo=UTC)
THREAD_ROW = ("status", "last_preview", "last_direction", "last_channel", "channels", "last_inbound_channel",
              "unread_count")


def _party(world: int, who: str) -> Party:
    number = {"a": 1, "b": 2, "c": 3, "d": 4}[who]
    return Party(f"whatsapp:+90532{world}{number:06d}", AddressKind.phone, True, f"{who.upper()} {world}")


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
    async def test_provider_retries_are_stored_once(self, sessions, session, ingest_config):
        await _seed(sessions, ingest_config, 1)
        writer = IngestWriter(sessions, ingest_config)
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
