"""The media worker: keeps our own copy of inbound files that arrive as a provider reference.

Providers want their webhook answered within seconds (Twilio 15 s) and a download can take longer,
so the message is committed with each file's reference and this worker fetches the bytes after.
Each claim is a lease (`fetch_after` in the future): several processes share the work, and a file
whose fetch died with its process is taken up again once the lease runs out.
"""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox.channels import Channel
from inbox.db import transaction, utcnow
from inbox.delivery import backoff_delay, nap
from inbox.events import FetchedFile, FetchFailed
from inbox.files import FileStore, drop_unshared
from inbox.messages import service as messages
from inbox.messages.models import Attachment, Message
from inbox.realtime import emit
from inbox.threads.models import Thread

log = logging.getLogger(__name__)

# What a file's line says when its fetch is given up on; `extra["event"]` lets the UI translate it.
FAILED_EVENT = "attachment.failed"


class MediaSource(Protocol):
    async def fetch_media(self, reference: str, *, limit: int) -> FetchedFile: ...


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    # Longer than any one download may take: past it, another worker may take the file up.
    lease_seconds: float = 120.0
    max_attempts: int = 8
    base_delay: float = 5.0
    cap: float = 1800.0
    batch: int = 8
    poll_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class _Claim:
    attachment_id: int
    message_id: int
    thread_id: int
    channel: str
    reference: str
    filename: str
    attempts: int


def _to_fetch() -> Any:
    # The same terms as ix_attachment_to_fetch's WHERE, so SQLite and PostgreSQL use that index.
    return (col(Attachment.sha256).is_(None) & col(Attachment.source_url).is_not(None)
            & col(Attachment.fetch_error).is_(None))


def _due(now: datetime) -> Any:
    return or_(col(Attachment.fetch_after).is_(None), col(Attachment.fetch_after) <= now)


async def fetch_due(sessions: async_sessionmaker[AsyncSession], sources: Mapping[Channel, MediaSource],
                    store: FileStore, *, policy: FetchPolicy = FetchPolicy()) -> int:
    """Fetch the files due now (up to a batch); how many were claimed."""
    claims = await _claim(sessions, [str(channel) for channel in sources], policy=policy)
    await asyncio.gather(*(_fetch_one(sessions, sources[Channel(claim.channel)], store, claim, policy=policy)
                           for claim in claims))
    return len(claims)


async def run_fetcher(sessions: async_sessionmaker[AsyncSession], sources: Mapping[Channel, MediaSource],
                      store: FileStore, *, stop: asyncio.Event, wake: asyncio.Event,
                      policy: FetchPolicy = FetchPolicy()) -> None:
    if not sources:
        return
    while not stop.is_set():
        wake.clear()
        try:
            if await fetch_due(sessions, sources, store, policy=policy) >= policy.batch:
                continue
            async with sessions() as session:
                seconds = await _seconds_until_due(session, [str(c) for c in sources], policy=policy)
        except Exception:
            # The database went away for a moment; the files wait where they are.
            log.exception("media worker: fetching failed; trying again shortly")
            seconds = policy.poll_seconds
        await nap(stop, wake, seconds)


async def _claim(sessions: async_sessionmaker[AsyncSession], channels: list[str], *,
                 policy: FetchPolicy) -> list[_Claim]:
    now = utcnow()
    async with transaction(sessions) as session:
        rows = (await session.execute(
            select(col(Attachment.id), col(Attachment.message_id), col(Message.thread_id), col(Message.channel),
                   col(Attachment.source_url), col(Attachment.filename), col(Attachment.fetch_attempts))
            .join(Message, col(Message.id) == col(Attachment.message_id))
            .where(_to_fetch(), _due(now), col(Message.channel).in_(channels))
            .order_by(col(Attachment.id)).limit(policy.batch)
        )).all()
        claims = []
        for attachment_id, message_id, thread_id, channel, reference, filename, attempts in rows:
            # Conditional on still being due: of two workers that read the same row, one wins it.
            taken = await session.execute(
                update(Attachment)
                .where(col(Attachment.id) == attachment_id, _to_fetch(), _due(now))
                .values(fetch_after=now + timedelta(seconds=policy.lease_seconds), fetch_attempts=attempts + 1))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claims.append(_Claim(attachment_id or 0, message_id, thread_id, channel, reference or "", filename,
                                     attempts + 1))
    return claims


