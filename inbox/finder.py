"""One search box over customers, messages and orders, Turkish-folded, newest first."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.messages.models import Message
from inbox.orders.models import Order
from inbox.orders.service import OrderWithLines, with_lines
from inbox.search import search
from inbox.threads.models import Thread


@dataclass(frozen=True, slots=True)
class Found:
    customers: Sequence[Customer]
    messages: Sequence[tuple[Message, int]]  # with the customer id it belongs to
    orders: Sequence[OrderWithLines]


async def find(session: AsyncSession, q: str, *, region: str, limit: int = 20) -> Found:
    found_customers = await customers.lookup(session, q, region=region, limit=limit)
    message_ids = [hit.ref_id for hit in await search(session, q, kind="message", limit=limit)]
    order_ids = [hit.ref_id for hit in await search(session, q, kind="order", limit=limit)]
    rows = (await session.execute(
        select(Message, col(Thread.customer_id)).join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(col(Message.id).in_(message_ids)).order_by(col(Message.id).desc())
    )).all() if message_ids else []
    found_orders = (await session.execute(
        select(Order).where(col(Order.id).in_(order_ids)).order_by(col(Order.id).desc())
    )).scalars().all() if order_ids else []
    return Found(customers=found_customers, messages=[(m, c) for m, c in rows],
                 orders=await with_lines(session, found_orders))
