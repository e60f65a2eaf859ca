import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from inbox import cursor
from inbox.channels import Channel
from inbox.customers import service as customers
from inbox.db import BulkUpdate, UTCDateTime, after_commit, insert_ignore, insert_many, table_of, utcnow
from inbox.errors import NotFound
from inbox.events import DeliveryStatus, Direction
from inbox.messages.models import Attachment, EarlyReceipt, Message
from inbox.realtime import NewLiveEvent, emit, emit_many
from inbox.search import Document, index_document, index_documents
from inbox.text import preview, strip_nul, strip_nul_deep
from inbox.threads import service as threads
from inbox.threads.models import Thread

# A status only moves forward: a late "delivered" never overwrites "read".
_RANK = {DeliveryStatus.queued: 0, DeliveryStatus.sending: 1, DeliveryStatus.sent: 2,
         DeliveryStatus.delivered: 3, DeliveryStatus.read: 4}
RECEIPTS_KEPT_FOR = timedelta(days=2)


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class NewMessage:
    direction: Direction
    channel: Channel | str
    text: str = ""
    html: str | None = None
    subject: str | None = None
    author_type: str = "customer"
    author_user_id: int | None = None
    author_name: str = ""
    provider_id: str | None = None
    identity_id: int | None = None
    reply_to_id: int | None = None
    references: tuple[str, ...] = ()
    extra: dict[str, Any] | None = None
    provider_at: datetime | None = None
    delivery_status: DeliveryStatus | None = None
    idempotency_key: str | None = None


async def append(session: AsyncSession, thread: Thread, new: NewMessage) -> int | None:
    """Add a message to the thread and bring the thread's list row up to date.

    Returns None when (channel, provider_id) or the idempotency key was already stored.
    """
    return (await append_many(session, [(thread, new)]))[0]


async def append_event(session: AsyncSession, thread: Thread, *, text: str, extra: dict[str, Any]) -> None:
    """A system line in the history ("case opened", "assigned to …"): `extra["event"]` names it, so a
    reader's language can say it; `text` is the English for anyone else."""
    # A system event has no channel of its own; it borrows the thread's, as notes do.
    await append(session, thread, NewMessage(direction=Direction.event, channel=thread.last_channel or Channel.phone,
                                             author_type="system", text=text, extra=extra))


async def append_many(session: AsyncSession, entries: Sequence[tuple[Thread, NewMessage]], *,
                      before: Mapping[int, Sequence[NewLiveEvent]] | None = None) -> list[int | None]:
    """append() for many messages, in order, with a handful of statements instead of a handful each.

    `before[i]` are live events to record just ahead of entry i's own, in the same statement: what
    a caller doing set-based work (opening cases) would otherwise have emitted between two appends.
    """
    rows = [_row(thread, new) for thread, new in entries]
    ids: list[int | None] = []
    # One INSERT per run of messages deduplicated the same way (in practice: one per call).
    for conflict, run in itertools.groupby(rows, key=_conflict):
        params = list(run)
        returned = await insert_many(session, Message, params, returning=_RETURNED, conflict=conflict)
        ids += _match_returned(params, returned)
    stored = [(thread, new, row, message_id)
              for (thread, new), row, message_id in zip(entries, rows, ids, strict=True) if message_id is not None]
    await _touch_threads(session, [
        (thread, _Touch(message_id, row["at"], row["text"] or (new.subject or ""), new.direction, row["channel"]))
        for thread, new, row, message_id in stored])
    await index_documents(session, [
        Document("message", message_id, thread.customer_id, searchable, row["at"])
        for thread, new, row, message_id in stored
        if new.direction != Direction.event and (searchable := _searchable(new.subject, row["text"]))])
    live: list[NewLiveEvent] = []
    for index, ((thread, new), row, message_id) in enumerate(zip(entries, rows, ids, strict=True)):
        live += (before or {}).get(index, ())
        if message_id is not None:
            live.append(NewLiveEvent("message.created", thread.id, thread.customer_id,
                                     {"message_id": message_id, "direction": str(new.direction),
                                      "channel": row["channel"], "assignee_id": thread.assignee_id}))
    await emit_many(session, live)
    return ids


