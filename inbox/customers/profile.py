"""Everything shown beside a thread, loaded in one call: the customer's whole picture."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

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
    preferences: Sequence[Preference]
    # The consent in force per (channel, purpose).
    consents: Sequence[Consent]
    thread: Thread
    suggestions: Sequence[MergeSuggestion]


async def load(session: AsyncSession, customer_id: int) -> Profile:
    customer = await customers.get(session, customer_id)
    survivor = customer.id or 0
    return Profile(
        customer=customer,
        identities=await customers.identities(session, survivor),
        orders=await orders.for_customer(session, survivor),
        preferences=await preferences.for_customer(session, survivor),
        consents=await preferences.consents_in_force(session, survivor),
        thread=await threads.for_customer(session, survivor),
        suggestions=await customers.open_suggestions(session, survivor),
    )


async def search(session: AsyncSession, q: str, *, region: str, limit: int = 20) -> list[Profile]:
    return [await load(session, c.id or 0) for c in await customers.lookup(session, q, region=region, limit=limit)]
