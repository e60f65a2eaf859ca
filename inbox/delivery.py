"""The outbound delivery worker: queued replies → provider → sent, retried or failed.

Claim before send: a message is marked 'sending' and that claim is committed before the provider
is called. A worker that dies mid-send therefore leaves a 'sending' row behind, never a 'queued'
one, so a restart cannot send it a second time; once its lease runs out it becomes 'failed' with
INTERRUPTED and an agent decides whether to send it again.

Several workers (processes) may share the queue. On PostgreSQL the claim takes the row with
FOR UPDATE SKIP LOCKED; on SQLite every transaction is BEGIN IMMEDIATE (see inbox.db), so the
claim's select+update already runs alone.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col

from inbox.channels import Channel
from inbox.customers.models import Identity
from inbox.db import after_commit, transaction, utcnow
from inbox.errors import Conflict, NotFound
from inbox.events import DeliveryStatus, Direction, OutboundMessage, OutgoingFile, SendFailed, SendResult
from inbox.files import FileStore
from inbox.messages import service as messages
from inbox.messages.models import Attachment, Message
from inbox.realtime import emit
from inbox.threads.models import Thread
from inbox.windows import WindowClosed, window

log = logging.getLogger(__name__)

INTERRUPTED = "delivery interrupted: may or may not have reached the customer; check before retrying"
NOT_CONFIGURED = "channel not configured"
NO_ADDRESS = "the customer has no address on this channel"
NO_FILES = "the attachments are not in the file store"
# Email threading needs the conversation's ids; a long history only needs its recent end.
MAX_REFERENCES = 50

_QUEUED = str(DeliveryStatus.queued)
_SENDING = str(DeliveryStatus.sending)
_FAILED = str(DeliveryStatus.failed)


# (attachment id, file name) → a URL a provider can download the file from (web/file_links.py).
FileUrl = Callable[[int, str], str]


class Sender(Protocol):
    """The outbound port: one per channel (the channel's adapter)."""

    @property
    def channel(self) -> Channel: ...

    async def send(self, message: OutboundMessage) -> SendResult:
        """Raise SendFailed(reason, transient=…, retry_after=…) when the provider refuses."""
        ...


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int
    lease_seconds: float
    backoff_base: float = 5.0
    backoff_cap: float = 600.0


@dataclass(frozen=True, slots=True)
class _Claim:
    message_id: int
    thread_id: int
    customer_id: int | None
    channel: str
    attempts: int
    worker_id: str
    outbound: OutboundMessage | None
    # Why it cannot be sent at all (no address, unknown channel): failed without a provider call.
    problem: str | None = None


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential, jittered, never below retry_after."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    # Half fixed, half random: retries after an outage spread out but never bunch up near zero.
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _blocked_by_earlier() -> Any:
    # Replies to one thread on one channel leave in the order they were written: a later one
    # waits while an earlier one is still queued (e.g. backing off) or being sent.
    earlier = aliased(Message)
    return exists().where(
        col(earlier.thread_id) == col(Message.thread_id),
        col(earlier.channel) == col(Message.channel),
        col(earlier.delivery_status).in_((_QUEUED, _SENDING)),
        col(earlier.id) < col(Message.id),
    )


async def claim_next(session: AsyncSession, *, worker_id: str, now: datetime) -> Message | None:
    """Mark the oldest due queued message 'sending' for this worker; the caller commits before sending."""
    query = (
        select(col(Message.id))
        .where(col(Message.delivery_status) == _QUEUED, col(Message.next_attempt_at) <= now,
               ~_blocked_by_earlier())
        .order_by(col(Message.next_attempt_at), col(Message.id))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Message)
    message_id = (await session.execute(query)).scalar_one_or_none()
    if message_id is None:
        return None
    claimed = await session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.delivery_status) == _QUEUED)
        .values(delivery_status=_SENDING, claimed_at=now, claimed_by=worker_id, attempts=Message.attempts + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return (await session.execute(
        select(Message).where(col(Message.id) == message_id).execution_options(populate_existing=True)
    )).scalar_one()


async def recover_stale(session: AsyncSession, *, now: datetime, lease_seconds: float) -> list[int]:
    """Fail messages whose worker died mid-send; returns their ids.

    Whether the provider got them cannot be known, so they are never sent again on our own.
    """
    cutoff = now - timedelta(seconds=lease_seconds)
    rows = (await session.execute(
        update(Message)
        .where(col(Message.delivery_status) == _SENDING, col(Message.claimed_at) < cutoff)
        .values(delivery_status=_FAILED, error=INTERRUPTED, next_attempt_at=None)
        .returning(col(Message.id), col(Message.thread_id))
    )).all()
    recovered = [(int(message_id or 0), int(thread_id)) for message_id, thread_id in rows]
    for message_id, thread_id in recovered:
        log.warning("message %s was left mid-send by a dead worker; marked failed", message_id)
        await _emit(session, message_id=message_id, thread_id=thread_id, status=_FAILED, error=INTERRUPTED)
    return [message_id for message_id, _ in recovered]


async def retry(session: AsyncSession, message_id: int) -> Message:
    """Queue a failed reply again (the agent's Retry): a fresh set of attempts, sent after commit."""
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("message", message_id)
    if message.direction != Direction.outbound or message.delivery_status != _FAILED:
        raise Conflict("only a failed reply can be sent again")
    extra = dict(message.extra or {})
    if "template" not in extra:
        # The window has moved since the first try: a free-form reply follows the same rule as a new one.
        identity = await session.get(Identity, message.identity_id) if message.identity_id else None
        current = window(message.channel, identity.last_inbound_at if identity else None, now=utcnow())
        if not current.open:
            raise WindowClosed(current)
        if current.tag:
            extra["tag"] = current.tag
    done = await session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.delivery_status) == _FAILED)
        # provider_id goes too: callbacks for the failed send must not move the new one.
        .values(delivery_status=_QUEUED, attempts=0, next_attempt_at=utcnow(), error=None, provider_id=None,
                claimed_at=None, claimed_by=None, extra=extra)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the reply changed meanwhile; reload and try again")
    await _emit(session, message_id=message_id, thread_id=message.thread_id, status=_QUEUED, error=None)
    wake = session.info.get("wake_delivery")
    if wake is not None:
        after_commit(session, wake)
    return (await session.execute(
        select(Message).where(col(Message.id) == message_id).execution_options(populate_existing=True)
    )).scalar_one()


