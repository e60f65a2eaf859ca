"""Whose data a person's record is: the customer, and every customer merged into them, at any depth.

A merge moves most rows to the survivor, but not all: the absorbed customer keeps its row, its
emptied thread with its cases, and any preference whose key the survivor already had. Export and
erase therefore work on the whole group, never on the survivor alone.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.threads.models import Thread


@dataclass(frozen=True, slots=True)
class Group:
    survivor_id: int
    # The survivor first, then those absorbed into it (directly or through another absorbed one).
    customer_ids: list[int]
    thread_ids: list[int]


async def group_of(session: AsyncSession, customer_id: int) -> Group:
    """The group an id belongs to; an absorbed id stands for its survivor, as everywhere else."""
    survivor = (await customers.get(session, customer_id)).id or 0
    members, frontier = [survivor], [survivor]
    while frontier:
        found = (await session.execute(
            select(col(Customer.id)).where(col(Customer.absorbed_into_id).in_(frontier))
            .order_by(col(Customer.id)))).scalars().all()
        frontier = [int(member or 0) for member in found if member not in members]
        members += frontier
    thread_ids = list((await session.execute(
        select(col(Thread.id)).where(col(Thread.customer_id).in_(members)).order_by(col(Thread.id)))).scalars().all())
    return Group(survivor, members, [int(thread_id or 0) for thread_id in thread_ids])
