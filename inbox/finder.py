"""One search box over customers, messages and orders, Turkish-folded, newest first."""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.channels import AddressKind
from inbox.customers import service as customers
from inbox.customers.addresses import looks_like_phone, normalize_email, normalize_phone
from inbox.customers.models import Customer
from inbox.errors import Invalid
from inbox.messages.models import Message
from inbox.orders.models import Order
from inbox.orders.service import OrderWithLines, with_lines
from inbox.search import Hit, search
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


KINDS = ("customer", "message", "order")


@dataclass(frozen=True, slots=True)
class Result:
    """One hit as the search page lists it, with the customer and the thread it opens."""

    customer_id: int
    customer_name: str
    thread_id: int | None
    # The message's channel, or every channel the customer's thread has seen, space-separated.
    channels: str
    at: datetime | None
    text: str
    message_id: int | None = None
    direction: str = ""
    order: Order | None = None


@dataclass(frozen=True, slots=True)
class Group:
    kind: str
    results: Sequence[Result]
    # The cursor of the next page (search's `before`); None when every match is shown.
    more: int | None


async def grouped(session: AsyncSession, q: str, *, region: str, kinds: Sequence[str] = KINDS, limit: int = 20,
                  before: int | None = None) -> list[Group]:
    """Each kind's newest `limit` matches: one search and one batch load per kind, never a count of them all.

    Counting every match of a common word over millions of messages costs what the page may not:
    one more row than shown says whether there are more.
    """
    groups = []
    for kind in kinds:
        hits = (await _customer_hits(session, q, region=region, limit=limit + 1, before=before) if kind == "customer"
                else await search(session, q, kind=kind, limit=limit + 1, before=before))
        more = hits[limit - 1].doc_id if len(hits) > limit else None
        hits = hits[:limit]
        loaded = await _LOADERS[kind](session, [hit.ref_id for hit in hits])
        groups.append(Group(kind, [loaded[hit.ref_id] for hit in hits if hit.ref_id in loaded], more))
    return groups


async def _customer_hits(session: AsyncSession, q: str, *, region: str, limit: int,
                         before: int | None) -> list[Hit]:
    # A phone number or an email is looked up by its canonical form: typed any way, it is one
    # address, and the two databases' word splitters cut "+905321234567" and "a@b.com" differently.
    address = _address(q, region)
    if address is None:
        return await search(session, q, kind="customer", limit=limit, before=before)
    if before is not None:
        return []  # everyone holding one address fits on the first page
    ids = dict.fromkeys(await customers.ids_by_address(session, address[0], address[1]))
    return [Hit(kind="customer", ref_id=customer_id, customer_id=customer_id) for customer_id in ids][:limit]


def _address(q: str, region: str) -> tuple[AddressKind, str] | None:
    text = q.strip()
    with contextlib.suppress(Invalid):
        if "@" in text:
            return AddressKind.email, normalize_email(text)
        if looks_like_phone(text):
            return AddressKind.phone, normalize_phone(text, region)
    return None


async def _customers(session: AsyncSession, ids: Sequence[int]) -> dict[int, Result]:
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Customer.id), col(Customer.name), col(Thread.id), col(Thread.channels),
               col(Thread.last_activity_at), col(Thread.last_preview))
        .outerjoin(Thread, col(Thread.customer_id) == col(Customer.id))
        # A customer absorbed by a merge lives on in the survivor, who has a hit of their own.
        .where(col(Customer.id).in_(ids), col(Customer.absorbed_into_id).is_(None)))
    return {row[0] or 0: Result(customer_id=row[0] or 0, customer_name=row[1], thread_id=row[2], channels=row[3] or "",
                           at=row[4], text=row[5] or "") for row in rows}


async def _messages(session: AsyncSession, ids: Sequence[int]) -> dict[int, Result]:
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Message.id), col(Message.subject), col(Message.text), col(Message.channel), col(Message.at),
               col(Message.direction), col(Message.thread_id), col(Thread.customer_id), col(Customer.name))
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .join(Customer, col(Customer.id) == col(Thread.customer_id))
        .where(col(Message.id).in_(ids)))
    return {row[0] or 0: Result(customer_id=row[7], customer_name=row[8], thread_id=row[6], channels=row[3], at=row[4],
                           text=" ".join(part for part in (row[1], row[2]) if part), message_id=row[0],
                           direction=row[5]) for row in rows}


async def _orders(session: AsyncSession, ids: Sequence[int]) -> dict[int, Result]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Order, col(Customer.name), col(Thread.id), col(Thread.channels))
        .join(Customer, col(Customer.id) == col(Order.customer_id))
        .outerjoin(Thread, col(Thread.customer_id) == col(Order.customer_id))
        .where(col(Order.id).in_(ids)))
    return {order.id or 0: Result(customer_id=order.customer_id, customer_name=name, thread_id=thread_id,
                                  channels=channels or "", at=order.placed_at, text=f"#{order.number}", order=order)
            for order, name, thread_id, channels in rows}


_LOADERS = {"customer": _customers, "message": _messages, "order": _orders}