def _row(thread: Thread, new: NewMessage) -> dict[str, Any]:
    now = utcnow()
    # The thread is ordered by the provider's clock when it has one, but never a time to come.
    at = min(new.provider_at, now) if new.provider_at else now
    return {
        "thread_id": thread.id, "case_id": thread.case_id, "identity_id": new.identity_id,
        "direction": str(new.direction), "channel": str(new.channel), "author_type": new.author_type,
        "author_user_id": new.author_user_id, "author_name": new.author_name[:200], "text": strip_nul(new.text),
        "html": strip_nul(new.html) if new.html else None, "subject": strip_nul(new.subject) if new.subject else None,
        "provider_id": strip_nul(new.provider_id) if new.provider_id else new.provider_id,
        "reply_to_id": new.reply_to_id, "references": strip_nul_deep(list(new.references)),
        "extra": strip_nul_deep(new.extra or {}),
        "at": at, "provider_at": new.provider_at, "created_at": now,
        "delivery_status": str(new.delivery_status) if new.delivery_status else None,
        "attempts": 0, "next_attempt_at": now if new.delivery_status == DeliveryStatus.queued else None,
        "idempotency_key": new.idempotency_key,
    }


def _searchable(subject: str | None, text: str) -> str:
    return " ".join(part for part in (subject or "", text) if part)


def _conflict(row: dict[str, Any]) -> tuple[str, ...]:
    return ("idempotency_key",) if row["idempotency_key"] else ("channel", "provider_id")


_RETURNED = ("id", "channel", "provider_id", "idempotency_key")


def _match_returned(params: list[dict[str, Any]], returned: Sequence[Any]) -> list[int | None]:
    # DO NOTHING returns no row for a message already stored, and the others in parameter order:
    # a row belongs to the first remaining parameter set with its keys. A repeated key within one
    # call is stored once, for its first occurrence, like the same message appended twice.
    ids: list[int | None] = []
    rows = iter(returned)
    row = next(rows, None)
    for param in params:
        if row is not None and (row.channel, row.provider_id, row.idempotency_key) == (
                param["channel"], param["provider_id"], param["idempotency_key"]):
            ids.append(int(row.id))
            row = next(rows, None)
        else:
            ids.append(None)
    return ids


_THREADS = table_of(Thread)
_TOUCH_THREAD = BulkUpdate(
    _THREADS, where=("id", "thread_id"),
    params={"thread_id": Integer(), "last_activity_at": UTCDateTime(), "last_message_id": Integer(),
            "last_preview": String(), "last_direction": String(), "last_channel": String(), "channels": String(),
            "last_inbound_channel": String(), "unread_increment": Integer()},
    assign=lambda row: {
        "last_activity_at": row.last_activity_at, "last_message_id": row.last_message_id,
        "last_preview": row.last_preview, "last_direction": row.last_direction, "last_channel": row.last_channel,
        "channels": row.channels, "last_inbound_channel": row.last_inbound_channel,
        "unread_count": _THREADS.c.unread_count + row.unread_increment,
    })
_SUMMARY = ("last_activity_at", "last_message_id", "last_preview", "last_direction", "last_channel", "channels",
            "last_inbound_channel")


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class _Touch:
    message_id: int
    at: datetime
    text: str
    direction: Direction
    channel: str


