from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.audit import AuditEvent
from inbox.channels import AddressKind, Channel
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.customers.models import Identity, Merge, MergeSuggestion
from inbox.db import transaction
from inbox.errors import Conflict, Invalid, NotFound
from inbox.events import ContactShared, InboundEvent, InboundMessage, Party
from inbox.ingest import IngestConfig, Ingested, ingest
from inbox.messages.models import Message
from inbox.orders.models import Order
from inbox.preferences.models import Consent, Preference
from inbox.realtime import LocalHub
from inbox.search import SearchDoc, search
from inbox.threads import service as threads
from inbox.threads import views
from inbox.threads.models import Status, Thread
from inbox.threads.views import View
from tests.factories import make_consent, make_order, make_preference

MONDAY = datetime(2026, 11, 16, 9, tzinfo=UTC)
AYSE_EMAIL = Party("ayse@example.net", AddressKind.email, True, "Ayşe Yılmaz")
# The same address typed into the web chat's pre-chat form: claimed, so ingest only suggests a merge.
AYSE_CHAT = Party("AYSE@example.net", AddressKind.email, False, "Ayse")
AYSE_WA = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
AYSE_TG = Party("42", AddressKind.handle, True, "Ayşe")
MEHMET_WA = Party("whatsapp:+905559876543", AddressKind.phone, True, "Mehmet Kaya")
AGENT = "user:deniz"
SUMMARY = ("last_activity_at", "last_message_id", "last_preview", "last_direction", "last_channel",
           "last_inbound_channel", "channels", "unread_count")


@dataclass(frozen=True)
class Pair:
    survivor: int
    absorbed: int


async def _ingest(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, event: InboundEvent) -> Ingested:
    async with transaction(sessions) as session:
        return await ingest(session, event, config=config)


async def _say(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, channel: Channel, provider_id: str,
               party: Party, text: str, at: datetime) -> Ingested:
    return await _ingest(sessions, config, InboundMessage(channel, provider_id, party, text=text, provider_at=at))


async def _merge(sessions: async_sessionmaker[AsyncSession], survivor_id: int, absorbed_id: int) -> Merge:
    async with transaction(sessions) as session:
        return await merges.merge(session, survivor_id=survivor_id, absorbed_id=absorbed_id, actor=AGENT)


async def _undo(sessions: async_sessionmaker[AsyncSession], merge_id: int) -> Merge:
    async with transaction(sessions) as session:
        return await merges.undo(session, merge_id, actor=AGENT)


async def _thread(session: AsyncSession, customer_id: int) -> Thread:
    return (await session.execute(select(Thread).where(Thread.customer_id == customer_id))).scalar_one()


async def _texts(session: AsyncSession, customer_id: int, *, direction: str = "inbound") -> list[str]:
    thread = await _thread(session, customer_id)
    return list((await session.execute(
        select(Message.text).where(Message.thread_id == thread.id, Message.direction == direction)
        .order_by(Message.at, Message.id)  # type: ignore[arg-type]
    )).scalars())


async def _rows(session: AsyncSession, model: Any, *where: Any) -> list[dict[str, Any]]:
    found = await session.execute(select(model).where(*where).order_by(model.id))
    return [row.model_dump() for row in found.scalars()]


async def _snapshot(sessions: async_sessionmaker[AsyncSession], customer_id: int) -> dict[str, Any]:
    """Everything a customer owns, read in a fresh session so nothing cached hides a change."""
    async with sessions() as session:
        thread = await _thread(session, customer_id)
        docs = (await session.execute(select(SearchDoc).where(SearchDoc.customer_id == customer_id))).scalars()
        return {
            "identities": await _rows(session, Identity, Identity.customer_id == customer_id),
            "messages": await _rows(session, Message, Message.thread_id == thread.id),
            "orders": await _rows(session, Order, Order.customer_id == customer_id),
            "preferences": await _rows(session, Preference, Preference.customer_id == customer_id),
            "consents": await _rows(session, Consent, Consent.customer_id == customer_id),
            # A customer's own document is rebuilt (new id) whenever its addresses change: compare content.
            "search": sorted((doc.kind, doc.ref_id, doc.body) for doc in docs),
            "thread": {field: getattr(thread, field) for field in SUMMARY},
        }


