"""Live events: every change gets a rising sequence number, stored with the change.

The row is written in the change's own transaction and published after commit, so a browser
never hears of something that was rolled back, and one that reconnects replays from the last
number it saw. Within one process events are published in commit order; across PostgreSQL
connections ids can commit out of order, so catch-up replays a small window before the last
seen id and clients drop ids they already applied.

Topics: an event carrying a "topic" key goes only to that topic's subscribers (a web chat
visitor's replies, never an agent's concern). Every other event goes to the subscribers of
everything (the agents' /live sockets) and, when it names a thread, to that thread's topic too.
"""

import asyncio
import collections
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import JSON, Column, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from inbox.db import BigIntId, UTCDateTime, after_commit, insert_many, utcnow

log = logging.getLogger(__name__)

CATCH_UP_WINDOW = 200


class LiveEvent(SQLModel, table=True):
    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    thread_id: int | None = None
    customer_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


def thread_topic(thread_id: int) -> str:
    return f"thread:{thread_id}"


class Hub(Protocol):
    def publish(self, event: dict[str, Any]) -> None: ...
    def subscribe(self, *, topics: Collection[str] = ()) -> "Subscription": ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Subscription:
    def __init__(self, hub: "LocalHub", maxsize: int = 10_000, topics: Collection[str] = ()) -> None:
        self._hub = hub
        self.topics = frozenset(topics)
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while (event := await self.queue.get()) is not None:
            yield event

    async def get(self, wait: float | None = None) -> dict[str, Any]:
        event = await asyncio.wait_for(self.queue.get(), wait)
        if event is None:
            raise ConnectionResetError("subscription closed: catch up from the last event id")
        return event

    def close(self) -> None:
        self._hub._forget(self)


class LocalHub:
    """Fan-out to this process's subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._by_topic: dict[str, set[Subscription]] = {}

    def subscribe(self, *, topics: Collection[str] = ()) -> Subscription:
        """Everything that has no topic, or (with `topics`) only what is addressed to those topics."""
        subscription = Subscription(self, topics=topics)
        if not topics:
            self._subscribers.add(subscription)
        for topic in subscription.topics:
            self._by_topic.setdefault(topic, set()).add(subscription)
        return subscription

    def follow(self, subscription: Subscription, topic: str) -> None:
        """Add a topic to an open subscription (a visitor whose first message just made their thread)."""
        subscription.topics = subscription.topics | {topic}
        self._by_topic.setdefault(topic, set()).add(subscription)

    def _forget(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        for topic in subscription.topics:
            listeners = self._by_topic.get(topic)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._by_topic[topic]

    def _audience(self, event: dict[str, Any]) -> list[Subscription]:
        topic = event.get("topic")
        if topic is not None:
            return list(self._by_topic.get(topic, ()))
        thread_id = event.get("thread_id")
        # Two hundred visitors waiting on their own threads cost one lookup per event, not a filter each.
        watching = self._by_topic.get(thread_topic(thread_id)) if thread_id and self._by_topic else None
        return [*self._subscribers, *watching] if watching else list(self._subscribers)

    def publish(self, event: dict[str, Any]) -> None:
        self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> None:
        for subscription in self._audience(event):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A consumer this far behind is better told to reconnect and catch up from the table.
                subscription.close()
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for subscription in self._everyone():
            subscription.close()
            with contextlib.suppress(asyncio.QueueFull):
                subscription.queue.put_nowait(None)

    def _everyone(self) -> list[Subscription]:
        return list(self._subscribers.union(*self._by_topic.values()))


_STOP: dict[str, Any] = {}


def live_channel(redis_url: str) -> str:
    """The pub/sub channel of the installation on this Redis database. Redis's pub/sub ignores the
    database number, so two installations sharing one server (on /0 and /1) would hear each other."""
    database = urlsplit(redis_url).path.strip("/") or "0"
    return f"onethread:{database}:live"


class RedisHub(LocalHub):
    """Publishes through Redis pub/sub so every app process sees every process's events."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self.channel = live_channel(url)
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()
        self._stopping = False
        self._pubsub: Any = None

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self._url)
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._send())]
        await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        # Committed events still waiting go out first. The tasks are asked, not only cancelled:
        # redis-py can swallow a cancellation that lands mid-command, and awaiting such a
        # task would never return.
        self._outbox.put_nowait(_STOP)
        listener, sender = self._tasks
        await asyncio.wait([sender], timeout=5)
        self._stopping = True
        if self._pubsub is not None:
            # The listener's loop ends once Redis confirms the unsubscribe.
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe()
        await asyncio.wait([listener], timeout=2)
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=1)
        await self._redis.aclose()
        await super().stop()

    def publish(self, event: dict[str, Any]) -> None:
        self._outbox.put_nowait(event)

    async def _send(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            event = await self._outbox.get()
            while True:
                if event is _STOP:
                    stopping = True
                    break
                batch.append(event)
                if self._outbox.empty() or len(batch) >= 500:
                    break
                event = self._outbox.get_nowait()
            while batch:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for item in batch:
                            pipe.publish(self.channel, json.dumps(item, default=str))
                        await pipe.execute()
                    break
                except Exception as error:  # Redis away: keep order, retry; the table has everything
                    log.warning("redis publish failed, retrying: %s", error)
                    await asyncio.sleep(0.5)

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                self._pubsub = pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        event = json.loads(message["data"])
                        # Arrived as text already: the sockets send that, not a second encoding.
                        encoded(event, message["data"].decode())
                        self.deliver(event)
                await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("redis subscription lost, reconnecting: %s", error)
                # Subscribers may have missed events: tell them to catch up from the table.
                for subscription in self._everyone():
                    subscription.close()
                    with contextlib.suppress(asyncio.QueueFull):
                        subscription.queue.put_nowait(None)
                await asyncio.sleep(0.5)


# The last events encoded, by identity: every subscriber gets the same dict, so fifty agents'
# sockets cost one json.dumps. The dict is held with its text, so its id cannot be reused meanwhile.
_ENCODED: collections.OrderedDict[int, tuple[dict[str, Any], str]] = collections.OrderedDict()


def encoded(event: dict[str, Any], text: str | None = None) -> str:
    """The event as JSON text, encoded once however many sockets it goes to."""
    found = _ENCODED.get(id(event))
    if found is not None and found[0] is event:
        return found[1]
    if text is None:
        text = json.dumps(event, default=str, separators=(",", ":"), ensure_ascii=False)
    _ENCODED[id(event)] = (event, text)
    if len(_ENCODED) > 1024:
        _ENCODED.popitem(last=False)
    return text


def make_hub(redis_url: str) -> LocalHub:
    return RedisHub(redis_url) if redis_url else LocalHub()


def event_payload(row_id: int, at: datetime, kind: str, thread_id: int | None,
                  customer_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": row_id, "at": at.isoformat(), "kind": kind, "thread_id": thread_id,
            "customer_id": customer_id, "data": data}


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class NewLiveEvent:
    kind: str
    thread_id: int | None = None
    customer_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)




