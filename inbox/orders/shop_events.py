"""A shop's order webhooks, applied once each: dedupe → order or refund, in one transaction."""

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.errors import Invalid
from inbox.events import IncomingOrder, OrderReported, ShopEvent
from inbox.orders import service as orders
from inbox.orders.service import Outcome
from inbox.processed_events import first_time


async def apply(session: AsyncSession, event: ShopEvent, *, region: str) -> Outcome | None:
    """What the event did; None when it was applied before (a retry or a replay), and then nothing is.

    The event's key is written by the same transaction as the order, so a crash keeps both or neither."""
    if not await first_time(session, source=event.source, event_id=event.event_id, topic=event.topic):
        return None
    if isinstance(event, OrderReported):
        incoming = event.order
        if not (incoming.email or incoming.phone) and await orders.find(session, incoming.external_id) is None:
            # A till sale to a walk-in: no one to show it to. Refusing it would only make the shop retry.
            return Outcome.ignored
        return await _apply_readable(session, incoming, region=region)
    return await orders.record_refund(session, order_external_id=event.order_external_id, refund_id=event.refund_id,
                                      amount=event.amount, at=event.at)


async def _apply_readable(session: AsyncSession, incoming: IncomingOrder, *, region: str) -> Outcome:
    """A retry cannot mend what a shopper typed: with one address unreadable (a phone of "ara beni")
    the other still finds the customer, rather than the shop retrying for hours to a 400."""
    try:
        async with session.begin_nested():
            return await orders.apply(session, incoming, region=region)
    except Invalid as error:
        if error.field == "customer.phone" and incoming.email:
            return await orders.apply(session, replace(incoming, phone=None), region=region)
        if error.field == "customer.email" and incoming.phone:
            return await orders.apply(session, replace(incoming, email=None), region=region)
        raise
