"""Shopify order webhooks end to end: real HTTP into the real app, signed as Shopify signs."""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from adapters.shopify.adapter import signature
from inbox.channels import AddressKind, Channel
from inbox.customers.models import Customer, Identity
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.orders.models import Order, OrderRefund
from inbox.processed_events import ProcessedEvent
from tests.adapters.conftest import fixture_path
from tests.adapters.shopify.test_shopify import KADIKOY, SECRET, headers_of

AYSE_ORDER = "6123456789012"
POS_ORDER = "6123456789555"


@pytest.fixture
def shopify_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SHOPIFY_LOCATIONS", json.dumps(KADIKOY))


async def post(server: str, name: str, *, body: bytes | None = None, secret: str | None = SECRET,
               headers: dict[str, str] | None = None) -> httpx.Response:
    """The fixture as Shopify posts it; `body` and `headers` change what a test needs changed."""
    content = fixture_path("shopify", name).read_bytes() if body is None else body
    sent = {"Content-Type": "application/json", **headers_of(name), **(headers or {})}
    if secret is not None:
        sent["X-Shopify-Hmac-Sha256"] = signature(secret, content)
    async with httpx.AsyncClient() as client:
        return await client.post(f"{server}/webhooks/shopify", content=content, headers=sent)


def changed(name: str, **fields: Any) -> bytes:
    body = json.loads(fixture_path("shopify", name).read_text())
    body.update(fields)
    return json.dumps(body).encode()


async def order(sessions: async_sessionmaker[AsyncSession], external_id: str = AYSE_ORDER) -> Order:
    async with sessions() as session:
        return (await session.execute(select(Order).where(col(Order.external_id) == external_id))).scalar_one()


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def wrote_on_whatsapp(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, phone: str,
                            name: str) -> int:
    party = Party(f"whatsapp:{phone}", AddressKind.phone, True, name)
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(Channel.whatsapp, f"SM{phone}", party, text="Siparişim?"),
                              config=config)
    assert result.customer_id is not None
    return result.customer_id


@pytest.mark.usefixtures("shopify_configured")
class TestSignature:
    async def test_a_signed_order_is_stored_on_the_customer_who_wrote_when_the_200_arrives(
            self, server, sessions, ingest_config) -> None:
        ayse = await wrote_on_whatsapp(sessions, ingest_config, "+905321234567", "Ayşe Yılmaz")
        response = await post(server, "orders_create.json")
        assert response.status_code == 200, response.text
        assert response.json() == {"result": "created"}
        # No waiting: the order is there the moment Shopify hears 200.
        stored = await order(sessions)
        assert (stored.customer_id, stored.number, stored.status, stored.total, stored.currency) == (
            ayse, "1002", "paid", Decimal("1249.90"), "TRY")

    @pytest.mark.parametrize("secret", ["another secret", None], ids=["wrong", "missing"])
    async def test_a_wrong_or_missing_signature_is_403_and_leaves_no_trace(self, server, sessions,
                                                                            secret: str | None) -> None:
        response = await post(server, "orders_create.json", secret=secret)
        assert response.status_code == 403
        assert (await count(sessions, Order), await count(sessions, ProcessedEvent)) == (0, 0)

    async def test_the_signature_is_over_the_raw_bytes_not_the_json(self, server, sessions) -> None:
        # The same JSON re-serialised is other bytes: Shopify signed what it sent, nothing else.
        raw = fixture_path("shopify", "orders_create.json").read_bytes()
        reformatted = json.dumps(json.loads(raw)).encode()
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{server}/webhooks/shopify", content=reformatted, headers={
                **headers_of("orders_create.json"), "X-Shopify-Hmac-Sha256": signature(SECRET, raw)})
        assert response.status_code == 403
        assert await count(sessions, Order) == 0


