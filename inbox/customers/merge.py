"""Two customers proven to be one person become one, and an undo makes them two again, exactly.

A merge moves the absorbed customer's rows to the survivor with set-based UPDATEs and records
the ids it moved, per table, in Merge.moved. An undo moves back exactly those ids, and only the
ones still with the survivor: what arrived after the merge, or was moved on since, stays put.
"""

from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import audit
from inbox.customers import service as customers
from inbox.customers.models import Customer, Identity, Merge, MergeSuggestion
from inbox.db import utcnow
from inbox.errors import Conflict, Invalid, NotFound
from inbox.events import Direction
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.orders.models import Order
from inbox.preferences.models import Consent, Preference
from inbox.realtime import emit
from inbox.search import SearchDoc
from inbox.text import preview
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread

SAME_CUSTOMER = "cannot merge a customer with itself"
ALREADY_UNDONE = "this merge was already undone"

# Merge.moved key → the table and the column that says whose a row is. Messages belong to the
# customer through the one thread, so they move between threads; attachments and order lines
# follow their message or order without being touched.
_OWNED: dict[str, tuple[Any, str]] = {
    "identity": (Identity, "customer_id"),
    "message": (Message, "thread_id"),
    "order": (Order, "customer_id"),
    "preference": (Preference, "customer_id"),
    "consent": (Consent, "customer_id"),
    "search_doc": (SearchDoc, "customer_id"),
}

# Ids per statement on undo: far below SQLite's and asyncpg's bound-parameter limits.
_BATCH = 500


async def merge(session: AsyncSession, *, survivor_id: int, absorbed_id: int, actor: str) -> Merge:
    """Fold the absorbed customer into the survivor; the absorbed id then answers with the survivor.

    Ids resolve through customers.get, so an id absorbed earlier stands for its survivor. The same
    id twice is Invalid; two ids that already resolve to one customer are a Conflict. Both threads
    stay (one per customer, for life): the absorbed one is left empty, and its cases stay with it.
    """
    if survivor_id == absorbed_id:
        raise Invalid("absorbed_id", SAME_CUSTOMER)
    # Autoflush is off: whatever the caller added must reach the database before the UPDATEs.
    await session.flush()
    survivor = await customers.get(session, survivor_id)
    absorbed = await customers.get(session, absorbed_id)
    if survivor.id == absorbed.id:
        raise Conflict(f"customer {absorbed_id} is already merged into customer {survivor.id}")
    kept, gone = survivor.id or 0, absorbed.id or 0
    await _lock(session, kept, gone)
    if survivor.absorbed_into_id is not None or absorbed.absorbed_into_id is not None:
        raise Conflict("one of these customers was merged by someone else just now; try again")
    kept_thread = await threads.for_customer(session, kept)
    gone_thread = await threads.for_customer(session, gone)
    kept_thread_id, gone_thread_id = kept_thread.id or 0, gone_thread.id or 0

    moved: dict[str, Any] = {}
    for key, (model, column) in _OWNED.items():
        source, target = (gone_thread_id, kept_thread_id) if column == "thread_id" else (gone, kept)
        where = [getattr(model, column) == source]
        if model is Preference:
            # UNIQUE(customer_id, key): on a key both have, the survivor's value wins and the
            # absorbed customer's row stays where it is, untouched, so an undo has nothing to mend.
            where.append(col(Preference.key).not_in(
                select(col(Preference.key)).where(col(Preference.customer_id) == kept)))
        moved[key] = await _reassign(session, model, column, *where, target=target)
    moved["accepted_suggestions"] = await _accept_suggestions(session, kept, gone)
    moved["followed_suggestions"] = await _follow_suggestions(session, survivor_id=kept, absorbed_id=gone)
    # No message records whether it was read: unread is a counter, so it moves as a number.
    moved["unread_count"] = gone_thread.unread_count
    # The emptied thread leaves every inbox view; an undo puts it back where it was.
    moved["absorbed_thread_status"] = gone_thread.status

    now = utcnow()
    await session.execute(update(Customer).where(col(Customer.id) == gone)
                          .values(absorbed_into_id=kept, updated_at=now))
    await session.execute(update(Customer).where(col(Customer.id) == kept).values(updated_at=now))
    await _summarize(session, kept_thread, unread_count=kept_thread.unread_count + gone_thread.unread_count)
    await _summarize(session, gone_thread, unread_count=0)
    if gone_thread.status == Status.open and kept_thread.status != Status.open:
        # The absorbed customer was waiting for an answer; that wait now lives in this thread,
        # so it opens as an inbound message would have opened it.
        reopened = await threads.reopen_on_inbound(session, kept_thread, at=now)
        if reopened:
            await _note(session, kept_thread, f"case {reopened}", {"event": f"case.{reopened}"})
    await session.execute(update(Thread).where(col(Thread.id) == gone_thread_id).values(status=Status.resolved))
    await customers.reindex(session, kept)

    record = Merge(survivor_id=kept, absorbed_id=gone, moved=moved, actor=actor[:80], created_at=now)
    session.add(record)
    await session.flush()
    name = absorbed.name or f"customer {gone}"
    await _announce(session, "customer.merged", record, actor=actor, thread=kept_thread, gone_thread=gone_thread,
                    note=f"merged {name} into this customer", audit_data={"moved": _counts(moved)})
    return record


