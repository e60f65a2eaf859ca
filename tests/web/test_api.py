"""The /api/v1 contract over real HTTP, against a real server and database."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.messages.models import Message

AYSE = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")


async def _customer(sessions: async_sessionmaker[AsyncSession], config: IngestConfig,
                    event: InboundMessage | None = None) -> int:
    async with transaction(sessions) as session:
        result = await ingest(session, event or InboundMessage(Channel.whatsapp, "SM1", AYSE, text="Kargom nerede?"),
                              config=config)
    assert result.customer_id is not None
    return result.customer_id


async def _count_messages(sessions: async_sessionmaker[AsyncSession], **where: str) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Message)
        for column, value in where.items():
            query = query.where(getattr(Message, column) == value)
        return int((await session.execute(query)).scalar_one())


class TestHealth:
    async def test_healthz_answers_ok_without_a_token(self, server: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server}/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}


class TestAuth:
    async def test_no_token_is_401(self, server: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server}/api/v1/customers/1")
        assert response.status_code == 401

    async def test_wrong_token_is_401(self, server: str) -> None:
        async with httpx.AsyncClient(headers={"Authorization": "Bearer ot_forged"}) as client:
            response = await client.get(f"{server}/api/v1/customers/1")
        assert response.status_code == 401


class TestCustomers:
    async def test_lookup_by_phone_in_any_format(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        for q in ("+90 532 123 45 67", "05321234567", "905321234567", "0532-123-4567"):
            response = await api.get("/api/v1/customers", params={"q": q})
            assert response.status_code == 200
            assert [c["id"] for c in response.json()["items"]] == [customer_id], q

    async def test_lookup_by_turkish_name_typed_without_turkish_keys(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.get("/api/v1/customers", params={"q": "ayse yilmaz"})
        assert [c["id"] for c in response.json()["items"]] == [customer_id]

    async def test_customer_shape(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        body = (await api.get(f"/api/v1/customers/{customer_id}")).json()
        assert body["name"] == "Ayşe Yılmaz"
        assert body["identities"] == [{"channel": "whatsapp", "address": "+905321234567", "verified": True}]
        assert body["status"] == "open" and body["assignee"] is None
        assert body["orders"] == [] and body["preferences"] == []

    async def test_unknown_customer_is_404(self, api) -> None:
        assert (await api.get("/api/v1/customers/999999")).status_code == 404


class TestMessages:
    async def test_reply_is_committed_and_queued_by_the_time_201_arrives(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "text": "Kargonuz yolda 🚚", "kind": "reply"})
        assert response.status_code == 201
        body = response.json()
        assert body["direction"] == "outbound" and body["delivery_status"] == "queued"
        async with sessions() as session:
            stored = await session.get(Message, body["id"])
        assert stored is not None and stored.text == "Kargonuz yolda 🚚"

    async def test_history_pages_oldest_first_within_a_page(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        for n in range(5):
            await _customer(sessions, ingest_config,
                            InboundMessage(Channel.whatsapp, f"SM-{n}", AYSE, text=f"mesaj {n}"))
        first = (await api.get(f"/api/v1/customers/{customer_id}/messages", params={"limit": 3})).json()
        assert [m["text"] for m in first["items"]] == ["mesaj 2", "mesaj 3", "mesaj 4"]
        second = (await api.get(f"/api/v1/customers/{customer_id}/messages",
                                params={"limit": 3, "before": first["next"]})).json()
        texts = [m["text"] for m in second["items"]]
        assert texts[-2:] == ["mesaj 0", "mesaj 1"] and "Kargom nerede?" in texts

    async def test_idempotency_key_never_creates_a_second_message(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        request = {"channel": "whatsapp", "text": "tekrar", "kind": "reply"}
        headers = {"Idempotency-Key": "retry-123"}
        first = await api.post(f"/api/v1/customers/{customer_id}/messages", json=request, headers=headers)
        second = await api.post(f"/api/v1/customers/{customer_id}/messages", json=request, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        assert await _count_messages(sessions, text="tekrar") == 1

    async def test_note_is_stored_as_note(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "text": "VIP müşteri", "kind": "note"})
        assert response.status_code == 201 and response.json()["direction"] == "note"
        assert response.json()["delivery_status"] is None


class TestBadInput:
    async def test_unknown_channel_names_the_field_and_writes_nothing(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        before = await _count_messages(sessions)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "fax", "text": "x"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "channel"
        assert await _count_messages(sessions) == before

    async def test_reply_on_a_channel_the_customer_lacks_names_the_field(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        before = await _count_messages(sessions)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "telegram", "text": "merhaba"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "channel"
        assert await _count_messages(sessions) == before

    async def test_empty_text_names_the_field(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "text": ""})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "text"

    async def test_malformed_json_is_422_not_500(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages", content=b"{not json",
                                  headers={"Content-Type": "application/json"})
        assert response.status_code == 422

    async def test_bad_cursor_names_the_field(self, api, sessions, ingest_config) -> None:
        customer_id = await _customer(sessions, ingest_config)
        response = await api.get(f"/api/v1/customers/{customer_id}/messages", params={"before": "garbage!!"})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "before"


class TestSearch:
    async def test_turkish_folding_finds_every_spelling(self, api, sessions, ingest_config) -> None:
        await _customer(sessions, ingest_config,
                        InboundMessage(Channel.whatsapp, "SM-t", AYSE, text="SİPARİŞ İSTANBUL IŞIK mağazası"))
        for q in ("istanbul", "İstanbul", "ISTANBUL", "ıstanbul", "ışık", "isik", "IŞIK", "siparis", "SİPARİŞ"):
            body = (await api.get("/api/v1/search", params={"q": q})).json()
            assert [m["text"] for m in body["messages"]] == ["SİPARİŞ İSTANBUL IŞIK mağazası"], q

    async def test_search_returns_newest_first(self, api, sessions, ingest_config) -> None:
        for n in range(3):
            await _customer(sessions, ingest_config,
                            InboundMessage(Channel.whatsapp, f"SM-k{n}", AYSE, text=f"kargo {n}"))
        body = (await api.get("/api/v1/search", params={"q": "kargo"})).json()
        assert [m["text"] for m in body["messages"]] == ["kargo 2", "kargo 1", "kargo 0"]
