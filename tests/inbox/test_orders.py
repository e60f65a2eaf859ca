from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.db import transaction
from inbox.errors import Invalid
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.orders import service as orders
from inbox.orders.models import Order, OrderLine
from inbox.orders.service import IncomingLine, IncomingOrder, OrderWithLines
from inbox.search import search

PLACED = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
AYSE_WA = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
AYSE_MAIL = Party("ayse@example.net", AddressKind.email, True, "Ayşe Yılmaz")
MEHMET_MAIL = Party("mehmet@example.net", AddressKind.email, True, "Mehmet Kaya")
ORDER_1042 = IncomingOrder(
    external_id="shop-1042", number="#1042", status="paid", total=Decimal("1249.90"), currency="try",
    placed_at=PLACED, email="Zeynep@Example.net", phone="+90 555 111 22 33", name="Zeynep Demir",
    lines=(IncomingLine(sku="TSH-M", title="Keten gömlek", quantity=2, price=Decimal("450.00")),
           IncomingLine(sku="SCK-1", title="Çorap", quantity=1, price=Decimal("349.90"))),
)


async def _upsert(sessions: async_sessionmaker[AsyncSession], incoming: IncomingOrder) -> OrderWithLines:
    async with transaction(sessions) as session:
        return await orders.upsert(session, incoming, region="TR")


