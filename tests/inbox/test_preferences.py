from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.audit import AuditEvent
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.errors import Invalid, NotFound
from inbox.preferences import service as preferences
from inbox.preferences.models import Consent

MONDAY = datetime(2026, 11, 16, 9, tzinfo=UTC)
AGENT = "user:deniz"


@pytest.fixture
async def ayse(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        return (await customers.create(session, name="Ayşe Yılmaz")).id or 0


async def _prefer(sessions: async_sessionmaker[AsyncSession], customer_id: int, key: str, value: str,
                  **extra: Any) -> None:
    async with transaction(sessions) as session:
        await preferences.set_preference(session, customer_id=customer_id, key=key, value=value,
                                         source=extra.pop("source", "stated"), actor=AGENT, **extra)


async def _consent(sessions: async_sessionmaker[AsyncSession], customer_id: int, channel: str, granted: bool,
                   at: datetime, purpose: str = "marketing") -> None:
    async with transaction(sessions) as session:
        await preferences.record_consent(session, customer_id=customer_id, channel=channel, granted=granted,
                                         source="stated", actor=AGENT, purpose=purpose, at=at)


async def _audit(session: AsyncSession, action_prefix: str) -> list[AuditEvent]:
    return list((await session.execute(
        select(AuditEvent).where(AuditEvent.action.startswith(action_prefix))  # type: ignore[attr-defined]
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    )).scalars())


class TestSetPreference:
    async def test_a_newer_statement_replaces_the_older_and_the_audit_keeps_both(self, sessions, session,
                                                                                   ayse) -> None:
        await _prefer(sessions, ayse, "Shoe size", "38", source_channel="whatsapp", stated_at=MONDAY)
        await _prefer(sessions, ayse, "  shoe   SIZE ", " 39 ", source_channel="email",
                      stated_at=MONDAY + timedelta(days=2))
        [size] = await preferences.for_customer(session, ayse)
        assert (size.key, size.value, size.source, size.source_channel, size.stated_at) == (
            "shoe size", "39", "stated", "email", MONDAY + timedelta(days=2))
        audit = await _audit(session, "preference.")
        assert [(a.actor, a.subject_id, a.data["value"], a.data["previous"]) for a in audit] == [
            (AGENT, ayse, "38", None), (AGENT, ayse, "39", "38")]

    async def test_each_key_holds_its_own_value(self, sessions, session, ayse) -> None:
        await _prefer(sessions, ayse, "size", "M")
        await _prefer(sessions, ayse, "language", "tr", source="agent")
        assert [(p.key, p.value, p.source) for p in await preferences.for_customer(session, ayse)] == [
            ("language", "tr", "agent"), ("size", "M", "stated")]

    async def test_a_statement_for_a_merged_away_customer_lands_on_the_survivor(self, sessions, session,
                                                                                ayse) -> None:
        async with transaction(sessions) as tx:
            other = (await customers.create(tx, name="Ayse")).id or 0
            await merges.merge(tx, survivor_id=ayse, absorbed_id=other, actor=AGENT)
        await _prefer(sessions, other, "size", "L")
        assert [p.value for p in await preferences.for_customer(session, ayse)] == ["L"]
        assert await preferences.for_customer(session, other) == []

    @pytest.mark.parametrize(("key", "source", "field"), [(" ", "stated", "key"), ("size", "rumour", "source")])
    async def test_bad_input_names_the_field_and_writes_nothing(self, sessions, session, ayse, key, source,
                                                               field) -> None:
        with pytest.raises(Invalid) as raised:
            await _prefer(sessions, ayse, key, "M", source=source)
        assert raised.value.field == field
        assert await preferences.for_customer(session, ayse) == []
        assert await _audit(session, "preference.") == []

    async def test_an_unknown_customer_is_not_found(self, sessions) -> None:
        with pytest.raises(NotFound):
            await _prefer(sessions, 999_999, "size", "M")


class TestConsent:
    async def test_history_keeps_every_record_and_the_latest_per_channel_and_purpose_is_in_force(
            self, sessions, session, ayse) -> None:
        await _consent(sessions, ayse, "email", True, MONDAY)
        await _consent(sessions, ayse, "whatsapp", True, MONDAY)
        await _consent(sessions, ayse, "email", False, MONDAY + timedelta(days=1))
        await _consent(sessions, ayse, "email", True, MONDAY, purpose="order_updates")
        # An older record imported late does not override the newer withdrawal.
        await _consent(sessions, ayse, "email", True, MONDAY - timedelta(days=30))
        history = (await session.execute(select(Consent).order_by(Consent.id))).scalars()  # type: ignore[arg-type]
        assert [(c.channel, c.purpose, c.granted) for c in history] == [
            ("email", "marketing", True), ("whatsapp", "marketing", True), ("email", "marketing", False),
            ("email", "order_updates", True), ("email", "marketing", True)]
        in_force = await preferences.consents_in_force(session, ayse)
        assert [(c.channel, c.purpose, c.granted) for c in in_force] == [
            ("email", "marketing", False), ("email", "order_updates", True), ("whatsapp", "marketing", True)]
        assert [a.action for a in await _audit(session, "consent.")] == [
            "consent.granted", "consent.granted", "consent.withdrawn", "consent.granted", "consent.granted"]

    async def test_a_customer_who_never_answered_has_no_consent_in_force(self, session, ayse) -> None:
        assert await preferences.consents_in_force(session, ayse) == []

    async def test_an_unknown_customer_is_not_found(self, sessions) -> None:
        with pytest.raises(NotFound):
            await _consent(sessions, 999_999, "email", True, MONDAY)
