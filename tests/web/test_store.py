"""The store employee's lookup and the call forms, through the real server: who may do what, and the audit log."""

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from inbox.agents.models import Role
from inbox.audit import AuditEvent
from inbox.db import transaction, utcnow
from inbox.messages.models import Message
from inbox.orders import service as orders
from inbox.threads import service as threads
from tests.ui.steps import customer_writes
from tests.web.users import signed_in

AYSE_PHONE = "+905321234567"


@pytest.fixture
async def store(server, sessions) -> httpx.AsyncClient:
    return await signed_in(server, sessions, Role.store, name="Kadıköy Mağaza")


async def _ayse(sessions, ingest_config) -> int:
    customer_id = await customer_writes(sessions, ingest_config, "SM1", AYSE_PHONE, "Ayşe Yılmaz", "Kargom nerede?")
    async with transaction(sessions) as session:
        await orders.upsert(session, orders.IncomingOrder(
            external_id="5001", number="1002", status="shipped", total=Decimal("349.90"), currency="TRY",
            placed_at=utcnow(), phone=AYSE_PHONE), region="TR")
    return customer_id


async def _audited(sessions, action: str) -> list[AuditEvent]:
    async with sessions() as reader:
        return list((await reader.execute(select(AuditEvent).where(col(AuditEvent.action) == action)
                                          .order_by(col(AuditEvent.id)))).scalars())


class TestLookup:
    @pytest.mark.parametrize("typed", ["0532 123 45 67", "+90 (532) 123-4567", "#1002"])
    async def test_a_phone_any_way_or_an_order_number_finds_the_shopper(self, store, sessions, ingest_config,
                                                                        typed: str) -> None:
        await _ayse(sessions, ingest_config)
        found = await store.get("/store", params={"q": typed})
        assert found.status_code == 200 and "Ayşe Yılmaz" in found.text

    async def test_every_lookup_and_every_card_opened_is_in_the_audit_log(self, store, sessions,
                                                                          ingest_config) -> None:
        customer_id = await _ayse(sessions, ingest_config)
        await store.get("/store", params={"q": "0532 123 45 67"})
        card = await store.get(f"/store/customers/{customer_id}")
        assert card.status_code == 200 and "Kargom nerede?" in card.text and "#1002" in card.text
        # Read only: no composer, no Retry, nothing that answers the customer.
        assert 'name="kind" value="reply"' not in card.text and "/replies" not in card.text
        [looked] = await _audited(sessions, "store.lookup")
        [viewed] = await _audited(sessions, "store.view")
        assert looked.actor.endswith(":store@shop.example") and looked.data == {
            "q": "0532 123 45 67", "customer_ids": [customer_id]}
        assert (viewed.subject_type, viewed.subject_id) == ("customer", customer_id)

    async def test_the_store_role_reaches_neither_the_inbox_nor_admin(self, store) -> None:
        for path in ("/inbox", "/search", "/admin/users", "/api/v1/customers?q=a"):
            response = await store.get(path, follow_redirects=False)
            assert response.status_code in (401, 403), path
        home = await store.get("/", follow_redirects=False)
        assert home.headers["location"] == "/store"


class TestInStoreNote:
    async def test_a_note_lands_in_the_thread_and_the_card_shows_it(self, store, sessions, ingest_config) -> None:
        customer_id = await _ayse(sessions, ingest_config)
        added = await store.post(f"/store/customers/{customer_id}/notes", data={
            "kind": "in_person", "number": "", "outcome": "resolved", "summary": "İadeyi mağazada teslim aldım"})
        assert added.status_code == 303 and added.headers["location"] == f"/store/customers/{customer_id}?saved=note"
        card = await store.get(added.headers["location"])
        assert "İadeyi mağazada teslim aldım" in card.text and "In person" in card.text
        async with sessions() as reader:
            note = (await reader.execute(select(Message).where(col(Message.direction) == "note"))).scalar_one()
        assert (note.author_name, note.channel, note.extra["call"]["kind"]) == ("Kadıköy Mağaza", "phone", "in_person")

    async def test_replies_wait_for_an_admin_to_allow_them(self, server, store, sessions, ingest_config) -> None:
        customer_id = await _ayse(sessions, ingest_config)
        reply = {"channel": "whatsapp", "text": "Siparişiniz mağazada hazır."}
        refused = await store.post(f"/store/customers/{customer_id}/replies", data=reply)
        assert refused.status_code == 409 and "Admin → Store" in refused.text
        admin = await signed_in(server, sessions, Role.admin)
        assert (await admin.post("/admin/store", data={"can_reply": "true"})).status_code == 303
        assert 'name="can_reply" value="true" checked' in (await admin.get("/admin/store")).text
        card = await store.get(f"/store/customers/{customer_id}")
        assert "/replies" in card.text
        sent = await store.post(f"/store/customers/{customer_id}/replies", data=reply)
        assert sent.status_code == 303
        async with sessions() as reader:
            queued = (await reader.execute(select(Message).where(col(Message.direction) == "outbound"))).scalar_one()
        assert (queued.text, queued.author_name) == ("Siparişiniz mağazada hazır.", "Kadıköy Mağaza")
        [switched] = await _audited(sessions, "option.set")
        assert switched.data == {"key": "store_can_reply", "value": True}


class TestAgentLogsACall:
    async def test_a_confirmed_whatsapp_number_takes_the_call_to_that_thread(self, server, sessions,
                                                                            ingest_config) -> None:
        ayse = await _ayse(sessions, ingest_config)
        walk_in = await customer_writes(sessions, ingest_config, "SM2", "+905551112233", "Bilinmeyen", "Alo?")
        agent = await signed_in(server, sessions, Role.agent, name="Ayşe Demir")
        async with sessions() as reader:
            walk_in_thread = (await threads.for_customer(reader, walk_in)).id
            ayse_thread = (await threads.for_customer(reader, ayse)).id
        logged = await agent.post(f"/inbox/threads/{walk_in_thread}/calls", headers={"HX-Request": "true"}, data={
            "kind": "incoming", "number": "0532 123 45 67", "confirmed": "true", "minutes": "3",
            "outcome": "follow_up", "summary": "Kurye adresi bulamamış, yarın tekrar gelecek"})
        assert logged.status_code == 200
        assert logged.headers["hx-push-url"] == f"/inbox/threads/{ayse_thread}?view=unassigned"
        assert "Kurye adresi bulamamış" in logged.text and "Kargom nerede?" in logged.text
        assert "Incoming call · +905321234567 · 3 min · needs a follow-up · number confirmed" in logged.text