async def emit(session: AsyncSession, kind: str, *, thread_id: int | None = None,
               customer_id: int | None = None, data: dict[str, Any] | None = None) -> int:
    """Record a live event in the current transaction; publish it once that commits."""
    return (await emit_many(session, [NewLiveEvent(kind, thread_id, customer_id, data or {})]))[0]


async def emit_many(session: AsyncSession, events: Sequence[NewLiveEvent]) -> list[int]:
    """Record live events in one statement; publish them, in order, once the transaction commits."""
    if not events:
        return []
    at = utcnow()
    # Ids come back in parameter order, so the events publish in the order they were recorded.
    row_ids = [int(row.id) for row in await insert_many(session, LiveEvent, [
        {"at": at, "kind": e.kind, "thread_id": e.thread_id, "customer_id": e.customer_id, "data": e.data}
        for e in events], returning=("id",))]
    hub: Hub | None = session.info.get("hub")
    if hub is not None:
        payloads = [event_payload(row_id, at, e.kind, e.thread_id, e.customer_id, e.data)
                    for row_id, e in zip(row_ids, events, strict=True)]
        after_commit(session, functools.partial(_publish, hub, payloads))
    return row_ids


def _publish(hub: Hub, payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        hub.publish(payload)


async def events_since(session: AsyncSession, after_id: int, *, limit: int = 1000) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(LiveEvent).where(col(LiveEvent.id) > max(0, after_id - CATCH_UP_WINDOW))
        .order_by(col(LiveEvent.id)).limit(limit)
    )).scalars().all()
    return [event_payload(r.id or 0, r.at, r.kind, r.thread_id, r.customer_id, r.data) for r in rows]


async def last_event_id(session: AsyncSession) -> int:
    """Where a page rendered now stands: its live connection resumes after this."""
    return int((await session.execute(select(func.max(col(LiveEvent.id))))).scalar_one_or_none() or 0)
