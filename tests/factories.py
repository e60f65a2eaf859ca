"""Rows that no inbound event creates, written as the services would write them.

Customers, threads and messages come through inbox.ingest in tests, so these stay few.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.db import utcnow
from inbox.orders.models import Order
from inbox.preferences.models import Consent, Preference
from inbox.search import index_document


async def make_order(session: AsyncSession, *, customer_id: int, external_id: str, number: str | None = None,
                     status: str = "paid", total: str = "0", currency: str = "TRY",
                     placed_at: datetime | None = None) -> Order:
    order = Order(external_id=external_id, number=number or external_id, customer_id=customer_id, status=status,
                  total=Decimal(total), currency=currency, placed_at=placed_at)
    session.add(order)
    await session.flush()
    # Orders are found by number in the search box, so they carry a search document like messages.
    await index_document(session, kind="order", ref_id=order.id or 0, customer_id=customer_id,
                         text=f"{order.number} {external_id}", at=placed_at or utcnow())
    return order


async def make_preference(session: AsyncSession, *, customer_id: int, key: str, value: str, source: str = "agent",
                          source_channel: str | None = None, stated_at: datetime | None = None) -> Preference:
    preference = Preference(customer_id=customer_id, key=key, value=value, source=source,
                            source_channel=source_channel, stated_at=stated_at or utcnow())
    session.add(preference)
    await session.flush()
    return preference


async def make_consent(session: AsyncSession, *, customer_id: int, channel: str, purpose: str = "marketing",
                       granted: bool = True, source: str = "stated",
                       recorded_at: datetime | None = None) -> Consent:
    consent = Consent(customer_id=customer_id, channel=channel, purpose=purpose, granted=granted, source=source,
                      recorded_at=recorded_at or utcnow())
    session.add(consent)
    await session.flush()
    return consent