async def undo(session: AsyncSession, merge_id: int, *, actor: str) -> Merge:
    """Put back every row the merge moved that is still with the survivor, and part the two again.

    Undoing twice is a Conflict. So is undoing a merge whose survivor was itself absorbed later:
    its rows sit with the later survivor now, so the later merge has to be undone first.
    """
    await session.flush()
    record = (await session.execute(
        select(Merge).where(col(Merge.id) == merge_id).with_for_update().execution_options(populate_existing=True)
    )).scalar_one_or_none()
    if record is None:
        raise NotFound("merge", merge_id)
    if record.undone_at is not None:
        raise Conflict(ALREADY_UNDONE)
    kept, gone = record.survivor_id, record.absorbed_id
    locked = await _lock(session, kept, gone)
    if locked[kept].absorbed_into_id is not None:
        later = (await session.execute(
            select(col(Merge.id)).where(col(Merge.absorbed_id) == kept, col(Merge.undone_at).is_(None))
            .order_by(col(Merge.id).desc()).limit(1)
        )).scalar_one_or_none()
        raise Conflict(f"customer {kept} has since been merged into customer {locked[kept].absorbed_into_id}; "
                       f"undo merge {later} first")
    if locked[gone].absorbed_into_id != kept:
        raise Conflict(f"customer {gone} is no longer merged into customer {kept}")
    kept_thread = await threads.for_customer(session, kept)
    gone_thread = await threads.for_customer(session, gone)
    kept_thread_id, gone_thread_id = kept_thread.id or 0, gone_thread.id or 0

    back: dict[str, list[int]] = {}
    for key, (model, column) in _OWNED.items():
        source, target = (kept_thread_id, gone_thread_id) if column == "thread_id" else (kept, gone)
        back[key] = await _reassign_ids(session, model, column, record.moved.get(key, []), source=source,
                                        target=target)
    # A message edited after the merge was re-indexed under a new document filed with the
    # survivor: documents follow the rows that went back, not only the ones recorded.
    for kind in ("message", "order"):
        for batch in _batches(back[kind]):
            await _reassign(session, SearchDoc, "customer_id", col(SearchDoc.customer_id) == kept,
                            col(SearchDoc.kind) == kind, col(SearchDoc.ref_id).in_(batch), target=gone)
    await _unfollow_suggestions(session, record.moved.get("followed_suggestions", []), survivor_id=kept,
                                absorbed_id=gone)
    for batch in _batches(record.moved.get("accepted_suggestions", [])):
        await session.execute(update(MergeSuggestion).where(col(MergeSuggestion.id).in_(batch),
                                                            col(MergeSuggestion.status) == "accepted")
                              .values(status="open", decided_at=None))

    now = utcnow()
    await session.execute(update(Customer).where(col(Customer.id) == gone)
                          .values(absorbed_into_id=None, updated_at=now))
    await session.execute(update(Customer).where(col(Customer.id) == kept).values(updated_at=now))
    # Give back what is still unread, never more: anything read in the merged thread stays read.
    given_back = min(int(record.moved.get("unread_count", 0)), kept_thread.unread_count)
    await _summarize(session, kept_thread, unread_count=kept_thread.unread_count - given_back)
    await _summarize(session, gone_thread, unread_count=gone_thread.unread_count + given_back)
    if "absorbed_thread_status" in record.moved:
        await session.execute(update(Thread).where(col(Thread.id) == gone_thread_id)
                              .values(status=record.moved["absorbed_thread_status"]))
    await customers.reindex(session, kept)
    await customers.reindex(session, gone)

    record.undone_at = now
    session.add(record)
    await session.flush()
    name = locked[gone].name or f"customer {gone}"
    await _announce(session, "customer.unmerged", record, actor=actor, thread=kept_thread, gone_thread=gone_thread,
                    note=f"undid the merge of {name} into this customer", audit_data={"moved_back": _counts(back)})
    return record


