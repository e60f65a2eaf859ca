"""The sidebar's profile, read in one statement, is what the one-table reads give."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from inbox.channels import AddressKind, Channel
from inbox.customers import profile
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.orders import service as orders
from inbox.orders.models import OrderLine
from inbox.preferences import service as preferences
from inbox.threads import service as threads
from tests.factories import make_consent, make_order, make_preference

START = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _rows(found) -> list[dict]:
    return [row.model_dump() for row in found]


async def _regular(sessions) -> tuple[int, int]:
    async with transaction(sessions) as tx:
        me = await customers.create(tx, name="Ayşe Yılmaz")
        other = await customers.create(tx, name="A. Yılmaz")
        cid = me.id or 0
        await customers.add_identity(tx, customer_id=cid, channel=Channel.whatsapp, kind=AddressKind.phone,
                                     address="+905321234567", verified=True, display="0532 123 45 67")
        await customers.add_identity(tx, customer_id=cid, channel=Channel.email, kind=AddressKind.email,
                                     address="ayse@example.com", verified=False)
        for n in range(14):
            order = await make_order(tx, customer_id=cid, external_id=f"ext-{n}", number=str(1000 + n),
                                     total=f"{n * 111}.9", placed_at=START + timedelta(days=n) if n != 3 else None)
            tx.add_all([OrderLine(order_id=order.id or 0, sku=f"s{n}-{i}", title=f"Kazak {i}", quantity=i + 1,
                                  price=Decimal("349.90") + i) for i in range(n % 3)])
        await make_preference(tx, customer_id=cid, key="shoe_size", value="38", source_channel="whatsapp",
                              stated_at=START)
        await make_preference(tx, customer_id=cid, key="shoes", value="flat")
        await make_preference(tx, customer_id=cid, key="beden", value="M", source="stated")
        await make_consent(tx, customer_id=cid, channel="whatsapp", granted=True, recorded_at=START)
        await make_consent(tx, customer_id=cid, channel="whatsapp", granted=False, source="agent",
                           recorded_at=START + timedelta(hours=1))
        await make_consent(tx, customer_id=cid, channel="email", recorded_at=START)
        await customers.suggest(tx, customer_id=cid, other_id=other.id or 0, reason="same phone")
        return cid, other.id or 0


class TestLoad:
    async def test_every_part_equals_its_one_table_read(self, sessions, session) -> None:
        cid, _ = await _regular(sessions)
        whole = await profile.load(session, cid, orders_limit=10)
        assert whole.customer.id == cid and whole.thread.id == (await threads.for_customer(session, cid)).id
        assert _rows(whole.identities) == _rows(await customers.identities(session, cid))
        assert _rows(whole.preferences) == _rows(await preferences.for_customer(session, cid))
        assert _rows(whole.consents) == _rows(await preferences.consents_in_force(session, cid))
        assert _rows(whole.suggestions) == _rows(await customers.open_suggestions(session, cid))
        expected = await orders.for_customer(session, cid, limit=10)
        assert [(order.model_dump(), _rows(lines)) for order, lines in whole.orders] == \
            [(order.model_dump(), _rows(lines)) for order, lines in expected]
        assert whole.orders_total == 14
        assert all(isinstance(order.total, Decimal) and order.total.as_tuple().exponent == -2
                   for order, _ in whole.orders)

    async def test_a_customer_read_already_is_not_read_again_and_gives_the_same(self, sessions, session) -> None:
        cid, _ = await _regular(sessions)
        thread, customer = await threads.get_with_customer(session, (await threads.for_customer(session, cid)).id or 0)
        known = await profile.load(session, cid, known=(customer, thread))
        fresh = await profile.load(session, cid)
        assert known.customer is customer and known.thread is thread
        assert _rows(known.identities) == _rows(fresh.identities) and known.orders_total == fresh.orders_total == 14
        assert len(known.orders) == 14

    async def test_an_absorbed_customer_answers_with_the_survivor(self, sessions, session) -> None:
        from inbox.customers import merge

        cid, other = await _regular(sessions)
        async with transaction(sessions) as tx:
            await merge.merge(tx, survivor_id=cid, absorbed_id=other, actor="test")
        gone_thread, gone = await threads.get_with_customer(
            session, (await threads.for_customer(session, other)).id or 0)
        whole = await profile.load(session, other, known=(gone, gone_thread))
        assert whole.customer.id == cid and whole.thread.customer_id == cid
        assert whole.suggestions == []