async def deliver_next(sessions: async_sessionmaker[AsyncSession], senders: Mapping[Channel, Sender], *,
                       worker_id: str, policy: Policy, rng: random.Random | None = None,
                       files: FileStore | None = None, file_url: FileUrl | None = None) -> int | None:
    """Claim, send and record one due message; returns its id, or None when nothing is due.

    `files` is where attachments live; without it a message with attachments fails rather than
    going out without them. `file_url` gives each file (by attachment id and name) a URL providers can fetch it from.
    """
    async with transaction(sessions) as session:
        message = await claim_next(session, worker_id=worker_id, now=utcnow())
        if message is None:
            return None
        claim = await _describe(session, message, worker_id=worker_id, senders=senders, files=files,
                                file_url=file_url)
    # The claim is committed: from here on a crash leaves 'sending', never a second send.
    if claim.outbound is None:
        outcome: SendResult | SendFailed = SendFailed(claim.problem or NO_ADDRESS, transient=False)
    else:
        try:
            outcome = await _send(senders[claim.outbound.channel], claim.outbound,
                                  lease_seconds=policy.lease_seconds)
        except asyncio.CancelledError:
            # Shut down mid-send: as unknowable as a crash, but no need to wait for the lease.
            with contextlib.suppress(Exception):
                await _finish(sessions, claim, SendFailed(INTERRUPTED, transient=False), policy=policy, rng=rng)
            raise
    # The outcome is known now; losing it to a database hiccup would turn it into INTERRUPTED.
    for pause in (0.2, 1.0, 5.0, None):
        try:
            await _finish(sessions, claim, outcome, policy=policy, rng=rng)
            break
        except Exception:
            if pause is None:
                raise
            log.warning("message %s: recording the outcome failed; trying again", claim.message_id, exc_info=True)
            await asyncio.sleep(pause)
    return claim.message_id


async def run_worker(sessions: async_sessionmaker[AsyncSession], senders: Mapping[Channel, Sender], *,
                     stop: asyncio.Event, wake: asyncio.Event, worker_id: str, max_attempts: int,
                     lease_seconds: float, backoff_base: float = 5.0, backoff_cap: float = 600.0,
                     poll_seconds: float = 10.0, rng: random.Random | None = None,
                     files: FileStore | None = None, file_url: FileUrl | None = None) -> None:
    """Send queued messages until `stop` is set; `wake` (set after a reply commits) cuts a sleep short.

    poll_seconds bounds every sleep, so replies queued by another process are picked up too.
    """
    policy = Policy(max_attempts=max_attempts, lease_seconds=lease_seconds, backoff_base=backoff_base,
                    backoff_cap=backoff_cap)
    failures = 0
    while not stop.is_set():
        # Cleared before looking, so a reply committed while we drain wakes the next round.
        wake.clear()
        try:
            async with transaction(sessions) as session:
                await recover_stale(session, now=utcnow(), lease_seconds=lease_seconds)
            while not stop.is_set() and await deliver_next(sessions, senders, worker_id=worker_id,
                                                           policy=policy, rng=rng, files=files,
                                                           file_url=file_url) is not None:
                pass
            async with sessions() as session:
                delay = await _seconds_until_due(session, now=utcnow(), lease_seconds=lease_seconds,
                                                 poll_seconds=poll_seconds)
            failures = 0
        except Exception:
            # The database went away or a bug: keep the worker alive and back off, loudly.
            failures += 1
            delay = min(poll_seconds, 0.5 * 2 ** min(failures, 10))
            log.exception("delivery worker %s failed a round; trying again in %.1f s", worker_id, delay)
        await nap(stop, wake, delay)


