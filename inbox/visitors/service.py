"""Web chat visitors: who a browser is, whether it is still here, and what it may read.

A visitor only ever reads its own web chat address's messages, found by the identity that address
has, never by a thread or customer id a browser could name. A shopper the shop signed for
(WIDGET_IDENTITY_SECRET) writes from their email, so ingest joins them to the customer who proved
it; an anonymous visitor writes from "visitor:<key>", and what they type into the widget's forms is
only claimed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.customers.addresses import normalize
from inbox.customers.models import Identity
from inbox.errors import DomainError, Invalid
from inbox.events import DeliveryStatus, Direction, Party
from inbox.ingest import resolve_identity
from inbox.messages import service as messages
from inbox.messages.models import Attachment, Message
from inbox.realtime import CATCH_UP_WINDOW
from inbox.visitors.models import Visitor
from inbox.visitors.tokens import new_key, read_ticket, ticket_for, token_for, visitor_of

# New anonymous visitors per client address and hour: a page reloaded all day stays one visitor
# (its token is kept), so only a script minting visitors meets this.
NEW_VISITORS_PER_HOUR = 30
# A socket renews its mark every third of this while it stays open (web/presence.py).
ONLINE_FOR = timedelta(seconds=90)
HISTORY_LIMIT = 100
# An agent's reply shows once the adapter has handed it on; queued ones arrive live when they go.
_SHOWN = [str(s) for s in (DeliveryStatus.sending, DeliveryStatus.sent, DeliveryStatus.delivered,
                           DeliveryStatus.read)]


class TooManyVisitors(DomainError):
    """This client address started too many anonymous chats lately."""


@dataclass(frozen=True, slots=True)
class Started:
    visitor: Visitor
    token: str
    ticket: str


def party(visitor: Visitor) -> Party:
    """Who the visitor's messages come from, as ingest reads it."""
    return Party(visitor.address, AddressKind(visitor.kind), True, visitor.name or None)


def shopper_address(shopper: Party, *, region: str) -> str:
    return normalize(shopper.kind, shopper.address, region=region)


async def start(session: AsyncSession, *, secret: bytes, token: str, shopper: Party | None, client: str,
                region: str, now: datetime) -> Started:
    """The browser's visitor (the one its token names, when that still fits) and a fresh ticket.

    `shopper` is the signed-in shopper the shop signed for, already verified by the adapter. A
    token of a signed-in shopper opens nothing without that signature: on a shared computer the
    next person, signed out, gets a chat of their own.
    """
    known = await _by_key(session, visitor_of(secret, token) or "") if token else None
    if shopper is not None:
        address = shopper_address(shopper, region=region)
        if known is None or not known.verified or known.address != address:
            earlier = known
            known = await _create(session, address=address, kind=shopper.kind, verified=True,
                                  name=shopper.name or "", client=client, now=now)
            if earlier is not None and not earlier.verified:
                await _suggest_same_browser(session, earlier, known, region=region)
        elif shopper.name and shopper.name != known.name:
            known.name = shopper.name[:200]
            session.add(known)
    elif known is not None and known.verified:
        known = None
    if known is None:
        recent = (await session.execute(select(func.count()).select_from(Visitor).where(
            col(Visitor.client) == client, col(Visitor.verified).is_(False),
            col(Visitor.created_at) > now - timedelta(hours=1)))).scalar_one()
        if recent >= NEW_VISITORS_PER_HOUR:
            raise TooManyVisitors(f"more than {NEW_VISITORS_PER_HOUR} new chats from this address in an hour")
        key = new_key()
        known = await _create(session, address=f"visitor:{key}", kind=AddressKind.handle, verified=False,
                              name="", client=client, now=now, key=key)
    number = (await session.execute(
        update(Visitor).where(col(Visitor.id) == known.id).values(tickets_issued=Visitor.tickets_issued + 1)
        .returning(col(Visitor.tickets_issued)))).scalar_one()
    return Started(known, token_for(secret, known.key), ticket_for(secret, known.key, number, now=now))


async def by_token(session: AsyncSession, *, secret: bytes, token: str) -> Visitor | None:
    """The visitor a genuine token names (uploads and forms: they read nothing back)."""
    key = visitor_of(secret, token)
    return await _by_key(session, key) if key else None


async def redeem(session: AsyncSession, *, secret: bytes, ticket: str, now: datetime) -> Visitor | None:
    """The visitor a genuine ticket opens the socket for; None when it is forged, expired or used already."""
    read = read_ticket(secret, ticket, now=now)
    if read is None:
        return None
    key, number = read
    # One conditional UPDATE: of two sockets presenting the same ticket, one wins, whichever process it is on.
    used = await session.execute(update(Visitor).where(
        col(Visitor.key) == key, col(Visitor.ticket_used) < number, col(Visitor.tickets_issued) >= number,
    ).values(ticket_used=number))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await _by_key(session, key)


