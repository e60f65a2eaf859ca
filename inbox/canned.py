"""Canned responses: saved replies an agent drops into the composer, with the customer's details filled in.

Variables are written `{{customer.first_name}}`, `{{order.number}}`, `{{order.status}}` (the
order the customer last mentioned in the thread, else their newest), and `{{preference.<key>}}` for
any preference the customer shared (`{{preference.language}}`, `{{preference.size}}`). A variable
with no value (no orders yet, a preference never stated) stays visible as written, so the agent sees
what to fill in by hand instead of sending a blank.
"""

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import CannedResponse
from inbox.customers.models import Customer
from inbox.errors import Conflict, Invalid, NotFound
from inbox.orders import mentions as order_mentions
from inbox.orders.models import Order
from inbox.preferences.service import for_customer as preferences_of
from inbox.threads.models import Thread

VARIABLES = ("customer.first_name", "customer.name", "order.number", "order.status")
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
_SHORTCUT = re.compile(r"^[\w-]{1,60}$")
# Any well-formed key: which preferences a customer has is only known when the response is used.
_PREFERENCE = "preference."


def _known(name: str) -> bool:
    return name in VARIABLES or name.startswith(_PREFERENCE)


def _checked(shortcut: str, body: str) -> tuple[str, str]:
    shortcut = shortcut.strip().lstrip("/")
    if not _SHORTCUT.match(shortcut):
        raise Invalid("shortcut", "use letters, digits, - or _ (up to 60)")
    if not body.strip():
        raise Invalid("body", "must not be empty")
    if unknown := sorted({name for name in _VARIABLE.findall(body) if not _known(name)}):
        raise Invalid("body", f"unknown variable {{{{{unknown[0]}}}}}; known: {', '.join(VARIABLES)}, preference.<key>")
    return shortcut, body


async def all_responses(session: AsyncSession) -> list[CannedResponse]:
    return list((await session.execute(select(CannedResponse).order_by(col(CannedResponse.shortcut)))).scalars())


async def get(session: AsyncSession, response_id: int) -> CannedResponse:
    found = await session.get(CannedResponse, response_id)
    if found is None:
        raise NotFound("canned response", response_id)
    return found


async def save(session: AsyncSession, *, shortcut: str, title: str, body: str,
               response_id: int | None = None) -> CannedResponse:
    """Create, or with response_id update; shortcuts are unique."""
    shortcut, body = _checked(shortcut, body)
    clash = select(col(CannedResponse.id)).where(col(CannedResponse.shortcut) == shortcut)
    if response_id is not None:
        clash = clash.where(col(CannedResponse.id) != response_id)
    if (await session.execute(clash)).first():
        raise Conflict(f"the shortcut /{shortcut} is taken")
    response = await get(session, response_id) if response_id is not None else CannedResponse(shortcut=shortcut)
    response.shortcut, response.title, response.body = shortcut, title.strip()[:200], body
    session.add(response)
    await session.flush()
    return response


async def remove(session: AsyncSession, response_id: int) -> None:
    await get(session, response_id)
    await session.execute(delete(CannedResponse).where(col(CannedResponse.id) == response_id))


def fill(body: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or m.group(0), body)


async def values_for(session: AsyncSession, customer_id: int) -> dict[str, str]:
    customer = await session.get(Customer, customer_id)
    name = customer.name.strip() if customer else ""
    order = await _order_for(session, customer_id)
    values = {"customer.name": name, "customer.first_name": name.split()[0] if name else ""}
    if order is not None:
        values |= {"order.number": order.number, "order.status": order.status}
    return values | await _preference_values(session, customer_id)


async def _preference_values(session: AsyncSession, customer_id: int) -> dict[str, str]:
    # Only what the customer shared (or an agent recorded): nothing is guessed or defaulted.
    return {f"{_PREFERENCE}{p.key}": p.value for p in await preferences_of(session, customer_id)}


async def _order_for(session: AsyncSession, customer_id: int) -> Order | None:
    # "Where is my order 1042?" is answered about 1042, even when a newer order exists.
    thread_id = (await session.execute(
        select(col(Thread.id)).where(col(Thread.customer_id) == customer_id))).scalar_one_or_none()
    mentioned = None if thread_id is None else await order_mentions.last_mentioned(
        session, customer_id=customer_id, thread_id=thread_id)
    return mentioned or (await session.execute(
        select(Order).where(col(Order.customer_id) == customer_id)
        .order_by(col(Order.placed_at).desc(), col(Order.id).desc()).limit(1))).scalar_one_or_none()
