from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.agents.models import Role
from inbox.agents.service import create_user
from inbox.audit import AuditEvent
from inbox.channels import AddressKind, Channel
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.errors import Invalid, NotFound
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Message
from inbox.preferences import service as preferences
from inbox.preferences.models import Consent
from inbox.replies import add_note

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
            "shoe_size", "39", "stated", "email", MONDAY + timedelta(days=2))
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


class TestKeysAndValues:
    @pytest.mark.parametrize(("typed", "stored"), [
        ("Shoe size", "shoe_size"), ("favourite-store", "favourite_store"), ("Ayakkabı numarası", "ayakkabi_numarasi"),
        (" LANGUAGE ", "language"), ("contact.hours", "contact_hours")])
    async def test_a_key_is_stored_as_a_slug_however_it_was_typed(self, sessions, session, ayse, typed,
                                                                  stored) -> None:
        await _prefer(sessions, ayse, typed, "x")
        assert [p.key for p in await preferences.for_customer(session, ayse)] == [stored]

    @pytest.mark.parametrize(("key", "value", "field"), [
        ("size!", "M", "key"), ("39", "M", "key"), ("a" * 41, "M", "key"), ("<b>", "M", "key"),
        ("size", "   ", "value"), ("size", "x" * 1001, "value")])
    async def test_a_bad_key_or_value_is_refused_naming_it(self, sessions, session, ayse, key, value,
                                                          field) -> None:
        with pytest.raises(Invalid) as raised:
            await _prefer(sessions, ayse, key, value)
        assert raised.value.field == field
        assert await preferences.for_customer(session, ayse) == []


async def _whatsapp_customer(sessions, ingest_config, text: str, *, provider_id: str = "SM1",
                             phone: str = "+905321234567", name: str = "Şule Çelik") -> tuple[int, int]:
    """A customer who wrote `text` on WhatsApp; their id and the message's."""
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(
            Channel.whatsapp, provider_id, Party(f"whatsapp:{phone}", AddressKind.phone, True, name), text=text,
            provider_at=MONDAY), config=ingest_config)
    return result.customer_id or 0, result.message_id or 0


async def _agent(sessions) -> int:
    async with transaction(sessions) as session:
        user = await create_user(session, email="deniz@shop.example", password="correct horse battery",
                                 name="Deniz Aksoy", role=Role.agent)
    return user.id or 0


class TestSaveForAgent:
    async def test_without_a_message_the_agent_is_the_source(self, sessions, session, ingest_config) -> None:
        customer_id, _ = await _whatsapp_customer(sessions, ingest_config, "Merhaba")
        deniz = await _agent(sessions)
        async with transaction(sessions) as tx:
            await preferences.save_for_agent(tx, customer_id=customer_id, key="language", value="tr", actor=AGENT,
                                             set_by_user_id=deniz)
        [language] = await preferences.for_customer(session, customer_id)
        assert (language.source, language.set_by_user_id, language.source_message_id) == ("agent", deniz, None)
        known = await preferences.provenance(session, [language], [])
        assert known.names == {deniz: "Deniz Aksoy"}

    async def test_from_a_message_the_customer_stated_it_there_on_its_channel_at_its_time(
            self, sessions, session, ingest_config) -> None:
        customer_id, message_id = await _whatsapp_customer(sessions, ingest_config, "Ayakkabı numaram 39")
        async with transaction(sessions) as tx:
            await preferences.save_for_agent(tx, customer_id=customer_id, key="shoe_size", value="39", actor=AGENT,
                                             set_by_user_id=None, message_id=message_id)
        [size] = await preferences.for_customer(session, customer_id)
        assert (size.source, size.source_channel, size.source_message_id, size.stated_at) == (
            "stated", "whatsapp", message_id, MONDAY)
        known = await preferences.provenance(session, [size], [])
        assert known.messages[message_id].text == "Ayakkabı numaram 39"

    async def test_another_customers_message_or_our_own_note_is_no_statement(self, sessions, session,
                                                                             ingest_config) -> None:
        sule, _ = await _whatsapp_customer(sessions, ingest_config, "Merhaba")
        _, theirs = await _whatsapp_customer(sessions, ingest_config, "Bedenim L", provider_id="SM2",
                                             phone="+905329876543", name="Mehmet Kaya")
        async with transaction(sessions) as tx:
            note = await add_note(tx, customer_id=sule, text="Bedeni M olabilir")
        for message_id in (theirs, note.id or 0, 999_999):
            with pytest.raises(Invalid) as raised:
                async with transaction(sessions) as tx:
                    await preferences.save_for_agent(tx, customer_id=sule, key="size", value="L", actor=AGENT,
                                                     set_by_user_id=None, message_id=message_id)
            assert (raised.value.field, raised.value.message) == ("message_id", preferences.NOT_THEIR_MESSAGE)
        assert await preferences.for_customer(session, sule) == []


class TestRemovePreference:
    async def test_it_is_gone_and_the_audit_says_what_it_was(self, sessions, session, ayse) -> None:
        await _prefer(sessions, ayse, "size", "M")
        async with transaction(sessions) as tx:
            await preferences.remove_preference(tx, customer_id=ayse, key="size", actor=AGENT)
        assert await preferences.for_customer(session, ayse) == []
        removed = (await _audit(session, "preference.removed"))[0]
        assert (removed.actor, removed.data) == (AGENT, {"key": "size", "previous": "M", "source": "stated"})

    async def test_an_unknown_key_is_not_found(self, sessions, ayse) -> None:
        with pytest.raises(NotFound):
            async with transaction(sessions) as tx:
                await preferences.remove_preference(tx, customer_id=ayse, key="size", actor=AGENT)


class TestAgentConsent:
    async def test_with_proof_it_is_the_customers_statement_and_the_latest_wins(self, sessions, session,
                                                                               ingest_config) -> None:
        customer_id, message_id = await _whatsapp_customer(sessions, ingest_config, "Evet, kampanyaları yollayın")
        async with transaction(sessions) as tx:
            await preferences.record_agent_consent(tx, customer_id=customer_id, channel="whatsapp", granted=True,
                                                   actor=AGENT, proof_message_id=message_id)
        async with sessions() as reader:
            [granted] = await preferences.consents_in_force(reader, customer_id)
        assert (granted.granted, granted.source, granted.proof_message_id) == (True, "stated", message_id)
        async with transaction(sessions) as tx:
            await preferences.record_agent_consent(tx, customer_id=customer_id, channel="whatsapp", granted=False,
                                                   actor=AGENT)
        [withdrawn] = await preferences.consents_in_force(session, customer_id)
        assert (withdrawn.granted, withdrawn.source, withdrawn.proof_message_id) == (False, "agent", None)

    async def test_a_channel_the_customer_lacks_or_someone_elses_proof_is_refused(self, sessions, session,
                                                                                ingest_config) -> None:
        customer_id, _ = await _whatsapp_customer(sessions, ingest_config, "Merhaba")
        _, theirs = await _whatsapp_customer(sessions, ingest_config, "Evet", provider_id="SM2",
                                             phone="+905329876543", name="Mehmet Kaya")
        for channel, proof, field in (("email", None, "channel"), ("whatsapp", theirs, "message_id")):
            with pytest.raises(Invalid) as raised:
                async with transaction(sessions) as tx:
                    await preferences.record_agent_consent(tx, customer_id=customer_id, channel=channel,
                                                           granted=True, actor=AGENT, proof_message_id=proof)
            assert raised.value.field == field
        assert (await session.execute(select(Consent))).first() is None
        assert (await session.execute(select(Message).where(Message.direction == "outbound"))).first() is None
