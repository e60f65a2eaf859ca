"""A shop's order webhooks, applied once each: dedupe → order or refund, in one transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.events import OrderReported, ShopEvent
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
        return await orders.apply(session, incoming, region=region)
    return await orders.record_refund(session, order_external_id=event.order_external_id, refund_id=event.refund_id,
                                      amount=event.amount, at=event.at)
