"""Group commit: the webhooks that arrive together are ingested in one transaction.

One SQLite commit costs about as much as a hundred small inserts, and a connection per request
only makes writers queue in SQLite's busy handler. So a single writer task takes whatever has
queued up, ingests it in one transaction (inbox.ingest_batch: set-based for the common case),
commits once, and only then answers every caller: each webhook is still acknowledged after its
message is durable.

On PostgreSQL one writer spends most of a batch waiting for round trips while the process could
be preparing the next, so there are `lanes` writers, each with its own queue and connection. A
sender always goes to the same lane: one customer's messages are still stored one batch after
another, in arrival order, and two lanes rarely touch the same rows (those they share, they
lock in id order). A lane keeps its connection between batches: checking one out of the pool
costs a ping, three round trips that every webhook of the batch would wait for. SQLite has one
writer and one connection, which the rest of the app needs too: one lane, through the pool.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from inbox.events import InboundEvent, Party
from inbox.ingest import Duplicate, IngestConfig, Ingested
from inbox.ingest_batch import ingest_many

log = logging.getLogger(__name__)

# Measured with bench.ingest: two keep the process busy while the other waits for PostgreSQL;
# three only made each batch smaller.
POSTGRESQL_LANES = 2

_Item = tuple[Sequence[InboundEvent], "asyncio.Future[list[Ingested]]"]


class IngestWriter:
    """Ingests what callers submit, a batch per transaction, `lanes` transactions at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: IngestConfig, *,
                 max_batch: int = 200, lanes: int | None = None) -> None:
        self._sessions = sessions
        self._config = config
        self._max_batch = max_batch
        engine: AsyncEngine = sessions.kw["bind"]
        postgresql = engine.dialect.name == "postgresql"
        lanes = lanes or (POSTGRESQL_LANES if postgresql else 1)
        self._engine = engine if postgresql else None
        self._queues: list[asyncio.Queue[_Item]] = [asyncio.Queue() for _ in range(lanes)]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(queue), name=f"ingest-writer-{lane}")
                       for lane, queue in enumerate(self._queues)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def submit(self, events: Sequence[InboundEvent]) -> list[Ingested]:
        """Ingest one request's events atomically; returns once they are committed."""
        if not events:
            return []
        future: asyncio.Future[list[Ingested]] = asyncio.get_running_loop().create_future()
        queue = self._queues[_lane(events[0], len(self._queues))]
        queue.put_nowait((events, future))
        return await future

    async def _run(self, queue: "asyncio.Queue[_Item]") -> None:
        connection: AsyncConnection | None = None
        try:
            while True:
                batch = [await queue.get()]
                while len(batch) < self._max_batch and not queue.empty():
                    batch.append(queue.get_nowait())
                try:
                    if self._engine is not None and connection is None:
                        connection = await self._engine.connect()
                    await self._write(batch, connection)
                except Exception as error:  # the writer must outlive any one batch
                    log.exception("ingest batch failed")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                if connection is not None and connection.invalidated:
                    # The database went away: the next batch connects afresh.
                    with contextlib.suppress(Exception):
                        await connection.close()
                    connection = None
        finally:
            if connection is not None:
                await connection.close()

    async def _write(self, batch: list[_Item], connection: "AsyncConnection | None") -> None:
        try:
            async with self._session(connection) as session:
                flat = await ingest_many(session, [event for events, _ in batch for event in events],
                                         config=self._config)
                await session.commit()
            results, start = [], 0
            for events, _ in batch:
                results.append(flat[start:start + len(events)])
                start += len(events)
        except Exception:
            # Something in the batch is bad (or raced a duplicate): isolate each request so the
            # others still commit and the bad one gets its own error.
            for item in batch:
                await self._write_alone(item, connection)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _write_alone(self, item: _Item, connection: "AsyncConnection | None") -> None:
        events, future = item
        try:
            async with self._session(connection) as session:
                result = await ingest_many(session, events, config=self._config)
                await session.commit()
        except Duplicate:
            result = [Ingested("duplicate") for _ in events]
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)


    def _session(self, connection: "AsyncConnection | None") -> AsyncSession:
        return self._sessions() if connection is None else self._sessions(bind=connection)


def _lane(event: InboundEvent, lanes: int) -> int:
    if lanes == 1:
        return 0
    # Receipts and edits name no sender: any lane will do, as they arrive unordered anyway.
    sender: Party | None = getattr(event, "sender", None)
    return hash(sender.address if sender is not None else getattr(event, "provider_id", "")) % lanes