@pytest.fixture
async def ayse(sessions, ingest_config) -> Pair:
    """Ayşe wrote by email on Monday and Wednesday, and by web chat (claiming the same address) in between and after.

    Each has an order, preferences (one key on both) and a consent; ingest left a merge suggestion.
    """
    mail = await _say(sessions, ingest_config, Channel.email, "<m1@example.net>", AYSE_EMAIL,
                      "Siparişim nerede?", MONDAY)
    chat = await _say(sessions, ingest_config, Channel.webchat, "w1", AYSE_CHAT,
                      "Kargo takip numarası var mı?", MONDAY + timedelta(days=1))
    await _say(sessions, ingest_config, Channel.email, "<m2@example.net>", AYSE_EMAIL,
               "Hâlâ bekliyorum", MONDAY + timedelta(days=2))
    await _say(sessions, ingest_config, Channel.webchat, "w2", AYSE_CHAT, "Teşekkürler", MONDAY + timedelta(days=3))
    survivor, absorbed = mail.customer_id or 0, chat.customer_id or 0
    async with transaction(sessions) as session:
        await make_order(session, customer_id=survivor, external_id="shop-1001", number="1001", total="450.00")
        await make_order(session, customer_id=absorbed, external_id="shop-1002", number="1002", total="89.90")
        await make_preference(session, customer_id=survivor, key="size", value="M")
        await make_preference(session, customer_id=absorbed, key="size", value="L", source_channel="webchat")
        await make_preference(session, customer_id=absorbed, key="language", value="tr")
        await make_consent(session, customer_id=absorbed, channel="webchat")
        await make_consent(session, customer_id=survivor, channel="email", granted=False)
    return Pair(survivor, absorbed)


