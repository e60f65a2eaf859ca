from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox.imports.orders import import_orders
from inbox.imports.table import Rejected
from inbox.orders import service as orders
from inbox.orders.models import Order

HEADER = "external_id,number,email,phone,name,status,total,currency,placed_at,store_name,tracking_url,items\n"
AYSE = ("1001,#1001,ayse@example.net,0532 123 45 67,Ayşe Yılmaz,paid,\"1.249,90\",TRY,2026-01-15T12:41:00+03:00,"
        ",,KUPA-4:1:749.90:Kupa Seti|ALTLIK-6:2:250\n")


async def run(sessions: async_sessionmaker[AsyncSession], text: str) -> tuple[int, int, int, list[Rejected]]:
    summary = await import_orders(sessions, text.encode(), region="TR", zone=UTC)
    return summary.created, summary.updated, summary.unchanged, summary.rejected


async def by_external_id(sessions: async_sessionmaker[AsyncSession], external_id: str) -> Order:
    async with sessions() as session:
        found = await orders.find(session, external_id)
    assert found is not None
    return found


class TestImportOrders:
    async def test_a_row_becomes_an_order_with_its_lines_and_a_customer(self, sessions) -> None:
        assert await run(sessions, HEADER + AYSE) == (1, 0, 0, [])
        order = await by_external_id(sessions, "1001")
        assert (order.number, order.total, order.status, order.placed_at) == (
            "1001", Decimal("1249.90"), "paid", datetime(2026, 1, 15, 9, 41, tzinfo=UTC))
        async with sessions() as session:
            lines = await orders.lines_of(session, order.id or 0)
        assert [(x.sku, x.title, x.quantity, x.price) for x in lines] == [
            ("KUPA-4", "Kupa Seti", 1, Decimal("749.90")), ("ALTLIK-6", "ALTLIK-6", 2, Decimal("250.00"))]

    async def test_the_same_file_again_changes_nothing_and_an_edited_row_updates(self, sessions) -> None:
        await run(sessions, HEADER + AYSE)
        first = await by_external_id(sessions, "1001")
        assert await run(sessions, HEADER + AYSE) == (0, 0, 1, [])
        assert (await by_external_id(sessions, "1001")).updated_at == first.updated_at
        shipped = AYSE.replace(",paid,", ",shipped,").replace(",,KUPA", ",https://kargo.example/T1,KUPA")
        assert await run(sessions, HEADER + shipped) == (0, 1, 0, [])
        order = await by_external_id(sessions, "1001")
        assert (order.status, order.tracking_url) == ("shipped", "https://kargo.example/T1")

    async def test_bad_rows_are_named_and_the_good_ones_around_them_kept(self, sessions) -> None:
        text = (HEADER + "1002,,,,,paid,100,TRY,2026-01-15T12:41:00+03:00,,,\n" + AYSE
                + "1003,,c@example.net,,,paid,100,TRY,2026-01-15,,,KUPA:x:1\n"
                + "1004,,d@example.net,,,paid,100,TRY,2026-01-15,,,\n")
        created, updated, unchanged, rejected = await run(sessions, text)
        assert (created, updated, unchanged) == (2, 0, 0)
        assert rejected == [Rejected(2, "customer: needs an email or a phone number"),
                            Rejected(4, "items: 'KUPA:x:1' is not sku:quantity:price (e.g. KUPA-4:2:749.90)")]
        async with sessions() as session:
            kept = (await session.execute(select(col(Order.external_id)).order_by(col(Order.external_id)))).all()
        assert [row[0] for row in kept] == ["1001", "1004"]
