"""The only way in: every adapter's events pass through ingest(), in one transaction.

dedupe on (channel, provider id) → resolve the identity → its customer → the customer's thread →
reopen the case → append → live event (published after commit).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.channels import AddressKind, Channel
from inbox.customers import links, merge
from inbox.customers import service as customers
from inbox.customers.addresses import normalize
from inbox.customers.models import Identity
from inbox.db import utcnow
from inbox.errors import Invalid, NotFound
from inbox.events import (
    ContactShared,
    DeliveryUpdate,
    DeliveryWatermark,
    Direction,
    InboundEvent,
    InboundMessage,
    IncomingFile,
    LinkOpened,
    MessageEdited,
    Party,
)
from inbox.files import FileStore
from inbox.messages import service as messages
from inbox.text import sanitize_html
from inbox.threads import service as threads

MATCHABLE = (AddressKind.phone, AddressKind.email)


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class Ingested:
    outcome: str  # stored | duplicate | updated | held | ignored
    message_id: int | None = None
    customer_id: int | None = None
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class IngestConfig:
    region: str
    files: FileStore
    # LINK_SECRET: checks the payloads of LinkOpened; empty, and every link is an ordinary message.
    link_secret: str = ""


async def ingest(session: AsyncSession, event: InboundEvent, *, config: IngestConfig) -> Ingested:
    match event:
        case InboundMessage():
            return await _message(session, event, config)
        case MessageEdited():
            return await _edit(session, event)
        case DeliveryUpdate():
            return await _delivery(session, event)
        case DeliveryWatermark():
            return await _watermark(session, event, config)
        case ContactShared():
            return await _contact(session, event, config)
        case LinkOpened():
            return await _link(session, event, config)
    raise TypeError(f"not an inbound event: {event!r}")


async def _message(session: AsyncSession, event: InboundMessage, config: IngestConfig) -> Ingested:
    if await messages.exists(session, channel=event.channel, provider_id=event.provider_id):
        return Ingested("duplicate")
    identity = await resolve_identity(session, event.channel, event.sender, region=config.region)
    thread = await threads.for_customer(session, identity.customer_id)
    at = event.provider_at or utcnow()
    if event.direction == Direction.inbound:
        await customers.touch_inbound(session, identity.id or 0, at)
        reopened = await threads.reopen_on_inbound(session, thread, at=at)
        if reopened:
            await messages.append(session, thread, case_line(event, at=at, what=reopened))
    elif event.direction == Direction.outbound:
        await threads.record_first_response(session, thread, at=at)
    reply_to_id = None
    for provider_id in reversed(event.reply_to):
        earlier = await messages.by_provider_id(session, channel=event.channel, provider_id=provider_id)
        if earlier is not None:
            reply_to_id = earlier.id
            break
    message_id = await messages.append(session, thread, new_message(event, identity_id=identity.id,
                                                                      reply_to_id=reply_to_id))
    if message_id is None:
        # Lost a race with the same event on another connection: theirs is the stored one.
        raise Duplicate()
    await messages.add_files(session, message_id, [_file_row(file, config.files) for file in event.files])
    return Ingested("stored", message_id, identity.customer_id, thread.id)


def case_line(event: InboundMessage, *, at: datetime, what: str) -> messages.NewMessage:
    # At the message's own time, so the line sits just before it however late the webhook came.
    return messages.NewMessage(direction=Direction.event, channel=event.channel, author_type="system",
                               provider_at=at, text=f"case {what}", extra={"event": f"case.{what}"})


def new_message(event: InboundMessage, *, identity_id: int | None, reply_to_id: int | None) -> messages.NewMessage:
    return messages.NewMessage(
        direction=event.direction, channel=event.channel, text=event.text,
        # Sanitized once, here: what is stored is safe to show, whichever adapter it came from.
        html=sanitize_html(event.html) if event.html else None, subject=event.subject,
        author_type="customer" if event.direction == Direction.inbound else
        ("agent" if event.direction == Direction.outbound else "system"),
        author_name=event.sender.name or "", provider_id=event.provider_id, identity_id=identity_id,
        reply_to_id=reply_to_id, references=event.reply_to, extra=event.extra, provider_at=event.provider_at,
        delivery_status=None)


def _file_row(file: IncomingFile, store: FileStore) -> dict[str, object]:
    row: dict[str, object] = {"filename": file.filename[:255] or "file", "content_type": file.content_type[:120],
                              "source_url": file.url}
    if file.data is not None:
        row.update(sha256=store.put(file.data), size=len(file.data))
    elif file.sha256 is not None:
        path = store.path_for(file.sha256)
        if not path.exists():
            raise Invalid("files", f"{file.filename}: no such upload")
        row.update(sha256=file.sha256, size=path.stat().st_size)
    return row


class Duplicate(Exception):
    """Raised inside a savepoint so a raced duplicate leaves nothing behind."""


async def resolve_identity(session: AsyncSession, channel: Channel, party: Party, *, region: str) -> Identity:
    """The identity this party writes from, creating it (and its customer) on first contact.

    A verified phone or email already proven on another channel joins that customer; a merely
    claimed one never merges, it only suggests.
    """
    address = normalize(party.kind, party.address, region=region)
    identity = await customers.find_identity(session, channel=channel, address=address)
    if identity is not None:
        if party.verified and not identity.verified:
            return await _prove_claimed(session, identity, party)
        await _name_if_unknown(session, identity.customer_id, party.name)
        return identity
    owner = None
    if party.kind in MATCHABLE:
        owner = await customers.verified_owner(session, kind=party.kind, address=address)
    if owner is not None and party.verified:
        customer_id = owner
        await _name_if_unknown(session, customer_id, party.name)
    else:
        customer_id = (await customers.create(session, name=party.name or "")).id or 0
        if owner is not None:
            await customers.suggest(session, customer_id=customer_id, other_id=owner,
                                    reason=f"claimed {party.kind} {address} is verified on another customer")
        elif party.kind in MATCHABLE:
            # Someone typed this address earlier (a checkout, a pre-chat form): the same person,
            # probably, but only an agent may join them.
            for claimer in await customers.claimed_owners(session, kind=party.kind, address=address):
                await customers.suggest(session, customer_id=customer_id, other_id=claimer,
                                        reason=f"{party.kind} {address} was typed by this customer")
    created = await customers.add_identity(session, customer_id=customer_id, channel=channel, kind=party.kind,
                                           address=address, verified=party.verified, display=party.address)
    if created is None:
        raise Duplicate()
    return created


async def _prove_claimed(session: AsyncSession, identity: Identity, party: Party) -> Identity:
    # Someone typed this address before its owner wrote from it. The owner gets their own
    # customer (or the one that proved it elsewhere); the typist keeps a suggestion, not the thread.
    claimer = identity.customer_id
    owner = None
    if identity.kind in MATCHABLE:
        owner = await customers.verified_owner(session, kind=identity.kind, address=identity.address)
    if owner is None:
        owner = (await customers.create(session, name=party.name or "")).id or 0
    identity.customer_id = owner
    identity.verified = True
    session.add(identity)
    await session.flush()
    await customers.suggest(session, customer_id=owner, other_id=claimer,
                            reason=f"{identity.kind} {identity.address} was typed by this customer")
    await customers.reindex(session, claimer)
    await customers.reindex(session, owner)
    return identity


async def _name_if_unknown(session: AsyncSession, customer_id: int, name: str | None) -> None:
    if name and name.strip() and not await customers.name_of(session, customer_id):
        await customers.rename(session, customer_id, name=name)


async def _edit(session: AsyncSession, event: MessageEdited) -> Ingested:
    message = await messages.by_provider_id(session, channel=event.channel, provider_id=event.provider_id)
    if message is None:
        return Ingested("ignored")
    if message.text == event.text:
        return Ingested("duplicate", message.id)
    await messages.edit(session, message, text=event.text, at=event.edited_at)
    return Ingested("updated", message.id, thread_id=message.thread_id)


async def _delivery(session: AsyncSession, event: DeliveryUpdate) -> Ingested:
    message = await messages.by_provider_id(session, channel=event.channel, provider_id=event.provider_id)
    if message is None:
        # Twilio can call back before the send's answer is recorded: kept until it is.
        await messages.hold_receipt(session, channel=event.channel, provider_id=event.provider_id,
                                    status=event.status, error=event.error)
        return Ingested("held")
    changed = await messages.apply_delivery(session, message, status=event.status, error=event.error)
    return Ingested("updated" if changed else "duplicate", message.id, thread_id=message.thread_id)


async def _watermark(session: AsyncSession, event: DeliveryWatermark, config: IngestConfig) -> Ingested:
    address = normalize(event.recipient.kind, event.recipient.address, region=config.region)
    identity = await customers.find_identity(session, channel=event.channel, address=address)
    if identity is None:
        return Ingested("ignored")
    moved = await messages.apply_watermark(session, identity_id=identity.id or 0, channel=event.channel,
                                           status=event.status, up_to=event.up_to)
    return Ingested("updated" if moved else "duplicate", customer_id=identity.customer_id)


async def _contact(session: AsyncSession, event: ContactShared, config: IngestConfig) -> Ingested:
    if await messages.exists(session, channel=event.channel, provider_id=event.provider_id):
        return Ingested("duplicate")
    identity = await resolve_identity(session, event.channel, event.sender, region=config.region)
    try:
        address = normalize(event.shared.kind, event.shared.address, region=config.region)
    except Invalid:
        address = None
    customer_id = identity.customer_id
    if address is not None and event.shared.verified and event.shared.kind in MATCHABLE:
        owner = await customers.verified_owner(session, kind=event.shared.kind, address=address)
        if owner is not None and owner != customer_id:
            # Proven the same person: fold the newer customer into the one who had the address.
            survivor, absorbed = sorted((owner, customer_id))
            await merge.merge(session, survivor_id=survivor, absorbed_id=absorbed,
                              actor=f"system:{event.channel} contact share")
            customer_id = survivor
        elif owner is None:
            await customers.add_identity(session, customer_id=customer_id, channel=event.channel,
                                         kind=event.shared.kind, address=address, verified=True,
                                         display=event.shared.address)
    # The share itself is an inbound message like any other: it reopens and shows in the thread.
    return await _message(session, InboundMessage(
        channel=event.channel, provider_id=event.provider_id, sender=event.sender,
        text=f"shared contact {event.shared.address}",
        extra={"contact": {"address": address or event.shared.address, "kind": str(event.shared.kind)}}), config)


async def _link(session: AsyncSession, event: LinkOpened, config: IngestConfig) -> Ingested:
    if await messages.exists(session, channel=event.channel, provider_id=event.provider_id):
        return Ingested("duplicate")
    linked = await _linked_customer(session, event.payload, config.link_secret)
    if linked is None:
        # Typed, cut short or forged: just something the customer sent.
        return await _message(session, InboundMessage(
            channel=event.channel, provider_id=event.provider_id, sender=event.sender, text=event.text,
            provider_at=event.provider_at), config)
    address = normalize(event.sender.kind, event.sender.address, region=config.region)
    identity = await customers.find_identity(session, channel=event.channel, address=address)
    if identity is None:
        identity = await customers.add_identity(session, customer_id=linked, channel=event.channel,
                                                kind=event.sender.kind, address=address,
                                                verified=event.sender.verified, display=event.sender.address)
        if identity is None:
            raise Duplicate()
    elif identity.customer_id != linked:
        # The chat wrote before the link was opened: the shop's signature says whose it is, so
        # its customer (a stranger until now) folds into the known one.
        await merge.merge(session, survivor_id=linked, absorbed_id=identity.customer_id,
                          actor=f"system:{event.channel} link")
    await _name_if_unknown(session, linked, event.sender.name)
    thread = await threads.for_customer(session, linked)
    # A line, not a message: opening a link asks nothing, so it neither reopens nor waits for an answer.
    message_id = await messages.append(session, thread, messages.NewMessage(
        direction=Direction.event, channel=event.channel, author_type="system", provider_id=event.provider_id,
        identity_id=identity.id, provider_at=event.provider_at or utcnow(),
        text=f"{event.channel} chat of {event.sender.name or event.sender.address} linked to this customer "
             f"by the shop's link",
        extra={"event": "customer.linked", "channel": str(event.channel), "address": address}))
    if message_id is None:
        raise Duplicate()
    return Ingested("stored", message_id, linked, thread.id)


async def _linked_customer(session: AsyncSession, payload: str, secret: str) -> int | None:
    customer_id = links.verify(payload, secret=secret)
    if customer_id is None:
        return None
    try:
        # Merged since the link was made: the survivor is that customer now.
        return (await customers.get(session, customer_id)).id
    except NotFound:
        return None
