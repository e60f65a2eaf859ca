from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from inbox.customers.models import Customer
from inbox.db import insert_ignore, insert_many, table_of, utcnow
from inbox.errors import NotFound
from inbox.realtime import NewLiveEvent, emit
from inbox.threads.models import Case, Status, Thread


def _new_thread(customer_id: int) -> dict[str, object]:
    # Resolved and without a case: the first inbound message opens case 1 (reopen_on_inbound).
    return {"customer_id": customer_id, "status": Status.resolved, "last_activity_at": utcnow(),
            "created_at": utcnow(), "channels": "", "last_preview": "", "last_direction": "",
            "last_channel": "", "last_inbound_channel": "", "unread_count": 0}


async def ensure_thread(session: AsyncSession, *, customer_id: int) -> Thread:
    """The customer's one thread: an upsert, so two racing writers never make two."""
    await session.execute(insert_ignore(session, Thread, conflict=("customer_id",)), _new_thread(customer_id))
    return await for_customer(session, customer_id)


_THREADS = table_of(Thread)


async def create_many(session: AsyncSession, customer_ids: Sequence[int]) -> list[int]:
    """ensure_thread for customers created in this transaction, who cannot have one yet: their thread ids."""
    if not customer_ids:
        return []
    return [int(row.id) for row in await insert_many(session, Thread, [_new_thread(customer_id)
                                                                       for customer_id in customer_ids],
                                                     returning=("id",))]


_OPEN_CASE = update(_THREADS).where(_THREADS.c.id == bindparam("thread_id")).values(
    case_id=bindparam("case_id"), status=Status.open, snoozed_until=None, assignee_id=None, team_id=None)


async def open_first_cases(session: AsyncSession, openings: Sequence[tuple[int, int, datetime]]) -> list[NewLiveEvent]:
    """reopen_on_inbound for new threads, given as (thread id, customer id, message time): case 1 each.

    The "thread.updated" events are returned unrecorded, for the caller to record where one call
    of reopen_on_inbound per thread would have put them among its other events.
    """
    if not openings:
        return []
    case_ids = [int(row.id) for row in await insert_many(session, Case, [
        {"thread_id": thread_id, "number": 1, "status": Status.open, "opened_at": at}
        for thread_id, _, at in openings], returning=("id",))]
    await session.execute(_OPEN_CASE, [{"thread_id": thread_id, "case_id": case_id}
                                       for (thread_id, _, _), case_id in zip(openings, case_ids, strict=True)])
    # The data _set_thread announces for the same change, key for key.
    return [NewLiveEvent("thread.updated", thread_id, customer_id,
                         {"case_id": str(case_id), "status": str(Status.open), "snoozed_until": None,
                          "assignee_id": None, "team_id": None})
            for (thread_id, customer_id, _), case_id in zip(openings, case_ids, strict=True)]


_THREADS_BY_ID = select(Thread).where(col(Thread.id).in_(bindparam("thread_ids", expanding=True)))


async def get_many(session: AsyncSession, thread_ids: Sequence[int]) -> dict[int, Thread]:
    if not thread_ids:
        return {}
    return {thread.id or 0: thread
            for thread in (await session.execute(_THREADS_BY_ID, {"thread_ids": list(thread_ids)})).scalars()}


_THREAD_OF = select(Thread).where(col(Thread.customer_id) == bindparam("customer_id"))


async def for_customer(session: AsyncSession, customer_id: int) -> Thread:
    thread = (await session.execute(_THREAD_OF, {"customer_id": customer_id})).scalar_one_or_none()
    if thread is None:
        raise NotFound("thread for customer", customer_id)
    return thread


async def get(session: AsyncSession, thread_id: int) -> Thread:
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise NotFound("thread", thread_id)
    return thread


# The thread and its customer as they are stored, in one statement (the page opening a thread needs both).
_THREAD_WITH_CUSTOMER = select(Thread, Customer).join(Customer, col(Customer.id) == col(Thread.customer_id)).where(
    col(Thread.id) == bindparam("thread_id"))


async def get_with_customer(session: AsyncSession, thread_id: int) -> tuple[Thread, Customer]:
    """The thread and its customer row; the customer may be one a merge absorbed (customers.get
    follows that to the survivor)."""
    found = (await session.execute(_THREAD_WITH_CUSTOMER, {"thread_id": thread_id})).first()
    if found is None:
        raise NotFound("thread", thread_id)
    return found[0], found[1]


async def current_case(session: AsyncSession, thread: Thread) -> Case | None:
    return None if thread.case_id is None else await session.get(Case, thread.case_id)


async def reopen_on_inbound(session: AsyncSession, thread: Thread, *, at: datetime) -> str | None:
    """A customer wrote: a resolved thread gets a new case, a snoozed or pending one wakes.

    Returns what happened ("opened", "reopened", "woke") so the caller can note it in the thread.
    """
    if thread.status == Status.open and thread.case_id is not None:
        return None
    if thread.status == Status.resolved or thread.case_id is None:
        previous = await current_case(session, thread)
        case = Case(thread_id=thread.id or 0, number=(previous.number + 1) if previous else 1,
                    status=Status.open, opened_at=at)
        session.add(case)
        await session.flush()
        await _set_thread(session, thread, case_id=case.id, status=Status.open, snoozed_until=None,
                          assignee_id=None, team_id=None)
        return "reopened" if previous else "opened"
    woke = thread.status
    await _set_case_and_thread(session, thread, status=Status.open, snoozed_until=None)
    return "woke" if woke == Status.snoozed else "reopened"


async def set_status(session: AsyncSession, thread: Thread, *, status: Status,
                     snoozed_until: datetime | None = None) -> None:
    values: dict[str, object] = {"status": status, "snoozed_until": snoozed_until if status == Status.snoozed else None}
    await _set_case_and_thread(session, thread, **values)
    if status == Status.resolved and thread.case_id is not None:
        await session.execute(update(Case).where(col(Case.id) == thread.case_id).values(resolved_at=utcnow()))


async def assign(session: AsyncSession, thread: Thread, *, assignee_id: int | None,
                 team_id: int | None = None) -> None:
    await _set_case_and_thread(session, thread, assignee_id=assignee_id, team_id=team_id)


async def record_first_response(session: AsyncSession, thread: Thread, *, at: datetime) -> None:
    if thread.case_id is not None:
        await session.execute(update(Case).where(col(Case.id) == thread.case_id, col(Case.first_response_at).is_(None))
                              .values(first_response_at=at))


async def _set_case_and_thread(session: AsyncSession, thread: Thread, **values: object) -> None:
    if thread.case_id is not None:
        await session.execute(update(Case).where(col(Case.id) == thread.case_id).values(**values))
    await _set_thread(session, thread, **values)


async def _set_thread(session: AsyncSession, thread: Thread, **values: object) -> None:
    await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(**values))
    for key, value in values.items():
        # Mirror the row without marking the object dirty: the UPDATE above already wrote it.
        set_committed_value(thread, key, value)
    # Every open inbox re-sorts and re-counts on this; the values say what changed.
    await emit(session, "thread.updated", thread_id=thread.id, customer_id=thread.customer_id,
               data={key: str(value) if value is not None else None for key, value in values.items()})


async def mark_read(session: AsyncSession, thread: Thread) -> None:
    """An agent opened the thread: nothing in it is unread any more."""
    if thread.unread_count:
        await _set_thread(session, thread, unread_count=0)
