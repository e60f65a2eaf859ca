from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.db import transaction
from inbox.events import (
    ContactShared,
    DeliveryStatus,
    DeliveryUpdate,
    DeliveryWatermark,
    InboundMessage,
    MessageEdited,
    Party,
)
from inbox.ingest import IngestConfig, ingest
from inbox.messages.models import Message
from inbox.replies import queue_reply
from inbox.threads.models import Thread

AYSE_WA = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")


async def _ingest(sessions: async_sessionmaker[AsyncSession], event, config: IngestConfig):  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        return await ingest(session, event, config=config)


async def _count(session: AsyncSession, model) -> int:  # type: ignore[no-untyped-def]
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestIngestMessage:
    async def test_first_message_creates_customer_identity_and_open_thread(self, sessions, session, ingest_config):
        result = await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba"),
                               ingest_config)
        assert result.outcome == "stored"
        customer = await session.get(Customer, result.customer_id)
        assert customer is not None and customer.name == "Ayşe Yılmaz"
        identity = (await session.execute(select(Identity))).scalar_one()
        assert (identity.channel, identity.kind, identity.address, identity.verified) == (
            "whatsapp", "phone", "+905321234567", True)
        thread = (await session.execute(select(Thread))).scalar_one()
        assert thread.status == "open" and thread.unread_count == 1 and thread.last_preview == "Merhaba"

    async def test_same_event_twice_is_stored_once(self, sessions, session, ingest_config):
        event = InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba")
        first = await _ingest(sessions, event, ingest_config)
        second = await _ingest(sessions, event, ingest_config)
        assert (first.outcome, second.outcome) == ("stored", "duplicate")
        assert await _count(session, Message) == 2  # the message and the "case opened" event
        assert (await session.execute(select(func.count()).select_from(Message)
                                      .where(Message.direction == "inbound"))).scalar_one() == 1

    async def test_one_verified_phone_on_two_channels_is_one_thread_in_time_order(
            self, sessions, session, ingest_config):
        monday = datetime(2026, 11, 16, 9, tzinfo=UTC)
        await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="pazartesi",
                                               provider_at=monday + timedelta(days=2)), ingest_config)
        # The same number, written the way a store employee types it, logged as a phone call.
        call = Party("0532 123 45 67", AddressKind.phone, True, "Ayşe")
        await _ingest(sessions, InboundMessage(Channel.phone, "call-1", call, text="aradı", provider_at=monday),
                      ingest_config)
        assert await _count(session, Customer) == 1
        assert await _count(session, Thread) == 1
        texts = (await session.execute(
            select(Message.channel, Message.text).where(Message.direction == "inbound").order_by(Message.at)
        )).all()
        assert [tuple(row) for row in texts] == [("phone", "aradı"), ("whatsapp", "pazartesi")]

    async def test_claimed_email_creates_a_suggestion_not_a_merge(self, sessions, session, ingest_config):
        verified = Party("ayse@example.net", AddressKind.email, True, "Ayşe")
        await _ingest(sessions, InboundMessage(Channel.email, "<a@x>", verified, text="sipariş"), ingest_config)
        claimed = Party("AYSE@example.net", AddressKind.email, False, "Ayse")
        result = await _ingest(sessions, InboundMessage(Channel.webchat, "w1", claimed, text="hi"), ingest_config)
        assert await _count(session, Customer) == 2
        suggestion = (await session.execute(select(MergeSuggestion))).scalar_one()
        assert result.customer_id in (suggestion.customer_id, suggestion.other_id)

    async def test_a_typed_phone_later_proven_on_whatsapp_is_a_suggestion_not_a_merge(self, sessions, session,
                                                                                       ingest_config):
        typed = Party("0532 123 45 67", AddressKind.phone, False, "Ayşe")
        first = await _ingest(sessions, InboundMessage(Channel.webchat, "w1", typed, text="merhaba"), ingest_config)
        second = await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="kargom"),
                               ingest_config)
        assert first.customer_id != second.customer_id
        suggestion = (await session.execute(select(MergeSuggestion))).scalar_one()
        assert {suggestion.customer_id, suggestion.other_id} == {first.customer_id, second.customer_id}

    async def test_the_case_opens_when_the_customer_wrote_not_when_the_webhook_came(
            self, sessions, session, ingest_config):
        # A provider delivering late (a retry hours after): the "opened" line stays just before the message.
        wrote = datetime.now(UTC) - timedelta(hours=3)
        await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="Merhaba", provider_at=wrote),
                      ingest_config)
        history = (await session.execute(select(Message).order_by(Message.at, Message.id))).scalars().all()
        assert [(m.direction, m.text) for m in history] == [("event", "case opened"), ("inbound", "Merhaba")]
        assert history[0].at == history[1].at == wrote

    async def test_resolved_thread_opens_a_new_case(self, sessions, session, ingest_config):
        from inbox.threads import service as threads
        from inbox.threads.models import Case, Status

        first = await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM1", AYSE_WA, text="a"), ingest_config)
        async with transaction(sessions) as tx:
            await threads.set_status(tx, await threads.get(tx, first.thread_id), status=Status.resolved)
        await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM2", AYSE_WA, text="b"), ingest_config)
        cases = (await session.execute(select(Case.number, Case.status).order_by(Case.id))).all()
        assert [tuple(c) for c in cases] == [(1, "resolved"), (2, "open")]


