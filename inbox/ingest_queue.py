"""Group commit: the webhooks that arrive together are ingested in one transaction.

One SQLite commit costs about as much as a hundred small inserts, and a connection per request
only makes writers queue in SQLite's busy handler. So a single writer task takes whatever has
queued up, ingests it in one transaction (inbox.ingest_batch: set-based for the common case),
commits once, and only then answers every caller: each webhook is still acknowledged after its
message is durable.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.events import InboundEvent
from inbox.ingest import Duplicate, IngestConfig, Ingested
from inbox.ingest_batch import ingest_many

log = logging.getLogger(__name__)

_Item = tuple[Sequence[InboundEvent], "asyncio.Future[list[Ingested]]"]


class IngestWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: IngestConfig, *,
                 max_batch: int = 200) -> None:
        self._sessions = sessions
        self._config = config
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, events: Sequence[InboundEvent]) -> list[Ingested]:
        """Ingest one request's events atomically; returns once they are committed."""
        if not events:
            return []
        future: asyncio.Future[list[Ingested]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((events, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as error:  # the writer must outlive any one batch
                log.exception("ingest batch failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)

    async def _write(self, batch: list[_Item]) -> None:
        try:
            async with self._sessions() as session:
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
                await self._write_alone(item)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _write_alone(self, item: _Item) -> None:
        events, future = item
        try:
            async with self._sessions() as session:
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
