"""The store counter's lookup: a customer found by phone (any format), email, name or order number,
and every look recorded in the audit log, since store staff see whole histories without being agents."""

from sqlalchemy.ext.asyncio import AsyncSession

from inbox import audit
from inbox.customers import profile
from inbox.customers import service as customers
from inbox.customers.profile import Profile
from inbox.threads import conversation
from inbox.threads import service as threads
from inbox.threads.conversation import Conversation

RESULTS = 20


async def look_up(session: AsyncSession, q: str, *, region: str, actor: str) -> list[Profile]:
    found = await profile.search(session, q, region=region, limit=RESULTS) if q.strip() else []
    await audit.record(session, actor=actor, action="store.lookup", subject_type="search", subject_id=None,
                       data={"q": q.strip()[:200], "customer_ids": [p.customer.id for p in found]})
    return found


async def open_card(session: AsyncSession, customer_id: int, *, actor: str, before: str | None = None) -> Conversation:
    """The customer's card and their one thread, newest page first (or the page `before` a cursor)."""
    customer = await customers.get(session, customer_id)
    thread = await threads.for_customer(session, customer.id or 0)
    await audit.record(session, actor=actor, action="store.view", subject_type="customer", subject_id=customer.id,
                       data={"asked_for": customer_id} if customer_id != customer.id else {})
    return await conversation.load(session, thread, before=before)
