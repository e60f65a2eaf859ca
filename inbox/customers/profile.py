"""Everything shown beside a thread, loaded in one call: the customer's whole picture."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.customers import service as customers
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.orders import service as orders
from inbox.orders.models import Order, OrderLine
from inbox.preferences import service as preferences
from inbox.preferences.models import Consent, Preference
from inbox.threads import service as threads
from inbox.threads.models import Thread


@dataclass(frozen=True, slots=True)
class Profile:
    customer: Customer
    identities: Sequence[Identity]
    orders: Sequence[tuple[Order, Sequence[OrderLine]]]
    # All of the customer's orders, of which `orders` may be only the newest.
    orders_total: int
    preferences: Sequence[Preference]
    # The consent in force per (channel, purpose).
    consents: Sequence[Consent]
    thread: Thread
    suggestions: Sequence[MergeSuggestion]


async def load(session: AsyncSession, customer_id: int, *, orders_limit: int | None = None) -> Profile:
    """The whole picture; with orders_limit, only that many of the newest orders (a regular
    customer's hundreds of orders with their lines would cost more than the rest of the page)."""
    customer = await customers.get(session, customer_id)
    survivor = customer.id or 0
    newest = await orders.for_customer(session, survivor, limit=orders_limit)
    total = len(newest) if orders_limit is None or len(newest) < orders_limit else \
        await orders.count_for_customer(session, survivor)
    return Profile(
        customer=customer,
        identities=await customers.identities(session, survivor),
        orders=newest,
        orders_total=total,
        preferences=await preferences.for_customer(session, survivor),
        consents=await preferences.consents_in_force(session, survivor),
        thread=await threads.for_customer(session, survivor),
        suggestions=await customers.open_suggestions(session, survivor),
    )


async def load_many(session: AsyncSession, found: Sequence[Customer]) -> list[Profile]:
    """Profiles of customers already resolved to survivors, in their order, in seven statements
    however many there are: a search listing twenty customers made 140 one at a time."""
    ids = [customer.id or 0 for customer in found]
    if not ids:
        return []
    identities = _by_customer((await session.execute(
        select(Identity).where(col(Identity.customer_id).in_(ids)).order_by(col(Identity.id)))).scalars())
    placed = (await session.execute(
        select(Order).where(col(Order.customer_id).in_(ids))
        .order_by(col(Order.placed_at).desc(), col(Order.id).desc()))).scalars().all()
    by_order: dict[int, list[tuple[Order, Sequence[OrderLine]]]] = defaultdict(list)
    for order, lines in await orders.with_lines(session, placed):
        by_order[order.customer_id].append((order, lines))
    stated = _by_customer((await session.execute(
        select(Preference).where(col(Preference.customer_id).in_(ids)).order_by(col(Preference.key)))).scalars())
    thread_of = {thread.customer_id: thread for thread in (await session.execute(
        select(Thread).where(col(Thread.customer_id).in_(ids)))).scalars()}
    suggestions = (await session.execute(
        select(MergeSuggestion).where(col(MergeSuggestion.status) == "open", or_(
            col(MergeSuggestion.customer_id).in_(ids), col(MergeSuggestion.other_id).in_(ids)))
        .order_by(col(MergeSuggestion.id)))).scalars().all()
    consents = await preferences.consents_in_force_of(session, ids)
    return [Profile(customer=customer, identities=identities.get(cid, []), orders=by_order.get(cid, []),
                    orders_total=len(by_order.get(cid, [])), preferences=stated.get(cid, []),
                    consents=consents.get(cid, []), thread=thread_of[cid],
                    suggestions=[s for s in suggestions if cid in (s.customer_id, s.other_id)])
            for customer, cid in zip(found, ids, strict=True)]


def _by_customer(rows: Iterable[Identity | Preference]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.customer_id].append(row)
    return grouped


async def search(session: AsyncSession, q: str, *, region: str, limit: int = 20) -> list[Profile]:
    return await load_many(session, await customers.lookup(session, q, region=region, limit=limit))