async def _describe(session: AsyncSession, message: Message, *, worker_id: str,
                    senders: Mapping[Channel, Sender], files: FileStore | None,
                    file_url: FileUrl | None = None) -> _Claim:
    thread = await session.get(Thread, message.thread_id)
    claim = _Claim(message_id=message.id or 0, thread_id=message.thread_id,
                   customer_id=thread.customer_id if thread else None, channel=message.channel,
                   attempts=message.attempts, worker_id=worker_id, outbound=None)
    channel = _channel(message.channel)
    if channel is None or channel not in senders:
        return replace(claim, problem=NOT_CONFIGURED)
    identity = await session.get(Identity, message.identity_id) if message.identity_id else None
    if identity is None:
        return replace(claim, problem=NO_ADDRESS)
    given = message.extra if isinstance(message.extra, dict) else {}
    current = window(channel, identity.last_inbound_at, now=utcnow())
    if not current.open and "template" not in given:
        # Queued in time but sent too late (a backlog, retries): the provider would refuse it anyway, later.
        return replace(claim, problem=str(WindowClosed(current)))
    answered = await session.get(Message, message.reply_to_id) if message.reply_to_id else None
    if answered is None or answered.thread_id != message.thread_id or not answered.provider_id:
        answered = None
    # The conversation up to the message answered, after the ids that message itself named
    # (its References): the chain an email client threads by.
    earlier = (await session.execute(
        select(col(Message.provider_id))
        .where(col(Message.thread_id) == message.thread_id, col(Message.channel) == message.channel,
               col(Message.provider_id).is_not(None), col(Message.id) != message.id,
               col(Message.at) <= (answered.at if answered else message.at))
        .order_by(col(Message.at).desc(), col(Message.id).desc())
        .limit(MAX_REFERENCES)
    )).scalars().all()
    named = [str(ref) for ref in answered.references] if answered and isinstance(answered.references, list) else []
    references = tuple(dict.fromkeys([*named, *(str(ref) for ref in reversed(earlier))]))
    attached = (await session.execute(
        select(Attachment).where(col(Attachment.message_id) == message.id).order_by(col(Attachment.id))
    )).scalars().all()
    if attached and (files is None or any(a.sha256 is None for a in attached)):
        return replace(claim, problem=NO_FILES)
    outgoing = tuple(OutgoingFile(filename=a.filename, content_type=a.content_type, size=a.size,
                                  path=str(files.path_for(a.sha256 or "")),
                                  url=file_url(a.id or 0, a.filename) if file_url else None,
                                  attachment_id=a.id)
                     for a in attached if files)
    # Only what the adapter acts on: the Messenger tag, and the WhatsApp template to send instead of the text.
    extra = {key: given[key] for key in ("tag", "template") if given.get(key)}
    return replace(claim, outbound=OutboundMessage(
        message_id=message.id or 0, channel=channel, to=identity.address, text=message.text,
        subject=message.subject, html=message.html, references=references,
        in_reply_to=answered.provider_id if answered else None,
        author_name=message.author_name or None, files=outgoing, extra=extra,
    ))


def _channel(value: str) -> Channel | None:
    try:
        return Channel(value)
    except ValueError:
        return None


async def _send(sender: Sender, outbound: OutboundMessage, *, lease_seconds: float) -> SendResult | SendFailed:
    # Past the lease another worker may already have declared this send interrupted, so a sender
    # that hangs that long is given up on with the same verdict.
    guard = asyncio.timeout(lease_seconds)
    try:
        async with guard:
            return await sender.send(outbound)
    except SendFailed as failure:
        return failure
    except Exception as error:
        if isinstance(error, TimeoutError) and guard.expired():
            return SendFailed(INTERRUPTED, transient=False)
        # A sender bug or an exception it did not map: assume the provider may recover.
        log.warning("sender for %s raised %r; treating it as transient", outbound.channel, error)
        return SendFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                          transient=True)


