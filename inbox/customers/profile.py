"""Everything shown beside a thread, loaded in one call: the customer's whole picture."""

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import json_rows
from inbox.customers import service as customers
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.db import table_of
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


async def load(session: AsyncSession, customer_id: int, *, orders_limit: int | None = None,
               known: tuple[Customer, Thread] | None = None) -> Profile:
    """The whole picture; with orders_limit, only that many of the newest orders (a regular
    customer's hundreds of orders with their lines would cost more than the rest of the page).
    `known` is the customer and their thread when the caller has read them already (a customer a
    merge absorbed is not: its survivor's are read)."""
    if known is not None and known[0].id == customer_id and known[0].absorbed_into_id is None \
            and known[1].customer_id == customer_id:
        customer, thread = known
    else:
        customer = await customers.get(session, customer_id)
        thread = await threads.for_customer(session, customer.id or 0)
    return await _facts(session, customer, thread, orders_limit)


_IDENTITY, _ORDER, _LINE = json_rows.columns(Identity), json_rows.columns(Order), json_rows.columns(OrderLine)
_PREFERENCE, _CONSENT = json_rows.columns(Preference), json_rows.columns(Consent)
_SUGGESTION = json_rows.columns(MergeSuggestion)


@functools.cache
def _facts_statement(dialect: str, limited: bool) -> Select[Any]:
    """Everything per customer the sidebar shows, each table's rows a JSON array (inbox.json_rows),
    ordered as the one-table reads order them (customers.identities, orders.for_customer, ...)."""
    me: Any = bindparam("customer_id")
    rows_of = json_rows.subquery
    order, line = table_of(Order), table_of(OrderLine)
    newest_first = (order.c.placed_at.desc(), order.c.id.desc())
    newest = rows_of(Order, order.c.customer_id == me, order_by=newest_first,
                     limit=bindparam("orders_limit") if limited else None)
    suggestion = table_of(MergeSuggestion)
    consent = table_of(Consent)
    return select(
        json_rows.array(dialect, rows_of(Identity, table_of(Identity).c.customer_id == me,
                                         order_by=(table_of(Identity).c.id,)), _IDENTITY),
        json_rows.array(dialect, rows_of(Preference, table_of(Preference).c.customer_id == me,
                                         order_by=(table_of(Preference).c.key,)), _PREFERENCE),
        json_rows.array(dialect, rows_of(Consent, consent.c.customer_id == me,
                                         order_by=(consent.c.recorded_at.desc(), consent.c.id.desc())), _CONSENT),
        json_rows.array(dialect, rows_of(MergeSuggestion, suggestion.c.status == "open",
                                         or_(suggestion.c.customer_id == me, suggestion.c.other_id == me),
                                         order_by=(suggestion.c.id,)), _SUGGESTION),
        json_rows.array(dialect, newest, _ORDER),
        json_rows.array(dialect, rows_of(OrderLine, line.c.order_id.in_(select(newest.c.id)),
                                         order_by=(line.c.id,)), _LINE),
        select(func.count()).select_from(order).where(order.c.customer_id == me).scalar_subquery(),
    )


async def _facts(session: AsyncSession, customer: Customer, thread: Thread, orders_limit: int | None) -> Profile:
    """The profile around a customer and thread already read, in one statement."""
    params: dict[str, Any] = {"customer_id": customer.id or 0}
    if orders_limit is not None:
        params["orders_limit"] = orders_limit
    found = (await session.execute(
        _facts_statement(session.get_bind().dialect.name, orders_limit is not None), params)).one()
    identities, stated, consents, suggestions, placed, lines, total = found
    by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in json_rows.rows(OrderLine, lines, _LINE):
        by_order[line.order_id].append(line)
    return Profile(
        customer=customer,
        identities=json_rows.rows(Identity, identities, _IDENTITY),
        orders=[(order, by_order.get(order.id or 0, [])) for order in json_rows.rows(Order, placed, _ORDER)],
        orders_total=int(total),
        preferences=json_rows.rows(Preference, stated, _PREFERENCE),
        consents=preferences.in_force(json_rows.rows(Consent, consents, _CONSENT)).get(customer.id or 0, []),
        thread=thread,
        suggestions=json_rows.rows(MergeSuggestion, suggestions, _SUGGESTION),
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
