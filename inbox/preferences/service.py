"""What a customer told us they like, and what they agreed to be sent: each with who said so and when."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import audit
from inbox.customers import service as customers
from inbox.db import utcnow
from inbox.errors import Invalid
from inbox.preferences.models import Consent, Preference

SOURCES = ("stated", "agent", "import")


async def set_preference(session: AsyncSession, *, customer_id: int, key: str, value: str, source: str,
                         actor: str, source_channel: str | None = None, source_message_id: int | None = None,
                         set_by_user_id: int | None = None, stated_at: datetime | None = None) -> Preference:
    """One value per key: a newer statement replaces the older one, and the audit log keeps both."""
    clean_key, clean_value = " ".join(key.split()).lower(), value.strip()
    if not clean_key:
        raise Invalid("key", "must not be empty")
    if source not in SOURCES:
        raise Invalid("source", f"must be one of {', '.join(SOURCES)}")
    owner = (await customers.get(session, customer_id)).id or customer_id
    preference = (await session.execute(
        select(Preference).where(col(Preference.customer_id) == owner, col(Preference.key) == clean_key[:80])
    )).scalar_one_or_none()
    previous = preference.value if preference else None
    preference = preference or Preference(customer_id=owner, key=clean_key[:80], value="")
    preference.value = clean_value[:1000]
    preference.source, preference.source_channel = source, source_channel
    preference.source_message_id, preference.set_by_user_id = source_message_id, set_by_user_id
    preference.stated_at = stated_at or utcnow()
    session.add(preference)
    await session.flush()
    await audit.record(session, actor=actor, action="preference.set", subject_type="customer", subject_id=owner,
                       data={"key": preference.key, "value": preference.value, "previous": previous,
                             "source": source})
    return preference


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


async def consents_in_force(session: AsyncSession, customer_id: int) -> list[Consent]:
    """The latest consent record per (channel, purpose)."""
    return (await consents_in_force_of(session, [customer_id])).get(customer_id, [])


async def consents_in_force_of(session: AsyncSession, customer_ids: Sequence[int]) -> dict[int, list[Consent]]:
    """consents_in_force for many customers in one query."""
    if not customer_ids:
        return {}
    rows = (await session.execute(
        select(Consent).where(col(Consent.customer_id).in_(customer_ids))
        .order_by(col(Consent.recorded_at).desc(), col(Consent.id).desc())
    )).scalars().all()
    latest: dict[tuple[int, str, str], Consent] = {}
    for consent in rows:
        latest.setdefault((consent.customer_id, consent.channel, consent.purpose), consent)
    found: dict[int, list[Consent]] = {}
    for consent in sorted(latest.values(), key=lambda c: (c.channel, c.purpose)):
        found.setdefault(consent.customer_id, []).append(consent)
    return found