async def _fetch_one(sessions: async_sessionmaker[AsyncSession], source: MediaSource, store: FileStore,
                     claim: _Claim, *, policy: FetchPolicy) -> None:
    try:
        async with asyncio.timeout(policy.lease_seconds * 0.8):
            fetched = await source.fetch_media(claim.reference, limit=store.max_bytes)
        if len(fetched.data) > store.max_bytes:
            raise FetchFailed.too_large(store.max_bytes)
        sha256 = await asyncio.to_thread(store.put, fetched.data)
    except FetchFailed as failure:
        await _failed(sessions, claim, failure, policy=policy)
        return
    except Exception as error:
        # A timeout or an adapter bug: treated like a provider that may recover.
        log.warning("media worker: fetching attachment %s failed: %s", claim.attachment_id, type(error).__name__)
        await _failed(sessions, claim, FetchFailed(f"the download failed ({type(error).__name__})", transient=True),
                      policy=policy)
        return
    async with transaction(sessions) as session:
        values: dict[str, object] = {"sha256": sha256, "size": len(fetched.data), "fetch_after": None}
        if fetched.content_type:
            values["content_type"] = fetched.content_type[:120]
        if fetched.filename:
            values["filename"] = fetched.filename[:255]
        kept = await session.execute(update(Attachment).where(col(Attachment.id) == claim.attachment_id)
                                     .values(**values))
        if kept.rowcount != 1:  # type: ignore[attr-defined]
            # Erased (customer data rights) while it downloaded: no copy stays that nothing refers to.
            await drop_unshared(session, store, [sha256])
            return
        await _emit(session, claim, "fetched")


async def _failed(sessions: async_sessionmaker[AsyncSession], claim: _Claim, failure: FetchFailed, *,
                  policy: FetchPolicy) -> None:
    async with transaction(sessions) as session:
        if await session.get(Attachment, claim.attachment_id) is None:
            return  # erased while it downloaded: nothing to retry, no line to write
        if failure.transient and claim.attempts < policy.max_attempts:
            delay = backoff_delay(claim.attempts, base=policy.base_delay, cap=policy.cap)
            await session.execute(update(Attachment).where(col(Attachment.id) == claim.attachment_id)
                                  .values(fetch_after=utcnow() + timedelta(seconds=delay)))
            return
        await session.execute(update(Attachment).where(col(Attachment.id) == claim.attachment_id)
                              .values(fetch_error=failure.reason[:1000], fetch_after=None))
        thread = await session.get(Thread, claim.thread_id)
        if thread is not None:
            await messages.append_event(
                session, thread, text=f"{claim.filename} could not be kept: {failure.reason}",
                extra={"event": FAILED_EVENT, "filename": claim.filename, "reason": failure.reason,
                       "message_id": claim.message_id})
        await _emit(session, claim, "failed")


async def _emit(session: AsyncSession, claim: _Claim, outcome: str) -> None:
    customer_id = (await session.execute(
        select(col(Thread.customer_id)).where(col(Thread.id) == claim.thread_id))).scalar_one_or_none()
    await emit(session, "message.files", thread_id=claim.thread_id, customer_id=customer_id,
               data={"message_id": claim.message_id, "attachment_id": claim.attachment_id, "outcome": outcome})


async def _seconds_until_due(session: AsyncSession, channels: list[str], *, policy: FetchPolicy) -> float:
    next_due = (await session.execute(
        select(func.min(col(Attachment.fetch_after)))
        .join(Message, col(Message.id) == col(Attachment.message_id))
        .where(_to_fetch(), col(Message.channel).in_(channels))
    )).scalar_one_or_none()
    if next_due is None:
        return policy.poll_seconds
    return max(min((next_due - utcnow()).total_seconds(), policy.poll_seconds), 0.05)
