"""Orders as the shop reports them: upserted by the shop's own id, joined to the right customer."""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.customers import service as customers
from inbox.db import insert_ignore, utcnow
from inbox.errors import Invalid
from inbox.events import IncomingLine as IncomingLine  # the adapter contract's; still importable here
from inbox.events import IncomingOrder as IncomingOrder
from inbox.orders.models import Order, OrderLine, OrderRefund
from inbox.search import index_document

OrderWithLines = tuple[Order, list[OrderLine]]

_CENT = Decimal("0.01")
_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")
# Statuses this module itself sets; the rest are the shop's words.
CANCELLED, REFUNDED, PARTIALLY_REFUNDED = "cancelled", "refunded", "partially_refunded"


async def upsert(session: AsyncSession, incoming: IncomingOrder, *, region: str) -> OrderWithLines:
    """Create or replace the order; the same PUT twice leaves one order, as it was."""
    external_id = incoming.external_id.strip()
    if not external_id:
        raise Invalid("external_id", "must not be empty")
    await _one_at_a_time(session, external_id)
    placed_at = _utc("placed_at", incoming.placed_at)
    updated_at = None if incoming.updated_at is None else _utc("updated_at", incoming.updated_at)
    existing = await _by_external_id(session, external_id)
    if existing is None:
        customer_id = await _customer_for(session, incoming, region=region)
        await session.execute(insert_ignore(session, Order, conflict=("external_id",)), {
            "external_id": external_id, "number": external_id, "customer_id": customer_id, "updated_at": utcnow(),
        })
        existing = await _by_external_id(session, external_id)
        assert existing is not None
    elif _is_stale(existing, updated_at):
        return (await with_lines(session, [existing]))[0]
    order = existing
    # An order made for a customer later merged away belongs to the survivor now.
    order.customer_id = (await customers.get(session, order.customer_id)).id or order.customer_id
    for name, value in _fields(incoming, external_id, placed_at).items():
        setattr(order, name, value)
    # An update that does not say when it was made keeps the last known time, so a late older one stays stale.
    order.source_updated_at = updated_at or order.source_updated_at
    order.updated_at = utcnow()
    session.add(order)
    await session.flush()
    order_id = order.id or 0
    await session.execute(delete(OrderLine).where(col(OrderLine.order_id) == order_id))
    lines = [OrderLine(order_id=order_id, sku=sku, title=title, quantity=quantity, price=price)
             for sku, title, quantity, price in _line_values(incoming)]
    session.add_all(lines)
    await session.flush()
    titles = " ".join(line.title for line in lines)
    await index_document(session, kind="order", ref_id=order_id, customer_id=order.customer_id,
                         text=f"{order.number} {external_id} {titles}", at=placed_at, replace=True)
    return order, lines


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    # Nothing an agent would see differs, or the report is older than what is kept.
    unchanged = "unchanged"
    # Nothing to attach it to: a refund for an order never reported, an order with no email or phone.
    ignored = "ignored"


async def apply(session: AsyncSession, incoming: IncomingOrder, *, region: str) -> Outcome:
    """upsert, said as what it did; an order reported again as it is is left untouched (not even its
    updated_at), so importing the same file twice changes nothing."""
    external_id = incoming.external_id.strip()
    if external_id:
        await _one_at_a_time(session, external_id)
    existing = await _by_external_id(session, external_id) if external_id else None
    if existing is None:
        await upsert(session, incoming, region=region)
        return Outcome.created
    updated_at = None if incoming.updated_at is None else _utc("updated_at", incoming.updated_at)
    if _is_stale(existing, updated_at):
        return Outcome.unchanged
    fields = _fields(incoming, external_id, _utc("placed_at", incoming.placed_at))
    kept = [(line.sku, line.title, line.quantity, line.price) for line in await lines_of(session, existing.id or 0)]
    if all(getattr(existing, name) == value for name, value in fields.items()) and kept == _line_values(incoming):
        if updated_at is not None and (existing.source_updated_at is None or updated_at > existing.source_updated_at):
            # Same content, newer report: remembered, so a late report from between cannot undo it.
            existing.source_updated_at = updated_at
            session.add(existing)
            await session.flush()
        return Outcome.unchanged
    await upsert(session, incoming, region=region)
    return Outcome.updated


async def find(session: AsyncSession, external_id: str) -> Order | None:
    return await _by_external_id(session, external_id.strip())


