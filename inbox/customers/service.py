import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import audit
from inbox.channels import AddressKind, Channel
from inbox.customers.addresses import looks_like_phone, normalize, normalize_email, normalize_phone
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.db import BulkUpdate, UTCDateTime, insert_ignore, insert_many, table_of, utcnow
from inbox.errors import Conflict, Invalid, NotFound
from inbox.orders.models import Order
from inbox.search import Document, SearchDoc, index_document, index_documents
from inbox.threads.models import Thread
from inbox.threads.service import create_many as create_many_threads
from inbox.threads.service import ensure_thread

# An absorbed customer points at its survivor; chains form when survivors are merged again.
_MAX_ABSORB_CHAIN = 50


async def get(session: AsyncSession, customer_id: int) -> Customer:
    """The customer, following merges: an absorbed id answers with the survivor."""
    for _ in range(_MAX_ABSORB_CHAIN):
        customer = await session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        if customer.absorbed_into_id is None:
            return customer
        customer_id = customer.absorbed_into_id
    raise NotFound("customer", customer_id)


_NAME_OF = select(table_of(Customer).c.name).where(table_of(Customer).c.id == bindparam("customer_id"))


async def name_of(session: AsyncSession, customer_id: int) -> str:
    """Just the name, without loading the customer: asked for every inbound message."""
    return str((await session.execute(_NAME_OF, {"customer_id": customer_id})).scalar_one_or_none() or "")


async def create(session: AsyncSession, *, name: str = "") -> Customer:
    customer = Customer(name=name.strip()[:200])
    session.add(customer)
    await session.flush()
    assert customer.id is not None
    await ensure_thread(session, customer_id=customer.id)
    return customer


@dataclass(frozen=True, slots=True)
class Newcomer:
    """Someone writing for the first time, from an address no identity has on any channel."""

    name: str
    channel: Channel | str
    kind: AddressKind | str
    address: str
    verified: bool
    display: str


@dataclass(frozen=True, slots=True)
class Created:
    customer_id: int
    identity_id: int
    thread_id: int


async def create_many(session: AsyncSession, newcomers: Sequence[Newcomer]) -> list[Created] | None:
    """create(), add_identity() and reindex() for each newcomer, a statement per table for all of them.

    None when another transaction took one of the addresses first: what was written is only good for
    a rollback then.
    """
    if not newcomers:
        return []
    now = utcnow()
    names = [newcomer.name.strip()[:200] for newcomer in newcomers]
    customer_ids = [int(row.id) for row in await insert_many(session, Customer, [
        {"name": name, "note": "", "created_at": now, "updated_at": now} for name in names], returning=("id",))]
    thread_ids = await create_many_threads(session, customer_ids)
    identity_ids = [int(row.id) for row in await insert_many(session, Identity, [
        {"customer_id": customer_id, "channel": str(newcomer.channel), "kind": str(newcomer.kind),
         "address": newcomer.address, "verified": newcomer.verified,
         "display": newcomer.display or newcomer.address, "created_at": now}
        for newcomer, customer_id in zip(newcomers, customer_ids, strict=True)],
        returning=("id",), conflict=("channel", "address"))]
    if len(identity_ids) != len(newcomers):
        return None
    await index_documents(session, [
        Document("customer", customer_id, customer_id,
                 _searched(name, [(newcomer.display or newcomer.address, newcomer.address)]), now)
        for newcomer, name, customer_id in zip(newcomers, names, customer_ids, strict=True)])
    return [Created(*ids) for ids in zip(customer_ids, identity_ids, thread_ids, strict=True)]


async def identities(session: AsyncSession, customer_id: int) -> Sequence[Identity]:
    return (await session.execute(
        select(Identity).where(col(Identity.customer_id) == customer_id).order_by(col(Identity.id))
    )).scalars().all()


_IDENTITY_AT = select(Identity).where(col(Identity.channel) == bindparam("channel"),
                                     col(Identity.address) == bindparam("address"))