async def _touch_threads(session: AsyncSession, touches: Sequence[tuple[Thread, _Touch]]) -> None:
    """Fold each thread's new messages, in order, into its list row: one UPDATE per thread."""
    summaries: dict[int, tuple[Thread, dict[str, Any]]] = {}
    for thread, touch in touches:
        if touch.direction == Direction.event:
            continue
        _, values = summaries.setdefault(thread.id or 0, (
            thread, {"unread_increment": 0, **{key: getattr(thread, key) for key in _SUMMARY}}))
        # A message from the past (a provider's late retry) joins the history without becoming the latest.
        if touch.at >= values["last_activity_at"] or values["last_message_id"] is None:
            values.update(last_activity_at=touch.at, last_message_id=touch.message_id,
                          last_preview=preview(touch.text), last_direction=str(touch.direction),
                          last_channel=touch.channel)
        if touch.direction in (Direction.inbound, Direction.outbound):
            values["channels"] = " ".join(sorted(set(values["channels"].split()) | {touch.channel}))
        if touch.direction == Direction.inbound:
            values["unread_increment"] += 1
            values["last_inbound_channel"] = touch.channel
    if not summaries:
        return
    # One constant statement for every thread: the same SQL, cached, whatever changed. In id order,
    # so concurrent transactions on PostgreSQL lock threads in the same order (no deadlock).
    await _TOUCH_THREAD.run(session, [{"thread_id": thread_id, **summaries[thread_id][1]}
                                      for thread_id in sorted(summaries)])
    for thread, values in summaries.values():
        for key in _SUMMARY:
            # Mirror the row without marking the object dirty: the UPDATE above already wrote it.
            # Only what changed: each call is ORM bookkeeping, and most fields stay as they were.
            if values[key] != getattr(thread, key):
                set_committed_value(thread, key, values[key])
        set_committed_value(thread, "unread_count", thread.unread_count + values["unread_increment"])


async def add_files(session: AsyncSession, message_id: int, files: Sequence[dict[str, Any]]) -> None:
    for file in files:
        session.add(Attachment(message_id=message_id, **file))
    wake = session.info.get("wake_media")
    if wake is not None and any(file.get("sha256") is None and file.get("source_url") for file in files):
        after_commit(session, wake)


async def get(session: AsyncSession, message_id: int) -> Message:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("message", message_id)
    return message


async def by_provider_id(session: AsyncSession, *, channel: Channel | str, provider_id: str) -> Message | None:
    return (await session.execute(
        select(Message).where(col(Message.channel) == str(channel), col(Message.provider_id) == provider_id)
    )).scalar_one_or_none()


async def last_inbound(session: AsyncSession, *, thread_id: int, channel: Channel | str) -> Message | None:
    """The customer's newest message in the thread on this channel: what a reply there answers."""
    return (await session.execute(
        select(Message).where(col(Message.thread_id) == thread_id, col(Message.channel) == str(channel),
                              col(Message.direction) == str(Direction.inbound))
        .order_by(col(Message.at).desc(), col(Message.id).desc()).limit(1)
    )).scalar_one_or_none()


_MESSAGES = table_of(Message)
_PROVIDER_ID_STORED = select(_MESSAGES.c.id).where(_MESSAGES.c.channel == bindparam("channel"),
                                                   _MESSAGES.c.provider_id == bindparam("provider_id"))


async def exists(session: AsyncSession, *, channel: Channel | str, provider_id: str) -> bool:
    found = await session.execute(_PROVIDER_ID_STORED, {"channel": str(channel), "provider_id": provider_id})
    return found.first() is not None


async def edit(session: AsyncSession, message: Message, *, text: str, at: datetime | None) -> None:
    original = message.original_text if message.original_text is not None else message.text
    await session.execute(update(Message).where(col(Message.id) == message.id).values(
        text=strip_nul(text), original_text=original, edited_at=at or utcnow()))
    thread = await session.get(Thread, message.thread_id)
    assert thread is not None
    await index_document(session, kind="message", ref_id=message.id or 0, customer_id=thread.customer_id,
                         text=" ".join(p for p in (message.subject or "", text) if p), at=message.at, replace=True)
    await emit(session, "message.updated", thread_id=thread.id, customer_id=thread.customer_id,
               data={"message_id": message.id, "edited": True})


async def apply_delivery(session: AsyncSession, message: Message, *, status: DeliveryStatus,
                         error: str | None) -> bool:
    """Move a sent message's status forward; returns False when the update was stale or repeated."""
    current = DeliveryStatus(message.delivery_status) if message.delivery_status else DeliveryStatus.queued
    if status == DeliveryStatus.failed:
        if current in (DeliveryStatus.delivered, DeliveryStatus.read, DeliveryStatus.failed):
            return False
    elif current == DeliveryStatus.failed or _RANK[status] <= _RANK.get(current, 0):
        return False
    await session.execute(update(Message).where(col(Message.id) == message.id).values(
        delivery_status=str(status), error=error if status == DeliveryStatus.failed else None))
    set_committed_value(message, "delivery_status", str(status))
    thread = await session.get(Thread, message.thread_id)
    await emit(session, "message.delivery", thread_id=message.thread_id,
               customer_id=thread.customer_id if thread else None,
               data={"message_id": message.id, "status": str(status), "error": error})
    return True