async def record_refund(session: AsyncSession, *, order_external_id: str, refund_id: str, amount: Decimal,
                        at: datetime) -> Outcome:
    """The order shows refunded once its refunds add up to its total, partially_refunded before that.

    A cancelled order stays cancelled: that says more than the refund that usually goes with it."""
    await _one_at_a_time(session, order_external_id.strip())
    order = await _by_external_id(session, order_external_id.strip())
    if order is None:
        return Outcome.ignored
    refunded_at = _utc("refunded_at", at)
    inserted = (await session.execute(
        insert_ignore(session, OrderRefund, conflict=("external_id",), returning=("id",)),
        {"order_id": order.id, "external_id": refund_id.strip()[:100], "amount": _cents(amount),
         "refunded_at": refunded_at},
    )).first()
    if inserted is None:
        return Outcome.unchanged
    refunded = Decimal((await session.execute(
        select(func.coalesce(func.sum(col(OrderRefund.amount)), 0)).where(col(OrderRefund.order_id) == order.id)
    )).scalar_one())
    if order.status != CANCELLED and refunded > 0:
        order.status = REFUNDED if refunded >= order.total else PARTIALLY_REFUNDED
    # The shop changed the order then: a report from before the refund is stale from now on.
    if order.source_updated_at is None or refunded_at > order.source_updated_at:
        order.source_updated_at = refunded_at
    order.updated_at = utcnow()
    session.add(order)
    await session.flush()
    return Outcome.updated


async def for_customer(session: AsyncSession, customer_id: int, *, limit: int | None = None) -> list[OrderWithLines]:
    """Newest order first (all of them, or the newest `limit`), each with its lines."""
    return await with_lines(session, (await session.execute(
        select(Order).where(col(Order.customer_id) == customer_id)
        .order_by(col(Order.placed_at).desc(), col(Order.id).desc()).limit(limit)
    )).scalars().all())


async def count_for_customer(session: AsyncSession, customer_id: int) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Order).where(col(Order.customer_id) == customer_id))).scalar_one())


async def with_lines(session: AsyncSession, found: Sequence[Order]) -> list[OrderWithLines]:
    """The orders in the order given, each with its lines, in one query."""
    by_order: dict[int, list[OrderLine]] = {order.id or 0: [] for order in found}
    if by_order:
        for line in (await session.execute(
            select(OrderLine).where(col(OrderLine.order_id).in_(by_order)).order_by(col(OrderLine.id))
        )).scalars():
            by_order[line.order_id].append(line)
    return [(order, by_order[order.id or 0]) for order in found]


async def lines_of(session: AsyncSession, order_id: int) -> list[OrderLine]:
    return list((await session.execute(
        select(OrderLine).where(col(OrderLine.order_id) == order_id).order_by(col(OrderLine.id))
    )).scalars().all())


async def _by_external_id(session: AsyncSession, external_id: str) -> Order | None:
    return (await session.execute(
        select(Order).where(col(Order.external_id) == external_id).execution_options(populate_existing=True)
    )).scalar_one_or_none()


def _fields(incoming: IncomingOrder, external_id: str, placed_at: datetime) -> dict[str, object]:
    """The order's columns as an incoming report sets them (the customer is set once, at creation)."""
    return {
        "number": (incoming.number or external_id).strip().lstrip("#")[:100] or external_id,
        "status": incoming.status.strip()[:40], "total": _cents(incoming.total),
        "currency": incoming.currency.upper(), "placed_at": placed_at, "tracking_url": incoming.tracking_url,
        "store_name": incoming.store_name,
    }


def _line_values(incoming: IncomingOrder) -> list[tuple[str, str, int, Decimal]]:
    return [(line.sku, line.title, line.quantity, _cents(line.price)) for line in incoming.lines]


async def _one_at_a_time(session: AsyncSession, external_id: str) -> None:
    # Shopify sends orders/create and orders/updated for a new order at the same moment. On PostgreSQL
    # both transactions would find no order and each make a customer; this lock (until commit) lets
    # the second find the first's order. SQLite has one writer at a time already.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ORDER_LOCK, {"key": f"order:{external_id}"})


def _is_stale(order: Order, updated_at: datetime | None) -> bool:
    return updated_at is not None and order.source_updated_at is not None and updated_at < order.source_updated_at


def _utc(field_name: str, value: datetime) -> datetime:
    # Read back as UTC, so kept as UTC: the PUT answers with the instant and zone a later GET shows.
    # A naive time would be a guess about the shop's clock, so it is refused.
    if value.tzinfo is None:
        raise Invalid(field_name, "must include a time zone, e.g. 2026-11-23T10:00:00+03:00")
    return value.astimezone(UTC)


def _cents(amount: Decimal) -> Decimal:
    # The columns keep two places; "349.9" is answered as "349.90", as every later read shows it.
    return amount.quantize(_CENT)


async def _customer_for(session: AsyncSession, incoming: IncomingOrder, *, region: str) -> int:
    try:
        customer_id, _ = await customers.for_contact(session, email=incoming.email, phone=incoming.phone,
                                                     name=incoming.name or "", region=region)
    except Invalid as error:
        raise Invalid(f"customer.{error.field}" if error.field in ("email", "phone") else "customer",
                      error.message) from None
    return customer_id