async def _announce(session: AsyncSession, action: str, record: Merge, *, actor: str, thread: Thread,
                    gone_thread: Thread, note: str, audit_data: dict[str, Any]) -> None:
    """The audit record, the system line in the survivor's thread, and the live event: one per merge or undo."""
    kept, gone = record.survivor_id, record.absorbed_id
    await audit.record(session, actor=actor, action=action, subject_type="customer", subject_id=kept,
                       data={"merge_id": record.id, "absorbed_id": gone, **audit_data})
    await _note(session, thread, note, {"event": action, "merge_id": record.id, "absorbed_id": gone})
    await emit(session, action, thread_id=thread.id, customer_id=kept,
               data={"merge_id": record.id, "survivor_id": kept, "absorbed_id": gone,
                     "absorbed_thread_id": gone_thread.id})


async def _lock(session: AsyncSession, *customer_ids: int) -> dict[int, Customer]:
    # Two merges racing over one customer on PostgreSQL: the second waits here and then sees the
    # first one's result (SQLite writers are serialised already). Id order avoids deadlocks.
    rows = (await session.execute(
        select(Customer).where(col(Customer.id).in_(customer_ids)).order_by(col(Customer.id))
        .with_for_update().execution_options(populate_existing=True)
    )).scalars().all()
    return {row.id or 0: row for row in rows}


async def _reassign(session: AsyncSession, model: Any, column: str, *where: Any, target: int) -> list[int]:
    # An ORM-enabled UPDATE: objects already loaded in this session see the new owner too, so a
    # caller holding one (ingest holds the sender's identity) does not act on a stale customer.
    rows = await session.execute(update(model).where(*where).values({column: target}).returning(model.id))
    return sorted(int(row_id) for row_id in rows.scalars())


async def _reassign_ids(session: AsyncSession, model: Any, column: str, ids: list[int], *, source: int,
                        target: int) -> list[int]:
    moved: list[int] = []
    for batch in _batches(ids):
        moved += await _reassign(session, model, column, model.id.in_(batch), getattr(model, column) == source,
                                 target=target)
    return sorted(moved)


def _batches(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + _BATCH] for start in range(0, len(ids), _BATCH)]


def _counts(moved: dict[str, Any]) -> dict[str, int]:
    return {key: len(value) for key, value in moved.items() if isinstance(value, list)}