async def find_identity(session: AsyncSession, *, channel: Channel | str, address: str) -> Identity | None:
    return (await session.execute(_IDENTITY_AT, {"channel": str(channel), "address": address})).scalar_one_or_none()


async def verified_owner(session: AsyncSession, *, kind: AddressKind | str, address: str) -> int | None:
    """The customer who proved this phone or email on any channel, if anyone did."""
    return (await session.execute(
        select(col(Identity.customer_id))
        .where(col(Identity.kind) == kind, col(Identity.address) == address, col(Identity.verified).is_(True))
        .order_by(col(Identity.id)).limit(1)
    )).scalar_one_or_none()


async def claimed_owners(session: AsyncSession, *, kind: AddressKind | str, address: str) -> list[int]:
    """The customers who typed this phone or email without proving it, on any channel."""
    return sorted(set((await session.execute(
        select(col(Identity.customer_id))
        .where(col(Identity.kind) == kind, col(Identity.address) == address, col(Identity.verified).is_(False))
    )).scalars().all()))


async def add_identity(session: AsyncSession, *, customer_id: int, channel: Channel | str,
                       kind: AddressKind | str, address: str, verified: bool, display: str = "") -> Identity | None:
    """Insert the identity unless (channel, address) exists; returns None when it already did."""
    statement = insert_ignore(session, Identity, conflict=("channel", "address"), returning=("id",))
    row_id = (await session.execute(statement, {
        "customer_id": customer_id, "channel": str(channel), "kind": str(kind), "address": address,
        "verified": verified, "display": display or address, "created_at": utcnow(),
    })).scalar_one_or_none()
    if row_id is None:
        return None
    await reindex(session, customer_id)
    return await session.get(Identity, row_id)


async def attach_claimed(session: AsyncSession, *, customer_id: int, kind: AddressKind, raw: str,
                         channel: Channel, region: str) -> Identity | None:
    """An address the customer typed (a pre-chat form): never merges, at most suggests one."""
    address = normalize(kind, raw, region=region)
    owner = await verified_owner(session, kind=kind, address=address)
    if owner is not None and owner != customer_id:
        await suggest(session, customer_id=customer_id, other_id=owner,
                      reason=f"typed {kind} {address}, which another customer has verified")
        return None
    return await add_identity(session, customer_id=customer_id, channel=channel, kind=kind,
                              address=address, verified=False, display=raw)


async def for_contact(session: AsyncSession, *, email: str | None, phone: str | None, name: str = "",
                      region: str) -> tuple[int, bool]:
    """Whom a shop's record (an order, an imported row) is about: the customer who proved this email or
    phone, else one who gave it, else a new one; and whether that one is new.

    The shop did not prove the addresses to us, so a new customer's identities are claimed: a chat
    from that number later suggests a merge rather than making one silently.
    """
    clean_email = normalize_email(email) if email and email.strip() else None
    clean_phone = normalize_phone(phone, region) if phone and phone.strip() else None
    if clean_email is None and clean_phone is None:
        raise Invalid("customer", "needs an email or a phone number")
    addresses = [(AddressKind.email, Channel.email, clean_email), (AddressKind.phone, Channel.phone, clean_phone)]
    for kind, _, address in addresses:
        if address is not None and (owner := await verified_owner(session, kind=kind, address=address)):
            return (await get(session, owner)).id or owner, False
    for _, channel, address in addresses:
        if address is not None and (identity := await find_identity(session, channel=channel, address=address)):
            return (await get(session, identity.customer_id)).id or identity.customer_id, False
    customer = await create(session, name=name)
    customer_id = customer.id or 0
    for kind, channel, address in addresses:
        if address is not None:
            with contextlib.suppress(Invalid):
                await attach_claimed(session, customer_id=customer_id, kind=kind, channel=channel,
                                     raw=address, region=region)
    return customer_id, True


async def suggest(session: AsyncSession, *, customer_id: int, other_id: int, reason: str) -> None:
    first, second = sorted((customer_id, other_id))
    if first == second:
        return
    await session.execute(insert_ignore(session, MergeSuggestion, conflict=("customer_id", "other_id")), {
        "customer_id": first, "other_id": second, "reason": reason[:300], "status": "open", "created_at": utcnow(),
    })