async def _finish(sessions: async_sessionmaker[AsyncSession], claim: _Claim, outcome: SendResult | SendFailed,
                  *, policy: Policy, rng: random.Random | None) -> None:
    if isinstance(outcome, SendResult):
        async with transaction(sessions) as session:
            await _record_sent(session, claim, outcome)
        # After that commit, so a status the provider sent meanwhile is either held already or finds
        # the message by its provider id.
        async with transaction(sessions) as session:
            await messages.apply_held_receipts(session, channel=claim.channel, provider_id=outcome.provider_id)
        return
    async with transaction(sessions) as session:
        now = utcnow()
        values: dict[str, Any]
        if outcome.transient and claim.attempts < policy.max_attempts:
            delay = backoff_delay(claim.attempts, base=policy.backoff_base, cap=policy.backoff_cap,
                                  retry_after=outcome.retry_after, rng=rng)
            values = {"delivery_status": _QUEUED, "next_attempt_at": now + timedelta(seconds=delay),
                      "error": outcome.reason}
            log.info("message %s: attempt %s failed (%s); retrying in %.1f s",
                     claim.message_id, claim.attempts, outcome.reason, delay)
        else:
            reason = outcome.reason
            if outcome.transient:
                reason = f"gave up after {claim.attempts} attempts: {reason}"
            values = {"delivery_status": _FAILED, "next_attempt_at": None, "error": reason}
        changed = await session.execute(
            update(Message).where(*_still_mine(claim), col(Message.delivery_status) == _SENDING).values(**values))
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("message %s: claim lost before recording %r", claim.message_id, outcome.reason)
            return
        await _emit(session, message_id=claim.message_id, thread_id=claim.thread_id,
                    status=values["delivery_status"], error=values["error"], customer_id=claim.customer_id)


async def _record_sent(session: AsyncSession, claim: _Claim, result: SendResult) -> None:
    status = str(result.status)
    # 'failed' included: the lease ran out while the provider was still answering, and it said yes.
    mine = (*_still_mine(claim), col(Message.delivery_status).in_((_SENDING, _FAILED)))
    values = {"delivery_status": status, "error": None, "next_attempt_at": None}
    try:
        async with session.begin_nested():
            changed = await session.execute(
                update(Message).where(*mine).values(provider_id=result.provider_id, **values))
    except IntegrityError:
        # UNIQUE(channel, provider_id): the id is already stored on another message (an echo
        # ingested first). The send happened, so record it, without the id.
        log.warning("message %s sent as %s, but that provider id is already stored; kept without it",
                    claim.message_id, result.provider_id)
        changed = await session.execute(update(Message).where(*mine).values(**values))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("message %s was sent as %s after its claim was lost (retried meanwhile?)",
                    claim.message_id, result.provider_id)
        return
    await _emit(session, message_id=claim.message_id, thread_id=claim.thread_id, status=status, error=None,
                customer_id=claim.customer_id)


def _still_mine(claim: _Claim) -> tuple[Any, ...]:
    # attempts tells this claim from a later one of the same worker (after a Retry).
    return (col(Message.id) == claim.message_id, col(Message.claimed_by) == claim.worker_id,
            col(Message.attempts) == claim.attempts)


async def _emit(session: AsyncSession, *, message_id: int, thread_id: int, status: str, error: str | None,
                customer_id: int | None = None) -> None:
    if customer_id is None:
        customer_id = (await session.execute(
            select(col(Thread.customer_id)).where(col(Thread.id) == thread_id))).scalar_one_or_none()
    await emit(session, "message.delivery", thread_id=thread_id, customer_id=customer_id,
               data={"message_id": message_id, "status": status, "error": error})


async def _seconds_until_due(session: AsyncSession, *, now: datetime, lease_seconds: float,
                             poll_seconds: float) -> float:
    next_send = (await session.execute(
        select(func.min(Message.next_attempt_at))
        .where(col(Message.delivery_status) == _QUEUED, ~_blocked_by_earlier())
    )).scalar_one_or_none()
    oldest_claim = (await session.execute(
        select(func.min(Message.claimed_at)).where(col(Message.delivery_status) == _SENDING)
    )).scalar_one_or_none()
    candidates = [poll_seconds]
    if next_send is not None:
        candidates.append((next_send - now).total_seconds())
    if oldest_claim is not None:
        candidates.append((oldest_claim + timedelta(seconds=lease_seconds) - now).total_seconds())
    # Due already but not claimable (another worker holds it): look again shortly, not in a spin.
    return max(min(candidates), 0.05)


async def nap(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """A worker's sleep between rounds: `seconds` at most, cut short by `stop` or `wake`."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