async def hold_receipt(session: AsyncSession, *, channel: Channel | str, provider_id: str, status: DeliveryStatus,
                       error: str | None) -> None:
    """Keep a status whose message is not known yet (see EarlyReceipt)."""
    await session.execute(insert_ignore(session, EarlyReceipt, conflict=("channel", "provider_id", "status")),
                          {"channel": str(channel), "provider_id": provider_id, "status": str(status),
                           "error": error, "received_at": utcnow()})
    await session.execute(delete(EarlyReceipt).where(
        col(EarlyReceipt.received_at) < utcnow() - RECEIPTS_KEPT_FOR))


async def apply_held_receipts(session: AsyncSession, *, channel: Channel | str, provider_id: str) -> int:
    """Apply the statuses that arrived before this message's provider id was recorded; how many."""
    held = (await session.execute(select(EarlyReceipt).where(
        col(EarlyReceipt.channel) == str(channel), col(EarlyReceipt.provider_id) == provider_id))).scalars().all()
    if not held:
        return 0
    message = await by_provider_id(session, channel=channel, provider_id=provider_id)
    if message is None:
        return 0
    for receipt in sorted(held, key=lambda r: _RANK.get(DeliveryStatus(r.status), 9)):
        await apply_delivery(session, message, status=DeliveryStatus(receipt.status), error=receipt.error)
    await session.execute(delete(EarlyReceipt).where(col(EarlyReceipt.id).in_([r.id for r in held])))
    return len(held)


async def apply_watermark(session: AsyncSession, *, identity_id: int, channel: Channel | str,
                          status: DeliveryStatus, up_to: datetime) -> list[int]:
    """Move every reply to this identity that went out at or before `up_to` forward to `status`;
    returns the ids that moved.

    Only replies the provider has acknowledged: one still sending would lose its provider id if its
    status changed under the worker, and a failed one stays failed (the watermark names no message).
    """
    movable = [str(s) for s in (DeliveryStatus.sent, DeliveryStatus.delivered) if _RANK[s] < _RANK[status]]
    if not movable:
        return []
    # When the send started, not when the reply was written: a reply queued behind a slow one
    # reaches the provider later than its `at` says.
    went_out = func.coalesce(col(Message.claimed_at), col(Message.at))
    moved = (await session.execute(
        update(Message)
        .where(col(Message.identity_id) == identity_id, col(Message.channel) == str(channel),
               col(Message.direction) == str(Direction.outbound), col(Message.delivery_status).in_(movable),
               went_out <= up_to)
        .values(delivery_status=str(status))
        .returning(col(Message.id), col(Message.thread_id))
        # Messages already loaded in this session see the new status: a later receipt in the same
        # batch must compare against it, or it could move a message backwards.
        .execution_options(synchronize_session="fetch")
    )).all()
    if not moved:
        return []
    owners = {thread_id: customer_id for thread_id, customer_id in await session.execute(
        select(col(Thread.id), col(Thread.customer_id)).where(col(Thread.id).in_({row[1] for row in moved})))}
    await emit_many(session, [
        NewLiveEvent("message.delivery", thread_id, owners.get(thread_id),
                     {"message_id": message_id, "status": str(status), "error": None})
        for message_id, thread_id in moved])
    return [int(message_id or 0) for message_id, _ in moved]


def encode_cursor(message: Message, *, inclusive: bool = False) -> str:
    # Ids are whole numbers: "after (at, id - 1)" is "from this message on".
    return cursor.encode(message.at, (message.id or 0) - 1 if inclusive else message.id or 0)


def decode_cursor(text: str, *, field: str = "before") -> tuple[datetime, int]:
    return cursor.decode(text, field=field)


