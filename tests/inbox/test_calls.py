from decimal import Decimal

import pytest

from inbox.calls import CallKind, Outcome, log_call
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.errors import Invalid
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.orders import service as orders
from inbox.threads import service as threads

AYSE_PHONE = "+905321234567"


async def _whatsapp_customer(sessions, ingest_config, phone: str = AYSE_PHONE, name: str = "Ayşe Yılmaz") -> int:
    async with transaction(sessions) as session:
        written = await ingest(session, InboundMessage(Channel.whatsapp, f"SM-{phone}", Party(
            f"whatsapp:{phone}", AddressKind.phone, True, name), text="Kargom nerede?"), config=ingest_config)
    return written.customer_id or 0


async def _log(session, customer_id: int | None, number: str, *, confirmed: bool = True,
               kind: CallKind = CallKind.incoming, summary: str = "Kargo yarın gelecek dedim") -> int:
    note = await log_call(session, customer_id=customer_id, kind=kind, number=number, confirmed=confirmed,
                          minutes=4, summary=summary, outcome=Outcome.resolved, region="TR", author_user_id=None,
                          author_name="Kadıköy Mağaza", actor="user:9:store@shop.example")
    return note.thread_id


class TestLogCall:
    async def test_a_confirmed_number_typed_any_way_lands_in_the_whatsapp_thread(self, sessions, session,
                                                                                  ingest_config) -> None:
        ayse = await _whatsapp_customer(sessions, ingest_config)
        thread_id = await _log(session, None, "0532 123 45 67")
        assert thread_id == (await threads.for_customer(session, ayse)).id
        phone = await customers.find_identity(session, channel=Channel.phone, address=AYSE_PHONE)
        assert phone is not None and (phone.customer_id, phone.verified) == (ayse, True)

    async def test_the_note_says_what_happened_and_is_never_sent(self, sessions, session, ingest_config) -> None:
        ayse = await _whatsapp_customer(sessions, ingest_config)
        note = await log_call(session, customer_id=ayse, kind=CallKind.outgoing, number=AYSE_PHONE,
                              confirmed=True, minutes=12, summary="İade sürecini anlattım",
                              outcome=Outcome.follow_up, region="TR", author_user_id=None, author_name="Can",
                              actor="user:2:can@shop.example")
        assert (note.direction, note.channel, note.delivery_status, note.text) == (
            "note", "phone", None, "İade sürecini anlattım")
        assert note.extra == {"call": {"kind": "outgoing", "number": AYSE_PHONE, "confirmed": True,
                                       "seconds": 720, "outcome": "follow_up"}}

    async def test_confirmed_on_another_customer_proves_them_one_person(self, sessions, session,
                                                                        ingest_config) -> None:
        ayse = await _whatsapp_customer(sessions, ingest_config)
        async with transaction(sessions) as writing:
            walk_in = (await customers.create(writing, name="Mağazaya gelen")).id or 0
        thread_id = await _log(session, walk_in, AYSE_PHONE)
        # The older customer survives, with the call in the one thread that has the WhatsApp history.
        assert thread_id == (await threads.for_customer(session, ayse)).id
        assert (await customers.get(session, walk_in)).id == ayse

    async def test_an_unconfirmed_number_only_suggests(self, sessions, session, ingest_config) -> None:
        ayse = await _whatsapp_customer(sessions, ingest_config)
        async with transaction(sessions) as writing:
            walk_in = (await customers.create(writing, name="Mağazaya gelen")).id or 0
        thread_id = await _log(session, walk_in, AYSE_PHONE, confirmed=False)
        assert thread_id == (await threads.for_customer(session, walk_in)).id
        assert [(s.customer_id, s.other_id) for s in await customers.open_suggestions(session, walk_in)] == [
            (ayse, walk_in)]

    async def test_a_number_only_an_order_gave_becomes_the_callers_once_confirmed(self, sessions, session) -> None:
        placed = await orders.upsert(session, orders.IncomingOrder(
            external_id="1002", status="paid", total=Decimal("10"), currency="TRY", placed_at=utcnow(),
            phone="0532 123 45 67", name="Ayşe"), region="TR")
        buyer = placed[0].customer_id
        thread_id = await _log(session, None, AYSE_PHONE)
        assert thread_id == (await threads.for_customer(session, buyer)).id
        phone = await customers.find_identity(session, channel=Channel.phone, address=AYSE_PHONE)
        assert phone is not None and phone.verified

    async def test_a_new_number_is_a_new_customer(self, session) -> None:
        thread_id = await _log(session, None, "+14155550123")
        thread = await threads.get(session, thread_id)
        phone = await customers.find_identity(session, channel=Channel.phone, address="+14155550123")
        assert phone is not None and phone.customer_id == thread.customer_id

    async def test_in_person_needs_no_number_but_a_customer(self, sessions, session, ingest_config) -> None:
        ayse = await _whatsapp_customer(sessions, ingest_config)
        thread_id = await _log(session, ayse, "", kind=CallKind.in_person)
        assert thread_id == (await threads.for_customer(session, ayse)).id
        with pytest.raises(Invalid, match="number"):
            await _log(session, None, "", kind=CallKind.in_person)

    @pytest.mark.parametrize(("number", "summary", "field"), [
        ("not a number", "x", "number"), (AYSE_PHONE, "   ", "summary"), ("", "x", "number")])
    async def test_what_cannot_be_logged_names_the_field(self, session, number: str, summary: str,
                                                         field: str) -> None:
        with pytest.raises(Invalid) as refused:
            await _log(session, None, number, summary=summary)
        assert refused.value.field == field