async def _summarize(session: AsyncSession, thread: Thread, *, unread_count: int) -> None:
    """Rebuild the thread's list row from its messages, as messages.append would have left it."""
    in_thread = col(Message.thread_id) == thread.id
    last = (await session.execute(
        select(col(Message.id), col(Message.at), col(Message.text), col(Message.subject), col(Message.direction),
               col(Message.channel))
        .where(in_thread, col(Message.direction) != Direction.event)
        .order_by(col(Message.at).desc(), col(Message.id).desc()).limit(1)
    )).first()
    # append() sets this on every inbound it stores, whatever the message's time: latest stored wins.
    inbound_channel = (await session.execute(
        select(col(Message.channel)).where(in_thread, col(Message.direction) == Direction.inbound)
        .order_by(col(Message.id).desc()).limit(1)
    )).scalar_one_or_none()
    channels = (await session.execute(
        select(col(Message.channel)).distinct()
        .where(in_thread, col(Message.direction).in_([Direction.inbound, Direction.outbound]))
    )).scalars().all()
    values: dict[str, Any] = {"last_inbound_channel": inbound_channel or "", "channels": " ".join(sorted(channels)),
                              "unread_count": max(unread_count, 0)}
    if last is None:
        # An emptied thread keeps its last_activity_at: no message is left to take one from.
        values.update(last_message_id=None, last_preview="", last_direction="", last_channel="")
    else:
        values.update(last_activity_at=last.at, last_message_id=last.id, last_direction=last.direction,
                      last_channel=last.channel, last_preview=preview(last.text or last.subject or ""))
    await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(**values))


async def _note(session: AsyncSession, thread: Thread, text: str, extra: dict[str, Any]) -> None:
    await messages.append_event(session, thread, text=text, extra=extra)


async def _accept_suggestions(session: AsyncSession, first: int, second: int) -> list[int]:
    customer_id, other_id = col(MergeSuggestion.customer_id), col(MergeSuggestion.other_id)
    between = or_(and_(customer_id == first, other_id == second), and_(customer_id == second, other_id == first))
    rows = await session.execute(
        update(MergeSuggestion).where(between, col(MergeSuggestion.status) == "open")
        .values(status="accepted", decided_at=utcnow()).returning(col(MergeSuggestion.id))
    )
    return sorted(row_id for row_id in rows.scalars() if row_id is not None)


async def _follow_suggestions(session: AsyncSession, *, survivor_id: int, absorbed_id: int) -> list[list[int]]:
    """Open suggestions about the absorbed customer now name the survivor.

    Returns [id, customer_id, other_id] of each as it was, for an undo.
    """
    customer_id, other_id = col(MergeSuggestion.customer_id), col(MergeSuggestion.other_id)
    rows = (await session.execute(
        select(col(MergeSuggestion.id), customer_id, other_id)
        .where(col(MergeSuggestion.status) == "open", or_(customer_id == absorbed_id, other_id == absorbed_id))
        .order_by(col(MergeSuggestion.id))
    )).all()
    followed: list[list[int]] = []
    for row_id, first, second in rows:
        other = second if first == absorbed_id else first
        pair = sorted((survivor_id, other))
        # The survivor may already have its own suggestion about the same customer: keep that one.
        if other == survivor_id or await _suggestion_exists(session, pair[0], pair[1]):
            continue
        await session.execute(update(MergeSuggestion).where(col(MergeSuggestion.id) == row_id)
                              .values(customer_id=pair[0], other_id=pair[1]))
        followed.append([int(row_id or 0), first, second])
    return followed


async def _unfollow_suggestions(session: AsyncSession, followed: list[list[int]], *, survivor_id: int,
                                absorbed_id: int) -> None:
    for row_id, first, second in followed:
        other = second if first == absorbed_id else first
        pair = sorted((survivor_id, other))
        if await _suggestion_exists(session, first, second):
            continue
        # Only a suggestion still naming the pair the merge gave it goes back.
        await session.execute(update(MergeSuggestion).where(
            col(MergeSuggestion.id) == row_id, col(MergeSuggestion.customer_id) == pair[0],
            col(MergeSuggestion.other_id) == pair[1],
        ).values(customer_id=first, other_id=second))


async def _suggestion_exists(session: AsyncSession, first: int, second: int) -> bool:
    return (await session.execute(select(col(MergeSuggestion.id)).where(
        col(MergeSuggestion.customer_id) == first, col(MergeSuggestion.other_id) == second))).first() is not None
