import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.base import BadPayload, BadSignature, RawRequest
from adapters.shopify import Adapter
from adapters.shopify.adapter import PATH, signature
from adapters.shopify.settings import ShopifySettings
from inbox.events import IncomingLine, IncomingOrder, OrderReported, RefundReported
from tests.adapters.conftest import fixture_path, load_fixture

# As ../shared/fixtures/payloads/README.md gives it for shopify_01_orders_create.json.
SECRET = "fake_shopify_webhook_secret_abcdef012345"
RECORDED_SIGNATURE = "rJkvRnfkEHc97zx/1ZtgUSlOb//2iNoIhOWMDapSTS0="
ISTANBUL = timezone(timedelta(hours=3))
KADIKOY = {"71234567890": "Kadıköy Mağaza"}


def headers_of(name: str) -> dict[str, str]:
    sidecar = fixture_path("shopify", name.removesuffix(".json") + ".headers.json")
    return dict(json.loads(sidecar.read_text()))


def signed(name: str, secret: str = SECRET) -> RawRequest:
    """The fixture as Shopify posts it: its recorded headers, signed with `secret`."""
    raw = load_fixture("shopify", name, path=PATH, headers=headers_of(name))
    return replace(raw, headers={**raw.headers, "x-shopify-hmac-sha256": signature(secret, raw.body)})


def handled(name: str, locations: dict[str, str] | None = None) -> object:
    adapter = Adapter(ShopifySettings(webhook_secret=SECRET, locations=locations or {}))
    raw = signed(name)
    adapter.verify(raw)
    return adapter.parse(raw)


AYSE_LINES = (IncomingLine(title="Seramik Kupa Seti - Lacivert / 4'lü", quantity=1, price=Decimal("749.90"),
                           sku="KUPA-LCV-4"),
              IncomingLine(title="Bambu Tabak Altlığı (6 adet)", quantity=2, price=Decimal("200.00"),
                           sku="ALTLIK-BMB-6"))


def ayse_order(**changes: Any) -> IncomingOrder:
    order = IncomingOrder(
        external_id="6123456789012", number="#1002", status="paid", total=Decimal("1249.90"), currency="TRY",
        placed_at=datetime(2026, 1, 15, 12, 41, 5, tzinfo=ISTANBUL), email="ayse.yilmaz@example.net",
        phone="+905321234567", name="Ayşe Yılmaz", lines=list(AYSE_LINES),
        updated_at=datetime(2026, 1, 15, 12, 41, 7, tzinfo=ISTANBUL))
    return replace(order, **changes)


def reported(event: object) -> IncomingOrder:
    assert isinstance(event, OrderReported)
    return replace(event.order, lines=list(event.order.lines))


class TestVerify:
    def test_the_recorded_signature_over_the_exact_bytes_passes(self) -> None:
        raw = load_fixture("shopify", "orders_create.json", path=PATH,
                           headers={**headers_of("orders_create.json"), "X-Shopify-Hmac-Sha256": RECORDED_SIGNATURE})
        Adapter(ShopifySettings(webhook_secret=SECRET)).verify(raw)

    def test_the_events_product_header_without_x_is_read_too(self) -> None:
        raw = signed("orders_create.json")
        moved = {k: v for k, v in raw.headers.items() if k != "x-shopify-hmac-sha256"}
        moved["shopify-hmac-sha256"] = raw.headers["x-shopify-hmac-sha256"]
        Adapter(ShopifySettings(webhook_secret=SECRET)).verify(replace(raw, headers=moved))

    @pytest.mark.parametrize("header", ["", "AAAA", "hex-is-not-base64", signature("another secret", b"{}")])
    def test_a_wrong_or_missing_signature_is_refused(self, header: str) -> None:
        raw = signed("orders_create.json")
        with pytest.raises(BadSignature):
            Adapter(ShopifySettings(webhook_secret=SECRET)).verify(
                replace(raw, headers={**raw.headers, "x-shopify-hmac-sha256": header}))

    def test_a_body_changed_after_signing_is_refused(self) -> None:
        raw = signed("orders_create.json")
        with pytest.raises(BadSignature):
            Adapter(ShopifySettings(webhook_secret=SECRET)).verify(
                replace(raw, body=raw.body.replace(b"1249.90", b"0.01")))

    def test_an_empty_secret_refuses_everything(self) -> None:
        adapter = Adapter(ShopifySettings(webhook_secret=""))
        assert not adapter.configured
        with pytest.raises(BadSignature):
            adapter.verify(signed("orders_create.json", secret=""))


