"""Erasing a customer leaves nothing personal in any table or in the file store, keeps the order for
the books, and a new message from the same address starts a stranger."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from inbox.audit import AuditEvent
from inbox.channels import AddressKind, Channel
from inbox.customers import erase as erasure
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.db import transaction
from inbox.errors import Invalid
from inbox.events import InboundMessage, IncomingFile, Party
from inbox.ingest import ingest
from inbox.media import fetch_due
from inbox.messages.models import Message
from inbox.orders.models import Order, OrderLine
from inbox.search import KINDS, search
from inbox.text import fold
from inbox.threads import service as threads
from inbox.visitors import service as visitors
from tests.conftest import TEST_DATABASE_URL
from tests.customer_record import (
    INVOICE,
    NAME,
    NEEDLES,
    PHONE,
    SECRET,
    SHARED,
    files_holding,
    personal_data_left,
    seed,
)
from tests.inbox.test_media import PHOTO, adapter, twilio
from tests.waiting import until

# The loopback Twilio and its adapter, as fixtures of this module too.
_FIXTURES = (twilio, adapter)

ADMIN = "user:1:admin@shop.example"


async def _erase(sessions, file_store, customer_id: int, confirm: str = "ERASE") -> erasure.Erased:
    async with transaction(sessions) as session:
        return await erasure.erase(session, customer_id, confirm=confirm, files=file_store, actor=ADMIN)


class TestErase:
    async def test_nothing_personal_is_left_in_any_table_or_file(self, sessions, ingest_config, file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        async with sessions() as session:
            assert {needle for _, _, needle in await personal_data_left(session)} == set(NEEDLES), \
                "the seed should put every needle somewhere, or the scan proves nothing"
        assert files_holding(file_store, INVOICE)

        erased = await _erase(sessions, file_store, seeded.customer_id)

        async with sessions() as session:
            assert await personal_data_left(session) == []
            # Searching for her finds nothing either.
            for kind in ("customer", "message", "order"):
                assert await search(session, "yilmaz", kind=kind) == []
                assert await search(session, "kapıcıya", kind=kind) == []
        assert files_holding(file_store, INVOICE) == []
        # Mehmet sent the same logo: his attachment still opens.
        assert len(files_holding(file_store, SHARED)) == 1
        assert erased.counts["files"] == 1 and erased.counts["customers"] == 2

    async def test_the_order_stays_for_the_books_without_the_customer(self, sessions, ingest_config,
                                                                       file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        await _erase(sessions, file_store, seeded.customer_id)
        async with sessions() as session:
            order = (await session.execute(select(Order))).scalar_one()
            lines = (await session.execute(select(OrderLine))).scalars().all()
            owner = await session.get(Customer, order.customer_id)
            thread = await threads.for_customer(session, order.customer_id)
            left = (await session.execute(select(Message).where(col(Message.thread_id) == thread.id))).all()
        assert (order.number, str(order.total), order.currency, order.tracking_url) == ("1042", "349.90", "TRY", None)
        assert [line.title for line in lines] == ["Pamuklu tişört"]
        assert owner is not None and (owner.name, owner.note) == ("", "")
        assert (thread.status, thread.last_preview, left) == ("resolved", "", [])

    async def test_the_audit_record_says_who_and_how_much_and_nothing_personal(self, sessions, ingest_config,
                                                                                file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        await _erase(sessions, file_store, seeded.customer_id)
        async with sessions() as session:
            record = (await session.execute(
                select(AuditEvent).where(col(AuditEvent.action) == "customer.erased"))).scalar_one()
        assert (record.actor, record.subject_id) == (ADMIN, seeded.customer_id)
        assert record.data["customer_ids"] == [seeded.customer_id, seeded.absorbed_id]
        assert record.data["messages"] >= 3 and record.data["identities"] >= 3 and record.data["orders"] == 1
        assert set(record.data) <= {"customer_ids", "customers", "attachments", "search_documents", "messages",
                                    "identities", "visitors", "preferences", "consents", "merge_suggestions",
                                    "orders", "live_events", "files"}

    async def test_a_new_message_from_the_same_address_starts_a_new_customer(self, sessions, ingest_config,
                                                                             file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        await _erase(sessions, file_store, seeded.customer_id)
        async with transaction(sessions) as session:
            again = await ingest(session, InboundMessage(
                Channel.whatsapp, "SMrights2", Party(f"whatsapp:{PHONE}", AddressKind.phone, True, NAME),
                text="Yeniden merhaba"), config=ingest_config)
        assert again.customer_id not in (seeded.customer_id, seeded.absorbed_id, None)
        async with sessions() as session:
            thread = await threads.for_customer(session, again.customer_id or 0)
            texts = (await session.execute(
                select(col(Message.text)).where(col(Message.thread_id) == thread.id,
                                                col(Message.direction) == "inbound"))).scalars().all()
            # The old customer id answers with the tombstone, never with the newcomer.
            tombstone = await customers.get(session, seeded.absorbed_id)
        assert texts == ["Yeniden merhaba"]
        assert tombstone.id == seeded.customer_id

    async def test_the_web_chat_token_no_longer_opens_her_chat(self, sessions, ingest_config, file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        async with sessions() as session:
            assert await visitors.by_token(session, secret=SECRET, token=seeded.visitor_token) is not None
        await _erase(sessions, file_store, seeded.customer_id)
        async with sessions() as session:
            assert await visitors.by_token(session, secret=SECRET, token=seeded.visitor_token) is None

    async def test_erasing_the_absorbed_id_erases_the_whole_person(self, sessions, ingest_config, file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        erased = await _erase(sessions, file_store, seeded.absorbed_id, confirm=NAME.upper())
        assert erased.customer_id == seeded.customer_id
        async with sessions() as session:
            assert await personal_data_left(session) == []

    @pytest.mark.parametrize("typed", ["", "erase it", "Ayşe"])
    async def test_without_the_name_or_erase_typed_nothing_is_erased(self, sessions, ingest_config, file_store,
                                                                     typed: str) -> None:
        seeded = await seed(sessions, ingest_config)
        with pytest.raises(Invalid):
            await _erase(sessions, file_store, seeded.customer_id, confirm=typed)
        async with sessions() as session:
            assert (await customers.get(session, seeded.customer_id)).name == NAME
        assert files_holding(file_store, INVOICE)

    async def test_another_customer_is_untouched(self, sessions, ingest_config, file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        await _erase(sessions, file_store, seeded.customer_id)
        async with sessions() as session:
            other = await customers.get(session, seeded.other_id)
            identities = await customers.identities(session, seeded.other_id)
        assert other.name == "Mehmet Kaya" and [i.address for i in identities] == ["mehmet@example.org"]


# Her distinctive words as the search index stores them, folded.
_HER_WORDS = ("ayse", "yilmaz", "905321234567", "gizli", "kapiciya", "alirim")


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="reads the SQLite file itself")
class TestNothingLeftInTheFile:
    async def test_neither_the_database_file_nor_the_search_index_keeps_a_trace(
            self, sessions, ingest_config, file_store, engine, db_url) -> None:
        seeded = await seed(sessions, ingest_config)
        await _erase(sessions, file_store, seeded.customer_id)
        async with engine.connect() as connection:
            terms: set[str] = set()
            for kind in KINDS:
                await connection.execute(text(
                    f"CREATE VIRTUAL TABLE temp.vocab_{kind} USING fts5vocab(main, search_fts_{kind}, 'row')"))
                terms |= set((await connection.execute(text(f"SELECT term FROM temp.vocab_{kind}"))).scalars())
        assert "mehmet" in terms  # the index is read: the other customer's words are there
        assert terms.isdisjoint(_HER_WORDS)
        await engine.dispose()
        path = Path(db_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert b"Mehmet Kaya" in raw
        left = [needle for needle in NEEDLES if needle.encode() in raw or fold(needle).encode() in raw]
        assert left == []


class TestEraseDuringADownload:
    async def test_a_file_still_downloading_when_its_customer_is_erased_is_not_kept(
            self, sessions, ingest_config, file_store, twilio, adapter) -> None:
        fake, whatsapp = twilio, adapter
        fake.cdn_gate = asyncio.Event()
        async with transaction(sessions) as session:
            sent = await ingest(session, InboundMessage(
                Channel.whatsapp, "SMphoto", Party(f"whatsapp:{PHONE}", AddressKind.phone, True, NAME), text="foto",
                files=(IncomingFile("ME1.jpg", "image/jpeg", url=fake.media_url("SMphoto", "ME1")),)),
                config=ingest_config)
        fetching = asyncio.create_task(fetch_due(sessions, {Channel.whatsapp: whatsapp}, file_store))
        await until(_downloading(fake))
        await _erase(sessions, file_store, sent.customer_id or 0)
        fake.cdn_gate.set()
        await fetching
        assert files_holding(file_store, PHOTO) == []
        async with sessions() as session:
            assert await personal_data_left(session) == []


def _downloading(fake):
    async def check() -> bool:
        return bool(fake.cdn_requests)
    return check


class TestEraseAfterAnUndoneMerge:
    async def test_the_other_customers_thread_no_longer_names_her(self, sessions, ingest_config, file_store) -> None:
        seeded = await seed(sessions, ingest_config)
        async with transaction(sessions) as session:
            record = await merges.merge(session, survivor_id=seeded.other_id, absorbed_id=seeded.customer_id,
                                        actor=ADMIN)
        async with transaction(sessions) as session:
            await merges.undo(session, record.id or 0, actor=ADMIN)
        async with sessions() as session:
            thread = await threads.for_customer(session, seeded.other_id)
            lines = (await session.execute(select(col(Message.text)).where(
                col(Message.thread_id) == thread.id, col(Message.direction) == "event"))).scalars().all()
        assert f"merged {NAME} into this customer" in lines

        await _erase(sessions, file_store, seeded.customer_id)
        async with sessions() as session:
            assert await personal_data_left(session) == []
            lines = (await session.execute(select(col(Message.text)).where(
                col(Message.thread_id) == thread.id, col(Message.direction) == "event"))).scalars().all()
        # The lines stay in Mehmet's history, naming her by id as a nameless customer's merge does.
        assert f"merged customer {seeded.customer_id} into this customer" in lines
        assert f"undid the merge of customer {seeded.customer_id} into this customer" in lines