@pytest.mark.usefixtures("shopify_configured")
class TestOnce:
    async def test_a_replayed_event_is_200_and_changes_nothing(self, server, sessions) -> None:
        first = await post(server, "orders_create.json")
        assert first.json() == {"result": "created"}
        before = await order(sessions)
        again = [await post(server, "orders_create.json") for _ in range(3)]
        assert [(r.status_code, r.json()) for r in again] == [(200, {"result": "duplicate"})] * 3
        after = await order(sessions)
        assert (await count(sessions, Order), await count(sessions, ProcessedEvent)) == (1, 1)
        assert after.updated_at == before.updated_at

    async def test_events_are_remembered_for_a_month_then_forgotten(self, server, sessions) -> None:
        # One delivery this webhook's event id made 29 days ago, and another event from 31 days ago.
        event_id = headers_of("orders_create.json")["X-Shopify-Event-Id"]
        async with transaction(sessions) as session:
            session.add_all([
                ProcessedEvent(source="shopify", event_id=event_id, processed_at=utcnow() - timedelta(days=29)),
                ProcessedEvent(source="shopify", event_id="old-event", processed_at=utcnow() - timedelta(days=31))])
        assert (await post(server, "orders_create.json")).json() == {"result": "duplicate"}
        assert await count(sessions, Order) == 0
        # The next new event is applied, and what is past the month is forgotten with it.
        assert (await post(server, "orders_updated.json")).json() == {"result": "created"}
        async with sessions() as session:
            kept = (await session.execute(select(ProcessedEvent.event_id))).scalars().all()
        assert sorted(kept) == sorted([event_id, headers_of("orders_updated.json")["X-Shopify-Event-Id"]])

    async def test_a_retry_without_an_event_id_dedupes_on_the_webhook_id(self, server, sessions) -> None:
        headers = {"X-Shopify-Event-Id": ""}
        assert (await post(server, "orders_create.json", headers=headers)).json() == {"result": "created"}
        assert (await post(server, "orders_create.json", headers=headers)).json() == {"result": "duplicate"}
        assert await count(sessions, ProcessedEvent) == 1

    async def test_events_for_a_new_order_arriving_together_make_one_order_for_one_customer(
            self, server, sessions) -> None:
        # Shopify sends orders/create and orders/updated within milliseconds; PostgreSQL runs them side by side.
        names = ("orders_create.json", "orders_updated.json", "orders_cancelled.json")
        for round_ in range(3):
            order_id = int(AYSE_ORDER) + round_
            answers = await asyncio.gather(*(
                post(server, name, body=changed(name, id=order_id),
                     headers={"X-Shopify-Event-Id": f"{name}-{round_}", "X-Shopify-Webhook-Id": f"{name}-{round_}"})
                for name in names))
            outcomes = sorted(answer.json()["result"] for answer in answers)
            assert outcomes.count("created") == 1, outcomes
            # Whichever came first, the newest report (the cancellation) is what stays.
            assert (await order(sessions, str(order_id))).status == "cancelled"
        assert (await count(sessions, Order), await count(sessions, Customer)) == (3, 1)

    async def test_an_older_update_arriving_late_never_undoes_a_newer_one(self, server, sessions) -> None:
        newer = await post(server, "orders_updated.json")
        older = await post(server, "orders_create.json")
        assert (newer.json(), older.json()) == ({"result": "created"}, {"result": "unchanged"})
        assert (await order(sessions)).total == Decimal("1449.90")