class TestParse:
    def test_orders_create(self) -> None:
        event = handled("orders_create.json")
        assert isinstance(event, OrderReported)
        assert (event.source, event.event_id, event.topic) == (
            "shopify", "7e6d5c4b-3a29-4180-8f7e-6d5c4b3a2918", "orders/create")
        assert reported(event) == ayse_order()

    def test_orders_updated(self) -> None:
        lines = [AYSE_LINES[0], replace(AYSE_LINES[1], quantity=3)]
        assert reported(handled("orders_updated.json")) == ayse_order(
            total=Decimal("1449.90"), lines=lines, updated_at=datetime(2026, 1, 15, 14, 5, 12, tzinfo=ISTANBUL))

    def test_orders_fulfilled_carries_the_tracking_link(self) -> None:
        assert reported(handled("orders_fulfilled.json")) == ayse_order(
            status="fulfilled", updated_at=datetime(2026, 1, 16, 10, 20, 31, tzinfo=ISTANBUL),
            tracking_url="https://www.yurticikargo.com/tr/online-servisler/gonderi-sorgula?code=301234567890")

    def test_orders_cancelled(self) -> None:
        assert reported(handled("orders_cancelled.json")) == ayse_order(
            status="cancelled", updated_at=datetime(2026, 1, 15, 16, 2, 44, tzinfo=ISTANBUL))

    def test_refunds_create_counts_the_money_given_back(self) -> None:
        assert handled("refunds_create.json") == RefundReported(
            source="shopify", event_id="3e4f5061-7283-494a-bdce-3f4a5b6c7d8e", topic="refunds/create",
            order_external_id="6123456789012", refund_id="929361463", amount=Decimal("749.90"),
            at=datetime(2026, 1, 18, 11, 12, 9, tzinfo=ISTANBUL))

    def test_a_pos_sale_names_the_store_from_shopify_locations(self) -> None:
        order = reported(handled("orders_create__pos.json", locations=KADIKOY))
        assert (order.store_name, order.phone, order.email, order.name, order.status) == (
            "Kadıköy Mağaza", "0532 987 65 43", None, "Mehmet Demir", "fulfilled")

    def test_an_unmapped_till_is_named_by_its_location_id(self) -> None:
        assert reported(handled("orders_create__pos.json")).store_name == "POS location 71234567890"

    def test_a_missing_total_is_bad_payload_naming_the_field(self) -> None:
        with pytest.raises(BadPayload, match="total_price"):
            handled("orders_updated__no_total.json")

    def test_a_javascript_tracking_link_is_dropped(self) -> None:
        raw = signed("orders_fulfilled.json")
        body = json.loads(raw.body)
        for fulfillment in body["fulfillments"]:
            fulfillment["tracking_url"] = "javascript:alert(1)"
            fulfillment["tracking_urls"] = ["javascript:alert(1)"]
        adapter = Adapter(ShopifySettings(webhook_secret=SECRET))
        event = adapter.parse(replace(raw, body=json.dumps(body).encode()))
        assert reported(event).tracking_url is None

    def test_an_unknown_topic_is_none_and_never_read(self) -> None:
        raw = signed("orders_create.json")
        adapter = Adapter(ShopifySettings(webhook_secret=SECRET))
        assert adapter.parse(replace(raw, headers={**raw.headers, "x-shopify-topic": "products/update"},
                                     body=b"not json")) is None

    def test_without_an_event_id_the_webhook_id_is_the_key(self) -> None:
        raw = signed("orders_create.json")
        without = {k: v for k, v in raw.headers.items() if k != "x-shopify-event-id"}
        event = Adapter(ShopifySettings(webhook_secret=SECRET)).parse(
            replace(raw, headers=without))
        assert isinstance(event, OrderReported) and event.event_id == "3f9c2b1e-8d7a-4c6b-9e5f-0a1b2c3d4e5f"

    @pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[]", b'{"id": "x"}'])
    def test_unreadable_bodies_are_bad_payload(self, body: bytes) -> None:
        raw = signed("orders_create.json")
        with pytest.raises(BadPayload):
            Adapter(ShopifySettings(webhook_secret=SECRET)).parse(replace(raw, body=body))


def test_every_recorded_fixture_is_used() -> None:
    # Shopify is not a channel, so tests/adapters/test_contract.py does not see it; the same rule here.
    here = Path(__file__).resolve()
    sources = here.read_text() + (here.parents[2] / "web" / "test_shopify_webhooks.py").read_text()
    bodies = [f.name for f in fixture_path("shopify", "").iterdir() if not f.name.endswith(".headers.json")]
    assert bodies and [name for name in bodies if name not in sources] == []
