"""The inbox's views (Unassigned, Mine, All open, ...): which threads, newest activity first, and how many.

Every view is a prefix of one of the thread table's (status | assignee, status) indexes followed
by (last_activity_at, id), so a page is an index range scan whatever the inbox's size, and the
next page starts after the last row seen (keyset), never at an OFFSET.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.customers.models import Customer
from inbox.threads.models import Status, Thread, ThreadCount


class View(StrEnum):
    unassigned = "unassigned"
    mine = "mine"
    open = "open"
    pending = "pending"
    snoozed = "snoozed"
    resolved = "resolved"


@dataclass(frozen=True, slots=True)
class Row:
    thread: Thread
    customer_name: str


def _where(view: View, user_id: int) -> list[Any]:
    status = col(Thread.status)
    match view:
        case View.unassigned:
            return [status == Status.open, col(Thread.assignee_id).is_(None)]
        case View.mine:
            return [col(Thread.assignee_id) == user_id, status == Status.open]
        case View.open:
            return [status == Status.open]
        case _:
            return [status == Status(view.value)]


async def page(session: AsyncSession, view: View, *, user_id: int, limit: int = 50,
               after: tuple[datetime, int] | None = None) -> list[Row]:
    query = (select(Thread, col(Customer.name)).join(Customer, col(Customer.id) == col(Thread.customer_id))
             .where(*_where(view, user_id)))
    if after is not None:
        at, thread_id = after
        query = query.where(or_(col(Thread.last_activity_at) < at,
                                and_(col(Thread.last_activity_at) == at, col(Thread.id) < thread_id)))
    rows = await session.execute(
        query.order_by(col(Thread.last_activity_at).desc(), col(Thread.id).desc()).limit(limit))
    return [Row(thread, name) for thread, name in rows.all()]


async def counts(session: AsyncSession, *, user_id: int) -> dict[View, int]:
    """Every view's size, read from thread_count (a row per status and assignee), not the threads."""
    found = dict.fromkeys(View, 0)
    for status, assignee_id, n in (await session.execute(
            select(col(ThreadCount.status), col(ThreadCount.assignee_id), col(ThreadCount.n)))).all():
        if status == Status.open:
            found[View.open] += n
            found[View.unassigned] += n if assignee_id == 0 else 0
            found[View.mine] += n if assignee_id == user_id else 0
        elif status in (Status.pending, Status.snoozed, Status.resolved):
            found[View(status)] += n
    return found