async def _customer_from(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, channel: Channel,
                         party: Party) -> int:
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(channel, f"{channel}-{party.address}", party, text="Merhaba"),
                              config=config)
    assert result.customer_id is not None
    return result.customer_id


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[Order | OrderLine | Customer]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestUpsert:
    async def test_a_new_buyer_becomes_a_customer_with_claimed_identities(self, sessions, session) -> None:
        order, lines = await _upsert(sessions, ORDER_1042)
        assert (order.number, order.status, order.total, order.currency, order.placed_at) == (
            "1042", "paid", Decimal("1249.90"), "TRY", PLACED)
        assert [(line.sku, line.title, line.quantity, line.price) for line in lines] == [
            ("TSH-M", "Keten gömlek", 2, Decimal("450.00")), ("SCK-1", "Çorap", 1, Decimal("349.90"))]
        customer = await customers.get(session, order.customer_id)
        assert customer.name == "Zeynep Demir"
        # The shop's checkout did not prove these addresses to us.
        assert [(i.channel, i.address, i.verified) for i in await customers.identities(session, order.customer_id)] == [
            ("email", "zeynep@example.net", False), ("phone", "+905551112233", False)]

    async def test_joins_the_whatsapp_customer_whose_phone_is_written_differently(
            self, sessions, ingest_config) -> None:
        ayse = await _customer_from(sessions, ingest_config, Channel.whatsapp, AYSE_WA)
        order, _ = await _upsert(sessions, replace(ORDER_1042, email=None, phone="0532 123 45 67", name="A. Yılmaz"))
        assert order.customer_id == ayse
        assert await _count(sessions, Customer) == 1

    async def test_joins_the_customer_who_proved_the_email(self, sessions, ingest_config) -> None:
        ayse = await _customer_from(sessions, ingest_config, Channel.email, AYSE_MAIL)
        order, _ = await _upsert(sessions, replace(ORDER_1042, email="AYSE@example.net", phone=None))
        assert order.customer_id == ayse

    async def test_a_verified_email_wins_over_a_verified_phone_of_someone_else(self, sessions, ingest_config) -> None:
        mehmet = await _customer_from(sessions, ingest_config, Channel.email, MEHMET_MAIL)
        await _customer_from(sessions, ingest_config, Channel.whatsapp, AYSE_WA)
        order, _ = await _upsert(sessions, replace(ORDER_1042, email="mehmet@example.net", phone="05321234567"))
        assert order.customer_id == mehmet

    async def test_a_second_order_with_the_same_claimed_email_joins_the_first_buyer(self, sessions) -> None:
        first, _ = await _upsert(sessions, ORDER_1042)
        second, _ = await _upsert(sessions, replace(ORDER_1042, external_id="shop-1043", number="1043", phone=None))
        assert second.customer_id == first.customer_id
        assert await _count(sessions, Customer) == 1

    async def test_the_same_order_twice_is_one_order_with_its_lines_replaced(self, sessions, session) -> None:
        first, _ = await _upsert(sessions, ORDER_1042)
        shipped = replace(ORDER_1042, status="shipped", tracking_url="https://kargo.example/T1",
                          lines=(IncomingLine(sku="TSH-M", title="Keten gömlek", quantity=1, price=Decimal("450")),))
        await _upsert(sessions, shipped)
        second, lines = await _upsert(sessions, shipped)
        assert second.id == first.id
        assert (second.status, second.tracking_url) == ("shipped", "https://kargo.example/T1")
        assert [(line.title, line.quantity) for line in lines] == [("Keten gömlek", 1)]
        assert (await _count(sessions, Order), await _count(sessions, OrderLine)) == (1, 1)
        [(stored, stored_lines)] = await orders.for_customer(session, first.customer_id)
        assert (stored.status, [line.quantity for line in stored_lines]) == ("shipped", [1])

    async def test_an_older_update_arriving_late_changes_nothing(self, sessions, session) -> None:
        await _upsert(sessions, replace(ORDER_1042, status="shipped", updated_at=PLACED + timedelta(hours=2)))
        late = await _upsert(sessions, replace(ORDER_1042, status="paid", lines=(),
                                               updated_at=PLACED + timedelta(hours=1)))
        assert late[0].status == "shipped" and len(late[1]) == 2
        [(stored, stored_lines)] = await orders.for_customer(session, late[0].customer_id)
        assert (stored.status, len(stored_lines)) == ("shipped", 2)

    async def test_a_newer_update_applies(self, sessions) -> None:
        await _upsert(sessions, replace(ORDER_1042, status="paid", updated_at=PLACED))
        newer, _ = await _upsert(sessions, replace(ORDER_1042, status="delivered", updated_at=PLACED + timedelta(1)))
        assert newer.status == "delivered"

    async def test_an_update_that_does_not_say_when_still_loses_to_nothing_older(self, sessions) -> None:
        await _upsert(sessions, replace(ORDER_1042, status="paid", updated_at=PLACED + timedelta(hours=2)))
        await _upsert(sessions, replace(ORDER_1042, status="shipped"))
        late, _ = await _upsert(sessions, replace(ORDER_1042, status="cancelled",
                                                  updated_at=PLACED + timedelta(hours=1)))
        assert late.status == "shipped"

    async def test_answers_money_in_cents_and_times_in_utc_as_they_are_stored(self, sessions, session) -> None:
        istanbul = timezone(timedelta(hours=3))
        order, lines = await _upsert(sessions, replace(
            ORDER_1042, total=Decimal("349.9"), placed_at=PLACED.astimezone(istanbul),
            lines=(IncomingLine(title="Çorap", quantity=1, price=Decimal("349.9")),)))
        assert (str(order.total), str(lines[0].price), order.placed_at) == ("349.90", "349.90", PLACED)
        assert order.placed_at is not None and order.placed_at.tzinfo == UTC
        [(stored, stored_lines)] = await orders.for_customer(session, order.customer_id)
        assert (str(stored.total), str(stored_lines[0].price), stored.placed_at) == ("349.90", "349.90", PLACED)

    async def test_a_time_without_a_zone_names_its_field_and_writes_nothing(self, sessions) -> None:
        with pytest.raises(Invalid) as raised:
            await _upsert(sessions, replace(ORDER_1042, placed_at=PLACED.replace(tzinfo=None)))
        assert raised.value.field == "placed_at"
        assert (await _count(sessions, Order), await _count(sessions, Customer)) == (0, 0)

    async def test_is_found_by_its_number(self, sessions, session) -> None:
        order, _ = await _upsert(sessions, ORDER_1042)
        assert [(hit.ref_id, hit.customer_id) for hit in await search(session, "1042", kind="order")] == [
            (order.id, order.customer_id)]
        assert [hit.ref_id for hit in await search(session, "gomlek", kind="order")] == [order.id]
        assert [c.id for c in await customers.lookup(session, "#1042", region="TR")] == [order.customer_id]
        assert [c.id for c in await customers.lookup(session, "shop-1042", region="TR")] == [order.customer_id]

    async def test_a_changed_number_is_found_only_by_the_new_one(self, sessions, session) -> None:
        order, _ = await _upsert(sessions, ORDER_1042)
        await _upsert(sessions, replace(ORDER_1042, number="1042-B", lines=()))
        assert [hit.ref_id for hit in await search(session, "1042 B", kind="order")] == [order.id]
        assert await search(session, "gomlek", kind="order") == []

    async def test_an_order_for_a_merged_away_customer_lands_on_the_survivor(self, sessions, ingest_config) -> None:
        ayse = await _customer_from(sessions, ingest_config, Channel.whatsapp, AYSE_WA)
        first, _ = await _upsert(sessions, replace(ORDER_1042, phone=None))
        async with transaction(sessions) as session:
            await merges.merge(session, survivor_id=ayse, absorbed_id=first.customer_id, actor="user:deniz")
        updated, _ = await _upsert(sessions, replace(ORDER_1042, phone=None, status="shipped"))
        another, _ = await _upsert(sessions, replace(ORDER_1042, external_id="shop-1043", phone=None))
        assert (updated.customer_id, another.customer_id) == (ayse, ayse)

    async def test_no_email_and_no_phone_names_the_customer_and_writes_nothing(self, sessions) -> None:
        with pytest.raises(Invalid) as raised:
            await _upsert(sessions, replace(ORDER_1042, email=None, phone=None))
        assert raised.value.field == "customer"
        assert (await _count(sessions, Order), await _count(sessions, Customer)) == (0, 0)

    @pytest.mark.parametrize(("email", "phone", "field"), [
        ("zeynep at example", None, "customer.email"),
        (None, "call me", "customer.phone"),
    ])
    async def test_a_malformed_address_names_its_field(self, sessions, email, phone, field) -> None:
        with pytest.raises(Invalid) as raised:
            await _upsert(sessions, replace(ORDER_1042, email=email, phone=phone))
        assert raised.value.field == field
        assert await _count(sessions, Order) == 0

    async def test_an_empty_external_id_is_invalid(self, sessions) -> None:
        with pytest.raises(Invalid) as raised:
            await _upsert(sessions, replace(ORDER_1042, external_id="  "))
        assert raised.value.field == "external_id"


class TestForCustomer:
    async def test_newest_order_first_each_with_its_own_lines(self, sessions, session) -> None:
        older, _ = await _upsert(sessions, ORDER_1042)
        newer, _ = await _upsert(sessions, replace(
            ORDER_1042, external_id="shop-1050", number="1050", placed_at=PLACED + timedelta(days=3),
            lines=(IncomingLine(title="Şal", quantity=1, price=Decimal("99.00")),)))
        found = await orders.for_customer(session, older.customer_id)
        assert [(order.number, [line.title for line in lines]) for order, lines in found] == [
            ("1050", ["Şal"]), ("1042", ["Keten gömlek", "Çorap"])]
        assert newer.customer_id == older.customer_id

    async def test_a_customer_without_orders_has_none(self, sessions, session, ingest_config) -> None:
        ayse = await _customer_from(sessions, ingest_config, Channel.whatsapp, AYSE_WA)
        assert await orders.for_customer(session, ayse) == []