class TestIngestUpdates:
    async def test_edit_keeps_the_original(self, sessions, session, ingest_config):
        await _ingest(sessions, InboundMessage(Channel.telegram, "7:101", Party("7"), text="helo"), ingest_config)
        result = await _ingest(sessions, MessageEdited(Channel.telegram, "7:101", "hello"), ingest_config)
        assert result.outcome == "updated"
        message = (await session.execute(select(Message).where(Message.provider_id == "7:101"))).scalar_one()
        assert (message.text, message.original_text) == ("hello", "helo")

    async def test_delivery_status_never_goes_backwards(self, sessions, session, ingest_config):
        await _ingest(sessions, InboundMessage(Channel.whatsapp, "SMout", AYSE_WA, text="x"), ingest_config)
        for status in (DeliveryStatus.read, DeliveryStatus.delivered):
            await _ingest(sessions, DeliveryUpdate(Channel.whatsapp, "SMout", status), ingest_config)
        message = (await session.execute(select(Message).where(Message.provider_id == "SMout"))).scalar_one()
        assert message.delivery_status == "read"

    async def test_contact_share_of_a_new_number_adds_a_verified_phone(self, sessions, session, ingest_config):
        sender = Party("42", AddressKind.handle, True, "Ayşe")
        await _ingest(sessions, ContactShared(Channel.telegram, "42:5", sender,
                                              Party("905321234567", AddressKind.phone, True)), ingest_config)
        later = await _ingest(sessions, InboundMessage(Channel.whatsapp, "SM9", AYSE_WA, text="ben"), ingest_config)
        assert await _count(session, Customer) == 1
        phone = (await session.execute(select(Identity).where(Identity.kind == "phone",
                                                              Identity.channel == "telegram"))).scalar_one()
        assert phone.address == "+905321234567" and phone.customer_id == later.customer_id


PSID = Party("7123456789012345", AddressKind.handle, True, "Ayşe")
NOON = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def _sent_reply(sessions: async_sessionmaker[AsyncSession], customer_id: int, text: str, *,
                      at: datetime, status: DeliveryStatus = DeliveryStatus.sent) -> int:
    """A reply the worker sent at `at` (arranged in the database: the worker has its own tests)."""
    async with transaction(sessions) as session:
        reply = await queue_reply(session, customer_id=customer_id, channel=Channel.messenger, text=text, now=at)
        await session.execute(update(Message).where(Message.id == reply.id).values(
            delivery_status=str(status), claimed_at=at, provider_id=f"m_{text}"))
    assert reply.id is not None
    return reply.id


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str | None]:
    # Its own short session: on SQLite an open one would hold the only connection.
    async with sessions() as session:
        rows = await session.execute(
            select(Message.text, Message.delivery_status).where(Message.direction == "outbound"))
        return {text: status for text, status in rows}


class TestIngestWatermark:
    async def _customer(self, sessions, ingest_config) -> int:  # type: ignore[no-untyped-def]
        result = await _ingest(sessions, InboundMessage(Channel.messenger, "m_in", PSID, text="Merhaba",
                                                        provider_at=NOON - timedelta(hours=1)), ingest_config)
        assert result.customer_id is not None
        return result.customer_id

    async def test_replies_up_to_the_watermark_are_delivered_then_read(self, sessions, ingest_config, hub):
        customer = await self._customer(sessions, ingest_config)
        first = await _sent_reply(sessions, customer, "first", at=NOON)
        await _sent_reply(sessions, customer, "later", at=NOON + timedelta(minutes=5))
        live = hub.subscribe()
        delivered = await _ingest(sessions, DeliveryWatermark(Channel.messenger, PSID, DeliveryStatus.delivered,
                                                              NOON + timedelta(seconds=1)), ingest_config)
        assert delivered.outcome == "updated"
        assert await _statuses(sessions) == {"first": "delivered", "later": "sent"}
        # Through Redis the arrangement's own events may still be arriving: skip to the tick.
        while (event := await live.get(wait=5))["kind"] != "message.delivery":
            pass
        assert (event["customer_id"], event["data"]) == (
            customer, {"message_id": first, "status": "delivered", "error": None})
        await _ingest(sessions, DeliveryWatermark(Channel.messenger, PSID, DeliveryStatus.read,
                                                  NOON + timedelta(minutes=5)), ingest_config)
        assert await _statuses(sessions) == {"first": "read", "later": "read"}

    async def test_a_late_delivery_watermark_never_moves_read_back(self, sessions, ingest_config):
        customer = await self._customer(sessions, ingest_config)
        await _sent_reply(sessions, customer, "first", at=NOON)
        for status in (DeliveryStatus.read, DeliveryStatus.delivered):
            await _ingest(sessions, DeliveryWatermark(Channel.messenger, PSID, status, NOON + timedelta(hours=1)),
                          ingest_config)
        assert await _statuses(sessions) == {"first": "read"}

    async def test_failed_unsent_and_other_customers_replies_stay_as_they_are(self, sessions, ingest_config):
        customer = await self._customer(sessions, ingest_config)
        other = await _ingest(sessions, InboundMessage(Channel.messenger, "m_other", Party("999", name="Can"),
                                                       text="selam"), ingest_config)
        assert other.customer_id is not None
        await _sent_reply(sessions, customer, "failed", at=NOON, status=DeliveryStatus.failed)
        await _sent_reply(sessions, customer, "sending", at=NOON, status=DeliveryStatus.sending)
        await _sent_reply(sessions, other.customer_id, "to someone else", at=NOON)
        result = await _ingest(sessions, DeliveryWatermark(Channel.messenger, PSID, DeliveryStatus.read,
                                                           NOON + timedelta(hours=1)), ingest_config)
        assert result.outcome == "duplicate"
        assert await _statuses(sessions) == {"failed": "failed", "sending": "sending", "to someone else": "sent"}

    async def test_a_watermark_for_an_address_never_seen_is_ignored(self, sessions, ingest_config):
        result = await _ingest(sessions, DeliveryWatermark(Channel.messenger, Party("404"), DeliveryStatus.read,
                                                           NOON), ingest_config)
        assert result.outcome == "ignored"
