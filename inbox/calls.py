"""Calls and conversations at the counter, logged by staff into the customer's thread.

A logged call is a note (never sent, never reopening a case) on the phone channel, with what
happened in extra["call"]. A number staff confirmed with the caller is proven, as a WhatsApp sender
is: it becomes a verified phone identity, and a customer who proved the same number elsewhere is
the same person, so the two are merged (undoably) and the call lands in that one thread. A number
nobody confirmed is only claimed: at most a merge suggestion.
"""

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.channels import AddressKind, Channel
from inbox.customers import merge
from inbox.customers import service as customers
from inbox.customers.addresses import normalize_phone
from inbox.errors import Invalid
from inbox.events import Direction
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.replies import MAX_TEXT
from inbox.threads import service as threads

# Four hours: a longer "call" is a typo in the minutes field.
MAX_MINUTES = 240


class CallKind(StrEnum):
    incoming = "incoming"
    outgoing = "outgoing"
    in_person = "in_person"


class Outcome(StrEnum):
    resolved = "resolved"
    follow_up = "follow_up"
    callback = "callback"
    no_answer = "no_answer"
    voicemail = "voicemail"


async def log_call(session: AsyncSession, *, customer_id: int | None, kind: CallKind, number: str, confirmed: bool,
                   minutes: int | None, summary: str, outcome: Outcome, region: str, author_user_id: int | None,
                   author_name: str, actor: str) -> Message:
    """Write the call into the thread it belongs to; returns the note (its thread_id says which thread).

    `customer_id` is the customer on screen, or None when staff start from the number alone: then the
    number says whose thread it is (its proven owner, else whoever gave it, else a new customer).
    """
    text = summary.strip()
    if not text:
        raise Invalid("summary", "say what was talked about")
    if len(text) > MAX_TEXT:
        raise Invalid("summary", f"longer than {MAX_TEXT} characters")
    if minutes is not None and not 0 <= minutes <= MAX_MINUTES:
        raise Invalid("minutes", f"between 0 and {MAX_MINUTES}")
    address = _phone(number, region) if number.strip() else None
    if address is None and (kind != CallKind.in_person or customer_id is None):
        raise Invalid("number", "a call needs the number it was with")
    if customer_id is not None:
        customer_id = (await customers.get(session, customer_id)).id
    if address is not None:
        customer_id = await (_prove(session, customer_id, address, number.strip(), actor=actor) if confirmed
                             else _claim(session, customer_id, address, number.strip(), region=region))
    assert customer_id is not None
    thread = await threads.for_customer(session, customer_id)
    call = {"kind": str(kind), "number": address, "confirmed": bool(confirmed and address),
            "seconds": None if minutes is None else minutes * 60, "outcome": str(outcome)}
    message_id = await messages.append(session, thread, messages.NewMessage(
        direction=Direction.note, channel=Channel.phone, text=text, author_type="agent",
        author_user_id=author_user_id, author_name=author_name, extra={"call": call}))
    return await messages.get(session, message_id or 0)


def _phone(number: str, region: str) -> str:
    try:
        return normalize_phone(number, region)
    except Invalid:
        raise Invalid("number", f"not a phone number: {number.strip()!r}") from None


async def _prove(session: AsyncSession, customer_id: int | None, address: str, display: str, *,
                 actor: str) -> int:
    owner = await customers.verified_owner(session, kind=AddressKind.phone, address=address)
    if owner is not None:
        owner = (await customers.get(session, owner)).id or owner
    if customer_id is None:
        customer_id = owner
    elif owner is not None and owner != customer_id:
        # The older customer survives, as when a customer shares their own contact (inbox.ingest).
        survivor, absorbed = sorted((owner, customer_id))
        await merge.merge(session, survivor_id=survivor, absorbed_id=absorbed, actor=actor)
        customer_id = survivor
    identity = await customers.find_identity(session, channel=Channel.phone, address=address)
    if identity is None:
        if customer_id is None:
            customer_id = (await customers.create(session)).id or 0
        await customers.add_identity(session, customer_id=customer_id, channel=Channel.phone,
                                     kind=AddressKind.phone, address=address, verified=True, display=display)
        return customer_id
    if customer_id is None:
        customer_id = identity.customer_id
    typist = identity.customer_id
    if typist != customer_id or not identity.verified:
        # Typed before (an order's checkout, a form), proven now: the caller takes the number and
        # whoever typed it keeps a suggestion, as inbox.ingest does when a claimed address writes.
        identity.customer_id, identity.verified = customer_id, True
        session.add(identity)
        await session.flush()
        if typist != customer_id:
            await customers.suggest(session, customer_id=customer_id, other_id=typist,
                                    reason=f"phone {address} was typed by this customer")
            await customers.reindex(session, typist)
        await customers.reindex(session, customer_id)
    return customer_id


async def _claim(session: AsyncSession, customer_id: int | None, address: str, display: str, *,
                 region: str) -> int:
    if customer_id is None:
        owner = await customers.verified_owner(session, kind=AddressKind.phone, address=address)
        known = owner or next(iter(await customers.claimed_owners(session, kind=AddressKind.phone,
                                                                   address=address)), None)
        if known is not None:
            return (await customers.get(session, known)).id or known
        customer_id = (await customers.create(session)).id or 0
    if await customers.find_identity(session, channel=Channel.phone, address=address) is None:
        await customers.attach_claimed(session, customer_id=customer_id, kind=AddressKind.phone, raw=display,
                                       channel=Channel.phone, region=region)
    return customer_id