class TestMerge:
    async def test_moves_identities_orders_preferences_and_consents_to_the_survivor(self, sessions, ayse):
        absorbed_before = await _snapshot(sessions, ayse.absorbed)
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        survivor = await _snapshot(sessions, ayse.survivor)
        assert sorted((i["channel"], i["address"]) for i in survivor["identities"]) == [
            ("email", "ayse@example.net"), ("webchat", "ayse@example.net")]
        assert sorted(o["number"] for o in survivor["orders"]) == ["1001", "1002"]
        assert sorted(c["channel"] for c in survivor["consents"]) == ["email", "webchat"]
        assert {p["key"]: p["value"] for p in survivor["preferences"]} == {"size": "M", "language": "tr"}
        absorbed = await _snapshot(sessions, ayse.absorbed)
        assert absorbed["identities"] == absorbed["messages"] == absorbed["orders"] == absorbed["consents"] == []
        # The moved rows are the same rows, only re-owned: ids and contents unchanged.
        moved_ids = {i["id"] for i in absorbed_before["identities"]}
        assert moved_ids <= {i["id"] for i in survivor["identities"]}

    async def test_one_thread_in_time_order(self, sessions, session, ayse):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        assert await _texts(session, ayse.survivor) == [
            "Siparişim nerede?", "Kargo takip numarası var mı?", "Hâlâ bekliyorum", "Teşekkürler"]

    async def test_the_absorbed_id_answers_with_the_survivor(self, sessions, session, ayse, ingest_config):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        assert (await customers.get(session, ayse.absorbed)).id == ayse.survivor
        assert [c.id for c in await customers.lookup(session, "AYSE@example.net", region="TR")] == [ayse.survivor]
        assert [h.customer_id for h in await search(session, "1002", kind="order")] == [ayse.survivor]
        assert [h.customer_id for h in await search(session, "kargo takip", kind="message")] == [ayse.survivor]

    async def test_the_thread_list_row_shows_both_histories(self, sessions, session, ayse):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        survivor, absorbed = await _thread(session, ayse.survivor), await _thread(session, ayse.absorbed)
        assert (survivor.last_preview, survivor.last_channel, survivor.last_direction, survivor.channels,
                survivor.unread_count, survivor.last_activity_at) == (
            "Teşekkürler", "webchat", "inbound", "email webchat", 4, MONDAY + timedelta(days=3))
        # The absorbed customer's thread stays (one per customer, for life), empty.
        assert (absorbed.last_message_id, absorbed.last_preview, absorbed.channels, absorbed.unread_count) == (
            None, "", "", 0)

    async def test_leaves_an_audit_record_and_a_note_in_the_thread(self, sessions, session, ayse):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        audit = (await session.execute(select(AuditEvent).where(AuditEvent.action == "customer.merged"))).scalar_one()
        assert (audit.actor, audit.subject_type, audit.subject_id) == (AGENT, "customer", ayse.survivor)
        assert audit.data["merge_id"] == merge.id and audit.data["absorbed_id"] == ayse.absorbed
        assert audit.data["moved"]["message"] == len(merge.moved["message"]) > 0
        assert (await _texts(session, ayse.survivor, direction="event"))[-1] == "merged Ayse into this customer"

    async def test_accepts_the_open_suggestion_between_the_two(self, sessions, session, ayse):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        suggestion = (await session.execute(select(MergeSuggestion))).scalar_one()
        assert suggestion.status == "accepted" and suggestion.decided_at is not None
        assert await customers.open_suggestions(session, ayse.survivor) == []

    async def test_a_suggestion_about_a_third_customer_follows_to_the_survivor(self, sessions, session, ayse,
                                                                                ingest_config):
        mehmet = await _say(sessions, ingest_config, Channel.whatsapp, "SM1", MEHMET_WA, "Merhaba", MONDAY)
        async with transaction(sessions) as tx:
            await customers.suggest(tx, customer_id=ayse.absorbed, other_id=mehmet.customer_id or 0, reason="same name")
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        [suggestion] = await customers.open_suggestions(session, ayse.survivor)
        assert {suggestion.customer_id, suggestion.other_id} == {ayse.survivor, mehmet.customer_id}

    async def test_conflicting_preference_keeps_the_survivors_value_and_leaves_the_other_untouched(
            self, sessions, session, ayse):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        sizes = (await session.execute(select(Preference.customer_id, Preference.value)
                                       .where(Preference.key == "size").order_by(Preference.id))).all()  # type: ignore[arg-type]
        assert [tuple(row) for row in sizes] == [(ayse.survivor, "M"), (ayse.absorbed, "L")]

    async def test_publishes_a_live_event_after_commit(self, sessions, hub: LocalHub, ayse):
        subscription = hub.subscribe()
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        kinds: dict[str, dict[str, Any]] = {}
        # Through Redis the events arrive a moment after commit, not at once.
        while "customer.merged" not in kinds:
            event = await subscription.get(wait=5)
            kinds[event["kind"]] = event
        assert kinds["customer.merged"]["customer_id"] == ayse.survivor
        assert kinds["customer.merged"]["data"]["merge_id"] == merge.id

    async def test_a_waiting_customer_reopens_a_resolved_survivor(self, sessions, session, ayse):
        async with transaction(sessions) as tx:
            await threads.set_status(tx, await threads.for_customer(tx, ayse.survivor), status=Status.resolved)
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        assert (await _thread(session, ayse.survivor)).status == Status.open

    async def test_merging_a_customer_with_itself_is_invalid(self, sessions, ayse):
        with pytest.raises(Invalid):
            await _merge(sessions, ayse.survivor, ayse.survivor)

    async def test_merging_an_absorbed_customer_into_its_survivor_again_is_a_conflict(self, sessions, ayse):
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        with pytest.raises(Conflict):
            await _merge(sessions, ayse.survivor, ayse.absorbed)

    async def test_an_absorbed_id_given_as_survivor_stands_for_its_survivor(self, sessions, session, ayse,
                                                                            ingest_config):
        mehmet = await _say(sessions, ingest_config, Channel.whatsapp, "SM1", MEHMET_WA, "Merhaba", MONDAY)
        await _merge(sessions, ayse.survivor, ayse.absorbed)
        merge = await _merge(sessions, ayse.absorbed, mehmet.customer_id or 0)
        assert (merge.survivor_id, merge.absorbed_id) == (ayse.survivor, mehmet.customer_id)

    async def test_a_telegram_contact_share_of_a_whatsapp_phone_makes_one_thread(self, sessions, session,
                                                                                 ingest_config):
        whatsapp = await _say(sessions, ingest_config, Channel.whatsapp, "SM1", AYSE_WA, "Siparişim?", MONDAY)
        telegram = await _say(sessions, ingest_config, Channel.telegram, "42:1", AYSE_TG, "selam",
                              MONDAY + timedelta(hours=1))
        assert whatsapp.customer_id != telegram.customer_id
        share = await _ingest(sessions, ingest_config, ContactShared(
            Channel.telegram, "42:2", AYSE_TG, Party("+90 532 123 45 67", AddressKind.phone, True)))
        later = await _say(sessions, ingest_config, Channel.telegram, "42:3", AYSE_TG, "teşekkürler", datetime.now(UTC))
        assert share.customer_id == later.customer_id == whatsapp.customer_id
        assert (await customers.get(session, telegram.customer_id or 0)).id == whatsapp.customer_id
        assert await customers.count(session) == 1
        assert await _texts(session, whatsapp.customer_id or 0) == [
            "Siparişim?", "selam", "shared contact +90 532 123 45 67", "teşekkürler"]
        assert await _texts(session, telegram.customer_id or 0) == []
        merge = (await session.execute(select(Merge))).scalar_one()
        assert merge.actor == "system:telegram contact share"


class TestInboxViews:
    async def test_the_emptied_thread_leaves_the_open_view_and_an_undo_brings_it_back(self, sessions, ayse):
        async def open_customers() -> set[int]:
            async with sessions() as reader:
                return {row.thread.customer_id for row in await views.page(reader, View.open, user_id=0)}

        before = await open_customers()
        assert ayse.absorbed in before
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        assert ayse.absorbed not in await open_customers()
        await _undo(sessions, merge.id or 0)
        assert await open_customers() == before