async def page(session: AsyncSession, thread_ids: Sequence[int], *, limit: int,
               before: str | None = None, after: str | None = None) -> tuple[list[Message], str | None]:
    """The newest `limit` messages before the cursor, or the oldest `limit` after it, returned oldest first,
    and the cursor of the page beyond them in the same direction (None when there is none).

    Keyset on (at, id), which ix_message_thread_at serves in either direction: deep history costs
    what the newest page costs, where OFFSET would read every row it skips.
    """
    query = select(Message).where(col(Message.thread_id).in_(thread_ids))
    if after:
        at, message_id = decode_cursor(after, field="after")
        query = query.where(or_(col(Message.at) > at, and_(col(Message.at) == at, col(Message.id) > message_id)))
        order = (col(Message.at).asc(), col(Message.id).asc())
    else:
        order = (col(Message.at).desc(), col(Message.id).desc())
    if before:
        at, message_id = decode_cursor(before)
        query = query.where(or_(col(Message.at) < at, and_(col(Message.at) == at, col(Message.id) < message_id)))
    rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    if after:
        return rows, (encode_cursor(rows[-1]) if more and rows else None)
    rows.reverse()
    return rows, (encode_cursor(rows[0]) if more and rows else None)


_ATTACHMENTS_OF = select(Attachment).where(
    col(Attachment.message_id).in_(bindparam("message_ids", expanding=True))).order_by(col(Attachment.id))


async def attachments_for(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {}
    if not message_ids:
        return found
    for attachment in (await session.execute(_ATTACHMENTS_OF, {"message_ids": list(message_ids)})).scalars():
        found.setdefault(attachment.message_id, []).append(attachment)
    return found



@dataclass(frozen=True, slots=True)
class History:
    customer_id: int
    messages: list[Message]
    attachments: dict[int, list[Attachment]]
    next: str | None
    # Set when the page stops short of the newest message (a page `after`, or a window `around`).
    newer: str | None = None


async def history(session: AsyncSession, customer_id: int, *, limit: int, before: str | None = None,
                  after: str | None = None, around: int | None = None, since: int | None = None) -> History:
    """A page of the customer's one thread (following merges); see window()."""
    customer = await customers.get(session, customer_id)
    thread = await threads.for_customer(session, customer.id or 0)
    return await window(session, customer.id or 0, thread.id or 0, limit=limit, before=before, after=after,
                        around=around, since=since)


async def window(session: AsyncSession, customer_id: int, thread_id: int, *, limit: int, before: str | None = None,
                 after: str | None = None, around: int | None = None, since: int | None = None) -> History:
    """A page of one thread, oldest first within the page: the newest, or before/after a cursor.

    `around` is a message id: the page is the window of history it sits in the middle of, with
    cursors both ways, so a search hit opens on its message however much was said since.
    `since` is a message id too: the page runs from it on, for redrawing what a reader has scrolled
    back through without losing it.
    """
    thread_ids = [thread_id]
    older = newer = None
    if around is not None or since is not None:
        target = await session.get(Message, around if around is not None else since)
        if target is None or target.thread_id != thread_id:
            raise NotFound("message in this thread", around if around is not None else since)
        if around is not None:
            earlier, older = await page(session, thread_ids, limit=limit // 2, before=encode_cursor(target))
            later, newer = await page(session, thread_ids, limit=limit - len(earlier) - 1, after=encode_cursor(target))
            rows = [*earlier, target, *later]
        else:
            rows, newer = await page(session, thread_ids, limit=limit, after=encode_cursor(target, inclusive=True))
            before_it, _ = await page(session, thread_ids, limit=1, before=encode_cursor(target))
            older = encode_cursor(target) if before_it else None
    elif after:
        rows, newer = await page(session, thread_ids, limit=limit, after=after)
    else:
        rows, older = await page(session, thread_ids, limit=limit, before=before)
    return History(customer_id, rows, await attachments_for(session, [m.id or 0 for m in rows]), older, newer)


async def attachment(session: AsyncSession, attachment_id: int) -> Attachment:
    found = await session.get(Attachment, attachment_id)
    if found is None:
        raise NotFound("attachment", attachment_id)
    return found
