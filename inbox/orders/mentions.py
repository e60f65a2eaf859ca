"""Order numbers a customer writes into a message ("#1042", "sipariş 1042", "order no: 1042").

Only the customer's own orders count: a number that is someone else's order stays plain text, so
a shopper typing a stranger's number is never shown (or sent, through a canned reply) that order.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.events import Direction
from inbox.messages.models import Message
from inbox.orders.models import Order

# A word for "order" (Turkish with or without its letters, English), an optional "no"/"numarası"
# and colon, then the number; or a bare "#1042". IGNORECASE folds "SİPARİŞ" too (Python matches
# İ/ı against i/I case-insensitively). A suffix after an apostrophe ("1042'yi") ends the number.
_MENTION = re.compile(
    r"(?<![\w#])(?:(?:sipari[sş](?:im|in)?|order)\s*(?:(?:no|numaras[ıi]|number|nr)\.?\s*)?:?\s*#?\s*|#)"
    r"(?P<number>\d{1,12})(?!\d)",
    re.IGNORECASE,
)
# How far back the canned-reply variables look for a mentioned order.
RECENT_INBOUND = 50


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    number: str


def spans(text: str) -> list[Span]:
    """Where each order mention is in `text` (the whole phrase) and the number it names."""
    return [Span(found.start(), found.end(), found.group("number")) for found in _MENTION.finditer(text)]


def parts(text: str, orders: Mapping[str, int]) -> list[tuple[str, int | None]]:
    """The text cut into (piece, order id or None) so a template can link mentions and escape the rest.

    `orders` maps the customer's order numbers to ids; a mention of any other number stays text.
    """
    pieces: list[tuple[str, int | None]] = []
    at = 0
    for span in spans(text):
        order_id = orders.get(span.number)
        if order_id is None:
            continue
        if span.start > at:
            pieces.append((text[at:span.start], None))
        pieces.append((text[span.start:span.end], order_id))
        at = span.end
    if at < len(text) or not pieces:
        pieces.append((text[at:], None))
    return pieces


def numbers_in(texts: Iterable[str]) -> set[str]:
    return {span.number for text in texts for span in spans(text)}


_NUMBERED = select(Order).where(col(Order.customer_id) == bindparam("customer_id"),
                                col(Order.number).in_(bindparam("numbers", expanding=True))).order_by(col(Order.id))


async def of_customer(session: AsyncSession, customer_id: int, numbers: Iterable[str]) -> list[Order]:
    """The customer's orders with these numbers."""
    wanted = sorted(set(numbers))
    if not wanted:
        return []
    return list((await session.execute(_NUMBERED, {"customer_id": customer_id, "numbers": wanted})).scalars().all())


async def last_mentioned(session: AsyncSession, *, customer_id: int, thread_id: int) -> Order | None:
    """The customer's order they mentioned most recently in the thread (their own messages only)."""
    texts: Sequence[str] = (await session.execute(
        select(col(Message.text)).where(col(Message.thread_id) == thread_id,
                                        col(Message.direction) == str(Direction.inbound))
        .order_by(col(Message.at).desc(), col(Message.id).desc()).limit(RECENT_INBOUND))).scalars().all()
    mentioned = [[span.number for span in reversed(spans(text or ""))] for text in texts]
    found = {order.number: order for order in await of_customer(
        session, customer_id, [number for numbers in mentioned for number in numbers])}
    for numbers in mentioned:
        for number in numbers:
            if number in found:
                return found[number]
    return None