async def open_suggestions(session: AsyncSession, customer_id: int) -> Sequence[MergeSuggestion]:
    return (await session.execute(
        select(MergeSuggestion).where(
            col(MergeSuggestion.status) == "open",
            or_(col(MergeSuggestion.customer_id) == customer_id, col(MergeSuggestion.other_id) == customer_id),
        ).order_by(col(MergeSuggestion.id))
    )).scalars().all()


async def dismiss_suggestion(session: AsyncSession, suggestion_id: int, *, actor: str) -> MergeSuggestion:
    """An agent says these two are different people: the suggestion is closed, and stays as a record."""
    suggestion = await session.get(MergeSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound("merge suggestion", suggestion_id)
    if suggestion.status != "open":
        raise Conflict(f"this suggestion was already {suggestion.status}")
    suggestion.status, suggestion.decided_at = "dismissed", utcnow()
    session.add(suggestion)
    await session.flush()
    await audit.record(session, actor=actor, action="suggestion.dismissed", subject_type="customer",
                       subject_id=suggestion.customer_id, data={"suggestion_id": suggestion_id,
                                                                "other_id": suggestion.other_id})
    return suggestion


async def rename(session: AsyncSession, customer_id: int, *, name: str) -> Customer:
    customer = await get(session, customer_id)
    clean = " ".join(name.split())
    if not clean:
        raise Invalid("name", "must not be empty")
    customer.name = clean[:200]
    customer.updated_at = utcnow()
    session.add(customer)
    await session.flush()
    await reindex(session, customer.id or 0)
    return customer


async def unnamed(session: AsyncSession, customer_ids: Collection[int]) -> set[int]:
    """Those of these customers who still have no name and were not merged into someone else."""
    if not customer_ids:
        return set()
    return {int(customer_id or 0) for customer_id in (await session.execute(
        select(col(Customer.id)).where(col(Customer.id).in_(sorted(set(customer_ids))), col(Customer.name) == "",
                                       col(Customer.absorbed_into_id).is_(None))
    )).scalars().all()}


@dataclass(frozen=True, slots=True)
class Named:
    customer_id: int
    thread_id: int
    name: str


async def name_if_unknown(session: AsyncSession, names: Mapping[int, str]) -> list[Named]:
    """Give each customer still without a name the one given, in one statement, and reindex them;
    a name an agent typed meanwhile is kept. Returns those named, by customer id."""
    clean = {customer_id: " ".join(name.split())[:200] for customer_id, name in names.items()}
    clean = {customer_id: name for customer_id, name in clean.items() if name}
    if not clean:
        return []
    # Core, not ORM: the ORM's UPDATE would also evaluate its WHERE against every loaded Customer.
    table = table_of(Customer)
    named = {int(customer_id) for customer_id in (await session.execute(
        update(table)
        .where(table.c.id.in_(sorted(clean)), table.c.name == "", table.c.absorbed_into_id.is_(None))
        .values(name=case(clean, value=table.c.id), updated_at=utcnow())
        .returning(table.c.id)
    )).scalars().all()}
    if not named:
        return []
    await _reindex_many(session, sorted(named))
    return [Named(int(row[0]), int(row[1] or 0), clean[int(row[0])]) for row in (await session.execute(
        select(col(Thread.customer_id), col(Thread.id)).where(col(Thread.customer_id).in_(sorted(named)))
        .order_by(col(Thread.customer_id))
    )).all()]


async def _reindex_many(session: AsyncSession, customer_ids: Sequence[int]) -> None:
    """reindex() for many customers: a statement per table for all of them."""
    found = (await session.execute(
        select(col(Customer.id), col(Customer.name), col(Customer.created_at))
        .where(col(Customer.id).in_(customer_ids)))).all()
    addresses: dict[int, list[tuple[str, str]]] = {}
    for customer_id, display, address in (await session.execute(
            select(col(Identity.customer_id), col(Identity.display), col(Identity.address))
            .where(col(Identity.customer_id).in_(customer_ids)).order_by(col(Identity.id)))).all():
        addresses.setdefault(int(customer_id), []).append((display, address))
    await session.execute(delete(SearchDoc).where(col(SearchDoc.kind) == "customer",
                                                  col(SearchDoc.ref_id).in_(customer_ids)))
    await index_documents(session, [
        Document("customer", int(row[0] or 0), int(row[0] or 0), _searched(row[1], addresses.get(int(row[0] or 0), [])),
                 row[2])
        for row in found])


async def set_note(session: AsyncSession, customer_id: int, *, note: str) -> Customer:
    """What every agent should know about the customer: free text, kept as typed."""
    customer = await get(session, customer_id)
    customer.note = note.strip()[:5000]
    customer.updated_at = utcnow()
    session.add(customer)
    await session.flush()
    return customer


async def reindex(session: AsyncSession, customer_id: int) -> None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return
    addresses = [(i.display, i.address) for i in await identities(session, customer_id)]
    await index_document(session, kind="customer", ref_id=customer_id, customer_id=customer_id,
                         text=_searched(customer.name, addresses), at=customer.created_at, replace=True)


def _searched(name: str, identities: Sequence[tuple[str, str]]) -> str:
    """What finds a customer: their name, and each identity as shown and as stored."""
    return " ".join([name, *(f"{display} {address}" for display, address in identities)])


async def lookup(session: AsyncSession, q: str, *, region: str, limit: int = 20) -> list[Customer]:
    """Phone in any format, email, order number, else name: what a person types into one box."""
    text = q.strip()
    if not text:
        return []
    ids: list[int] = []
    if "@" in text:
        with contextlib.suppress(Invalid):
            ids += await ids_by_address(session, AddressKind.email, normalize_email(text))
    if looks_like_phone(text):
        with contextlib.suppress(Invalid):
            ids += await ids_by_address(session, AddressKind.phone, normalize_phone(text, region))
    number = text.lstrip("#").strip()
    if number:
        ids += (await session.execute(
            select(col(Order.customer_id))
            .where(or_(col(Order.number) == number, col(Order.external_id) == number)).limit(limit)
        )).scalars().all()
    if not ids:
        from inbox.search import search_customer_ids

        ids += await search_customer_ids(session, text, limit=limit)
    seen: dict[int, Customer] = {}
    for customer_id in ids:
        customer = await get(session, customer_id)
        seen.setdefault(customer.id or 0, customer)
    return list(seen.values())[:limit]


async def ids_by_address(session: AsyncSession, kind: AddressKind, address: str) -> list[int]:
    return list((await session.execute(
        select(col(Identity.customer_id)).where(col(Identity.kind) == kind, col(Identity.address) == address)
    )).scalars().all())


async def count(session: AsyncSession) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Customer).where(col(Customer.absorbed_into_id).is_(None))
    )).scalar_one())


_IDENTITIES = table_of(Identity)
_TOUCH_INBOUND = BulkUpdate(_IDENTITIES, where=("id", "identity_id"),
                            params={"identity_id": Integer(), "at": UTCDateTime()},
                            assign=lambda row: {"last_inbound_at": row.at})


async def touch_inbound(session: AsyncSession, identity_id: int, at: datetime) -> None:
    await touch_inbound_many(session, [(identity_id, at)])


async def touch_inbound_many(session: AsyncSession, touches: Sequence[tuple[int, datetime]]) -> None:
    """Start each identity's messaging window; for one identity touched twice, the later touch wins."""
    # Core, not ORM: the ORM's UPDATE would also sync every loaded Identity, once per message.
    # One row each, in id order: concurrent ingest transactions on PostgreSQL lock the same rows
    # in the same order, so they wait for each other instead of deadlocking.
    latest = dict(touches)
    if latest:
        await _TOUCH_INBOUND.run(session, [{"identity_id": identity_id, "at": latest[identity_id]}
                                           for identity_id in sorted(latest)])
