"""What a customer told us they like, and what they agreed to be sent: each with who said so and when."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import audit
from inbox.agents.models import User
from inbox.customers import service as customers
from inbox.db import utcnow
from inbox.errors import Invalid, NotFound
from inbox.events import Direction
from inbox.messages.models import Message
from inbox.preferences.models import Consent, Preference
from inbox.text import fold, required
from inbox.threads.models import Thread

SOURCES = ("stated", "agent", "import")
# Keys are what `{{preference.<key>}}` names in a canned response (inbox/canned.py), so they stay slugs.
_KEY = re.compile(r"^[a-z][a-z_]{0,39}$")
_SEPARATORS = re.compile(r"[\s.\-]+")
BAD_KEY = "use up to 40 letters a-z and _, e.g. shoe_size"
MAX_VALUE = 1000
NOT_THEIR_MESSAGE = "pick a message this customer wrote"


def clean_key(key: str) -> str:
    """The key as stored: "Shoe size", "shoe-size" and "ayakkabı numarası" become shoe_size and
    ayakkabi_numarasi, one key however an agent or an import spells it."""
    slug = _SEPARATORS.sub("_", fold(key).strip()).strip("_")
    if not slug:
        raise Invalid("key", "must not be empty")
    if not _KEY.match(slug):
        raise Invalid("key", BAD_KEY)
    return slug


async def set_preference(session: AsyncSession, *, customer_id: int, key: str, value: str, source: str,
                         actor: str, source_channel: str | None = None, source_message_id: int | None = None,
                         set_by_user_id: int | None = None, stated_at: datetime | None = None) -> Preference:
    """One value per key: a newer statement replaces the older one, and the audit log keeps both."""
    slug, clean_value = clean_key(key), required("value", value, limit=MAX_VALUE)
    if source not in SOURCES:
        raise Invalid("source", f"must be one of {', '.join(SOURCES)}")
    owner = (await customers.get(session, customer_id)).id or customer_id
    preference = (await session.execute(
        select(Preference).where(col(Preference.customer_id) == owner, col(Preference.key) == slug)
    )).scalar_one_or_none()
    previous = preference.value if preference else None
    preference = preference or Preference(customer_id=owner, key=slug, value="")
    preference.value = clean_value
    preference.source, preference.source_channel = source, source_channel
    preference.source_message_id, preference.set_by_user_id = source_message_id, set_by_user_id
    preference.stated_at = stated_at or utcnow()
    session.add(preference)
    await session.flush()
    await audit.record(session, actor=actor, action="preference.set", subject_type="customer", subject_id=owner,
                       data={"key": preference.key, "value": preference.value, "previous": previous,
                             "source": source})
    return preference


async def save_for_agent(session: AsyncSession, *, customer_id: int, key: str, value: str, actor: str,
                         set_by_user_id: int | None, message_id: int | None = None) -> Preference:
    """What an agent saves from the sidebar: their own knowledge, or with `message_id` what the
    customer said in that message of theirs, quoted (its channel and time are the statement's)."""
    if message_id is None:
        return await set_preference(session, customer_id=customer_id, key=key, value=value, source="agent",
                                    actor=actor, set_by_user_id=set_by_user_id)
    message = await customers_message(session, customer_id=customer_id, message_id=message_id)
    return await set_preference(session, customer_id=customer_id, key=key, value=value, source="stated",
                                actor=actor, source_channel=message.channel, source_message_id=message.id,
                                set_by_user_id=set_by_user_id, stated_at=message.at)


async def remove_preference(session: AsyncSession, *, customer_id: int, key: str, actor: str) -> None:
    owner = (await customers.get(session, customer_id)).id or customer_id
    preference = (await session.execute(
        select(Preference).where(col(Preference.customer_id) == owner, col(Preference.key) == key)
    )).scalar_one_or_none()
    if preference is None:
        raise NotFound("preference", key)
    await session.execute(delete(Preference).where(col(Preference.id) == preference.id))
    await audit.record(session, actor=actor, action="preference.removed", subject_type="customer", subject_id=owner,
                       data={"key": key, "previous": preference.value, "source": preference.source})


async def customers_message(session: AsyncSession, *, customer_id: int, message_id: int) -> Message:
    """A message the customer wrote (inbound, in their thread): what a statement or a consent quotes."""
    owner = (await customers.get(session, customer_id)).id or customer_id
    found = (await session.execute(
        select(Message).join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(col(Message.id) == message_id, col(Thread.customer_id) == owner,
               col(Message.direction) == Direction.inbound))).scalar_one_or_none()
    if found is None:
        raise Invalid("message_id", NOT_THEIR_MESSAGE)
    return found


async def for_customer(session: AsyncSession, customer_id: int) -> Sequence[Preference]:
    return (await session.execute(
        select(Preference).where(col(Preference.customer_id) == customer_id).order_by(col(Preference.key))
    )).scalars().all()


async def record_consent(session: AsyncSession, *, customer_id: int, channel: str, granted: bool, source: str,
                         actor: str, purpose: str = "marketing", proof_message_id: int | None = None,
                         at: datetime | None = None) -> Consent:
    """Consent is a history, never overwritten: the latest record per channel and purpose is in force."""
    owner = (await customers.get(session, customer_id)).id or customer_id
    consent = Consent(customer_id=owner, channel=channel, purpose=purpose, granted=granted, source=source,
                      proof_message_id=proof_message_id, recorded_at=at or utcnow())
    session.add(consent)
    await session.flush()
    await audit.record(session, actor=actor, action="consent.granted" if granted else "consent.withdrawn",
                       subject_type="customer", subject_id=owner,
                       data={"channel": channel, "purpose": purpose, "source": source})
    return consent


async def record_agent_consent(session: AsyncSession, *, customer_id: int, channel: str, granted: bool, actor: str,
                               proof_message_id: int | None = None) -> Consent:
    """An agent records a grant or withdrawal of marketing on a channel the customer has; with the
    message where the customer said so as proof, the source is the customer's statement."""
    owner = (await customers.get(session, customer_id)).id or customer_id
    if channel not in {identity.channel for identity in await customers.identities(session, owner)}:
        raise Invalid("channel", f"the customer has no {channel} address")
    if proof_message_id is not None:
        await customers_message(session, customer_id=owner, message_id=proof_message_id)
    return await record_consent(session, customer_id=owner, channel=channel, granted=granted,
                                source="stated" if proof_message_id is not None else "agent", actor=actor,
                                proof_message_id=proof_message_id)


async def consents_in_force(session: AsyncSession, customer_id: int) -> list[Consent]:
    """The latest consent record per (channel, purpose)."""
    return (await consents_in_force_of(session, [customer_id])).get(customer_id, [])


async def consents_in_force_of(session: AsyncSession, customer_ids: Sequence[int]) -> dict[int, list[Consent]]:
    """consents_in_force for many customers in one query."""
    if not customer_ids:
        return {}
    return in_force((await session.execute(
        select(Consent).where(col(Consent.customer_id).in_(customer_ids))
        .order_by(col(Consent.recorded_at).desc(), col(Consent.id).desc())
    )).scalars().all())


def in_force(rows: Sequence[Consent]) -> dict[int, list[Consent]]:
    """Per customer, the first of `rows` (newest first) per (channel, purpose), by channel and purpose."""
    latest: dict[tuple[int, str, str], Consent] = {}
    for consent in rows:
        latest.setdefault((consent.customer_id, consent.channel, consent.purpose), consent)
    found: dict[int, list[Consent]] = {}
    for consent in sorted(latest.values(), key=lambda c: (c.channel, c.purpose)):
        found.setdefault(consent.customer_id, []).append(consent)
    return found


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who set each preference (agents by id) and the messages statements and consents quote."""

    names: dict[int, str] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)


async def provenance(session: AsyncSession, stated: Sequence[Preference], consents: Sequence[Consent]) -> Provenance:
    user_ids = {p.set_by_user_id for p in stated if p.set_by_user_id is not None}
    message_ids = {p.source_message_id for p in stated if p.source_message_id is not None} | {
        c.proof_message_id for c in consents if c.proof_message_id is not None}
    names = {user.id or 0: user.name for user in (await session.execute(
        select(User).where(col(User.id).in_(user_ids)))).scalars()} if user_ids else {}
    quoted = {m.id or 0: m for m in (await session.execute(
        select(Message).where(col(Message.id).in_(message_ids)))).scalars()} if message_ids else {}
    return Provenance(names=names, messages=quoted)