class TestUndo:
    async def test_restores_both_customers_exactly(self, sessions, ayse):
        survivor_before = await _snapshot(sessions, ayse.survivor)
        absorbed_before = await _snapshot(sessions, ayse.absorbed)
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        await _undo(sessions, merge.id or 0)
        assert await _snapshot(sessions, ayse.absorbed) == absorbed_before
        survivor_after = await _snapshot(sessions, ayse.survivor)
        # The survivor keeps the two notes of what happened, and nothing else new.
        assert [m["text"] for m in survivor_after["messages"][len(survivor_before["messages"]):]] == [
            "merged Ayse into this customer", "undid the merge of Ayse into this customer"]
        survivor_after["messages"] = survivor_after["messages"][:len(survivor_before["messages"])]
        assert survivor_after == survivor_before

    async def test_the_absorbed_id_answers_with_itself_again(self, sessions, session, ayse):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        await _undo(sessions, merge.id or 0)
        customer = await customers.get(session, ayse.absorbed)
        assert (customer.id, customer.absorbed_into_id) == (ayse.absorbed, None)
        assert await customers.count(session) == 2

    async def test_a_message_that_arrived_after_the_merge_stays_with_the_survivor(self, sessions, session, ayse,
                                                                                  ingest_config):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        later = await _say(sessions, ingest_config, Channel.email, "<m3@example.net>", AYSE_EMAIL, "Geldi mi?",
                           datetime.now(UTC))
        assert later.customer_id == ayse.survivor
        await _undo(sessions, merge.id or 0)
        assert await _texts(session, ayse.survivor) == ["Siparişim nerede?", "Hâlâ bekliyorum", "Geldi mi?"]
        assert await _texts(session, ayse.absorbed) == ["Kargo takip numarası var mı?", "Teşekkürler"]
        assert (await _thread(session, ayse.survivor)).last_preview == "Geldi mi?"

    async def test_reopens_the_suggestion_it_accepted(self, sessions, session, ayse):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        await _undo(sessions, merge.id or 0)
        suggestion = (await session.execute(select(MergeSuggestion))).scalar_one()
        assert (suggestion.status, suggestion.decided_at) == ("open", None)

    async def test_a_followed_suggestion_goes_back_to_the_absorbed_customer(self, sessions, session, ayse,
                                                                          ingest_config):
        mehmet = await _say(sessions, ingest_config, Channel.whatsapp, "SM1", MEHMET_WA, "Merhaba", MONDAY)
        async with transaction(sessions) as tx:
            await customers.suggest(tx, customer_id=ayse.absorbed, other_id=mehmet.customer_id or 0, reason="same name")
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        await _undo(sessions, merge.id or 0)
        pairs = {(s.customer_id, s.other_id) for s in await customers.open_suggestions(session, ayse.absorbed)}
        assert pairs == {(ayse.survivor, ayse.absorbed), tuple(sorted((ayse.absorbed, mehmet.customer_id or 0)))}

    async def test_leaves_an_audit_record(self, sessions, session, ayse):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        undone = await _undo(sessions, merge.id or 0)
        assert undone.undone_at is not None
        audit = (await session.execute(select(AuditEvent).where(AuditEvent.action == "customer.unmerged"))).scalar_one()
        assert (audit.actor, audit.subject_id, audit.data["merge_id"]) == (AGENT, ayse.survivor, merge.id)

    async def test_undoing_twice_is_a_conflict(self, sessions, ayse):
        merge = await _merge(sessions, ayse.survivor, ayse.absorbed)
        await _undo(sessions, merge.id or 0)
        with pytest.raises(Conflict):
            await _undo(sessions, merge.id or 0)

    async def test_an_unknown_merge_is_not_found(self, sessions):
        with pytest.raises(NotFound):
            await _undo(sessions, 404)

    async def test_after_the_survivor_was_merged_again_the_later_merge_must_be_undone_first(
            self, sessions, session, ayse, ingest_config):
        mehmet = await _say(sessions, ingest_config, Channel.whatsapp, "SM1", MEHMET_WA, "Merhaba", MONDAY)
        mehmet_id = mehmet.customer_id or 0
        first = await _merge(sessions, ayse.survivor, ayse.absorbed)
        second = await _merge(sessions, mehmet_id, ayse.survivor)
        with pytest.raises(Conflict, match=f"undo merge {second.id} first"):
            await _undo(sessions, first.id or 0)
        await _undo(sessions, second.id or 0)
        await _undo(sessions, first.id or 0)
        for customer_id in (ayse.survivor, ayse.absorbed, mehmet_id):
            assert (await customers.get(session, customer_id)).id == customer_id
        assert await _texts(session, mehmet_id) == ["Merhaba"]
        assert await _texts(session, ayse.absorbed) == ["Kargo takip numarası var mı?", "Teşekkürler"]