async def mark_online(session: AsyncSession, visitor_ids: Sequence[int], *, until: datetime | None) -> None:
    if visitor_ids:
        await session.execute(update(Visitor).where(col(Visitor.id).in_(visitor_ids)).values(online_until=until))


async def online(session: AsyncSession, *, address: str, now: datetime) -> bool:
    """Whether a browser writing from this web chat address has its socket open."""
    return (await session.execute(select(col(Visitor.id)).where(
        col(Visitor.address) == address, col(Visitor.online_until) > now).limit(1))).first() is not None


async def identity_of(session: AsyncSession, visitor: Visitor) -> Identity | None:
    """None until the visitor first writes (or fills in a form)."""
    return await customers.find_identity(session, channel=Channel.webchat, address=visitor.address)


async def email_known(session: AsyncSession, identity: Identity | None) -> bool:
    if identity is None:
        return False
    return any(other.kind == AddressKind.email for other in await customers.identities(session, identity.customer_id))


@dataclass(frozen=True, slots=True)
class Seen:
    messages: Sequence[Message]
    attachments: dict[int, list[Attachment]]


async def history(session: AsyncSession, identity: Identity | None, *, after_id: int = 0) -> Seen:
    """What the visitor's widget shows: their web chat messages and the agents' web chat replies to them.

    After a reconnect, everything after `after_id` and a window before it: on PostgreSQL a reply
    can commit after a later message the widget already saw (the same reason as inbox.realtime's).
    """
    if identity is None:
        return Seen([], {})
    query = (select(Message).where(
        col(Message.identity_id) == identity.id, col(Message.channel) == str(Channel.webchat),
        (col(Message.direction) == str(Direction.inbound))
        | ((col(Message.direction) == str(Direction.outbound)) & col(Message.delivery_status).in_(_SHOWN)))
        .order_by(col(Message.id).desc()).limit(HISTORY_LIMIT))
    if after_id:
        query = query.where(col(Message.id) > after_id - CATCH_UP_WINDOW)
    rows = list(reversed((await session.execute(query)).scalars().all()))
    rows.sort(key=lambda m: (m.at, m.id or 0))
    return Seen(rows, await messages.attachments_for(session, [m.id or 0 for m in rows]))


async def give_contact(session: AsyncSession, visitor: Visitor, *, name: str, email: str, phone: str,
                       region: str) -> Identity:
    """What the visitor typed into the pre-chat or offline form: a name, and claimed addresses.

    Claimed means never joined on its own: an address someone else has proven only suggests a merge.
    """
    if not (name.strip() or email.strip() or phone.strip()):
        raise Invalid("email", "give a name, an email address or a phone number")
    identity = await resolve_identity(session, Channel.webchat, party(visitor), region=region)
    if name.strip():
        visitor.name = " ".join(name.split())[:200]
        session.add(visitor)
        if not await customers.name_of(session, identity.customer_id):
            await customers.rename(session, identity.customer_id, name=visitor.name)
    for kind, raw in ((AddressKind.email, email), (AddressKind.phone, phone)):
        if raw.strip():
            await customers.attach_claimed(session, customer_id=identity.customer_id, kind=kind, raw=raw,
                                           channel=Channel.webchat, region=region)
    return identity


async def _create(session: AsyncSession, *, address: str, kind: str, verified: bool, name: str, client: str,
                  now: datetime, key: str | None = None) -> Visitor:
    visitor = Visitor(key=key or new_key(), address=address, kind=str(kind), verified=verified, name=name[:200],
                      client=client[:64], created_at=now)
    session.add(visitor)
    await session.flush()
    return visitor


async def _by_key(session: AsyncSession, key: str) -> Visitor | None:
    return (await session.execute(
        select(Visitor).where(col(Visitor.key) == key).execution_options(populate_existing=True)
    )).scalar_one_or_none()


async def _suggest_same_browser(session: AsyncSession, anonymous: Visitor, signed: Visitor, *, region: str) -> None:
    # The browser chatted anonymously, then its shopper signed in: likely one person, but a shared
    # computer is possible, so an agent decides.
    before = await identity_of(session, anonymous)
    if before is None:
        return
    after = await resolve_identity(session, Channel.webchat, party(signed), region=region)
    await customers.suggest(session, customer_id=before.customer_id, other_id=after.customer_id,
                            reason=f"the same browser chatted before signing in as {signed.address}")