@pytest.mark.usefixtures("shopify_configured")
class TestWhatTheOrderShows:
    async def test_cancelled(self, server, sessions) -> None:
        await post(server, "orders_create.json")
        assert (await post(server, "orders_cancelled.json")).json() == {"result": "updated"}
        assert (await order(sessions)).status == "cancelled"

    async def test_fulfilled_with_its_tracking_link(self, server, sessions) -> None:
        await post(server, "orders_create.json")
        assert (await post(server, "orders_fulfilled.json")).json() == {"result": "updated"}
        shipped = await order(sessions)
        assert (shipped.status, shipped.tracking_url) == (
            "fulfilled", "https://www.yurticikargo.com/tr/online-servisler/gonderi-sorgula?code=301234567890")

    async def test_refunds_show_partially_then_fully_refunded(self, server, sessions) -> None:
        await post(server, "orders_create.json")
        partly = await post(server, "refunds_create.json")
        assert partly.json() == {"result": "updated"}
        assert (await order(sessions)).status == "partially_refunded"
        rest = json.loads(fixture_path("shopify", "refunds_create.json").read_text())
        rest["id"] = 929361464
        rest["transactions"][0]["amount"] = "500.00"
        second = await post(server, "refunds_create.json", body=json.dumps(rest).encode(),
                            headers={"X-Shopify-Event-Id": "e2", "X-Shopify-Webhook-Id": "w2"})
        assert second.json() == {"result": "updated"}
        assert (await order(sessions)).status == "refunded"
        assert await count(sessions, OrderRefund) == 2

    async def test_a_late_paid_update_does_not_undo_a_refund(self, server, sessions) -> None:
        await post(server, "orders_create.json")
        await post(server, "refunds_create.json")
        # orders/updated from before the refund (15 Jan), delivered after it (18 Jan).
        late = await post(server, "orders_updated.json")
        assert late.json() == {"result": "unchanged"}
        assert (await order(sessions)).status == "partially_refunded"

    async def test_a_refund_for_an_order_never_reported_is_acknowledged_and_ignored(self, server, sessions) -> None:
        response = await post(server, "refunds_create.json")
        assert (response.status_code, response.json()) == (200, {"result": "ignored"})
        assert await count(sessions, OrderRefund) == 0

    async def test_a_pos_sale_shows_its_store_and_finds_the_customer_by_a_local_phone(
            self, server, sessions, ingest_config) -> None:
        # Shopify has "0532 987 65 43" as the till typed it; he writes on WhatsApp as +905329876543.
        mehmet = await wrote_on_whatsapp(sessions, ingest_config, "+905329876543", "Mehmet")
        assert (await post(server, "orders_create__pos.json")).json() == {"result": "created"}
        sale = await order(sessions, POS_ORDER)
        assert (sale.store_name, sale.customer_id, sale.status) == ("Kadıköy Mağaza", mehmet, "fulfilled")

    async def test_a_pos_sale_to_a_new_customer_gives_them_the_normalised_phone(self, server, sessions) -> None:
        assert (await post(server, "orders_create__pos.json")).json() == {"result": "created"}
        sale = await order(sessions, POS_ORDER)
        async with sessions() as session:
            phones = (await session.execute(select(col(Identity.address)).where(
                col(Identity.customer_id) == sale.customer_id))).scalars().all()
        assert "+905329876543" in phones

    async def test_a_till_sale_without_any_contact_is_acknowledged_and_not_kept(self, server, sessions) -> None:
        walk_in = changed("orders_create__pos.json", customer=None, email=None, phone=None)
        response = await post(server, "orders_create__pos.json", body=walk_in)
        assert (response.status_code, response.json()) == (200, {"result": "ignored"})
        assert await count(sessions, Order) == 0


    async def test_an_unreadable_phone_beside_a_good_email_still_finds_the_customer(self, server, sessions) -> None:
        body = changed("orders_create.json", phone="ara beni", customer=None, billing_address=None,
                       shipping_address=None)
        response = await post(server, "orders_create.json", body=body)
        assert response.json() == {"result": "created"}
        async with sessions() as session:
            addresses = (await session.execute(select(col(Identity.address)).where(
                col(Identity.customer_id) == (await order(sessions)).customer_id))).scalars().all()
        assert list(addresses) == ["ayse.yilmaz@example.net"]


@pytest.mark.usefixtures("shopify_configured")
class TestRefused:
    @pytest.mark.parametrize("body", [b"{not json", b"[]", changed("orders_create.json", id="not-a-number")],
                             ids=["not-json", "not-an-object", "bad-id"])
    async def test_a_signed_but_unreadable_body_is_400_and_writes_nothing(self, server, sessions,
                                                                          body: bytes) -> None:
        response = await post(server, "orders_create.json", body=body)
        assert response.status_code == 400
        assert (await count(sessions, Order), await count(sessions, ProcessedEvent)) == (0, 0)

    async def test_a_missing_total_is_400_naming_it(self, server, sessions) -> None:
        response = await post(server, "orders_updated__no_total.json")
        assert response.status_code == 400 and "total_price" in response.json()["detail"]
        assert await count(sessions, Order) == 0

    async def test_an_unreadable_email_is_400_and_leaves_no_event_behind(self, server, sessions) -> None:
        # Refused by the domain after the event was recorded: the rollback takes both back.
        body = changed("orders_create.json", email="not an address", contact_email=None,
                       customer=None, phone=None, billing_address=None, shipping_address=None)
        response = await post(server, "orders_create.json", body=body)
        assert response.status_code == 400, response.text
        assert (await count(sessions, Order), await count(sessions, ProcessedEvent)) == (0, 0)

    async def test_an_unknown_topic_is_acknowledged_so_shopify_stops_retrying(self, server, sessions) -> None:
        response = await post(server, "orders_create.json", headers={"X-Shopify-Topic": "products/update"})
        assert response.status_code == 200 and response.json()["result"] == "ignored"
        assert (await count(sessions, Order), await count(sessions, ProcessedEvent)) == (0, 0)


@pytest.fixture
def shopify_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "")


@pytest.mark.usefixtures("shopify_unconfigured")
class TestUnconfigured:
    async def test_without_a_secret_the_webhook_is_404_and_stores_nothing(self, server, sessions) -> None:
        response = await post(server, "orders_create.json")
        assert response.status_code == 404
        assert await count(sessions, Order) == 0
