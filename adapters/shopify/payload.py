"""Shopify's REST Order and Refund resources, read through types: a missing or mistyped field is
BadPayload naming it, never a KeyError."""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from inbox.events import IncomingLine, IncomingOrder


class _Resource(BaseModel):
    # Shopify adds fields with every API version: whatever we do not read is ignored.
    model_config = ConfigDict(extra="ignore")


class Customer(_Resource):
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class Address(_Resource):
    name: str | None = None
    phone: str | None = None


class LineItem(_Resource):
    title: str
    # "Seramik Kupa Seti - Lacivert / 4'lü": the title with its variant, as the shopper saw it.
    name: str | None = None
    sku: str | None = None
    quantity: int = Field(ge=0)
    price: Decimal


class Fulfillment(_Resource):
    status: str | None = None
    tracking_url: str | None = None
    tracking_urls: list[str] = []


class Order(_Resource):
    id: int
    name: str | None = None
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    total_price: Decimal
    currency: str = Field(min_length=3, max_length=3)
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: AwareDatetime | None = None
    customer: Customer | None = None
    shipping_address: Address | None = None
    billing_address: Address | None = None
    line_items: list[LineItem] = []
    fulfillments: list[Fulfillment] = []
    source_name: str | None = None
    location_id: int | None = None


class Transaction(_Resource):
    kind: str
    status: str | None = None
    amount: Decimal


class Refund(_Resource):
    id: int
    order_id: int
    created_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    transactions: list[Transaction] = []

    @property
    def amount(self) -> Decimal:
        # What reached the customer: successful refund transactions (a failed one gave nothing back).
        return sum((t.amount for t in self.transactions if t.kind == "refund" and t.status in (None, "success")),
                   Decimal(0))

    @property
    def at(self) -> datetime:
        return self.processed_at or self.created_at


def incoming(order: Order, *, locations: Mapping[str, str]) -> IncomingOrder:
    customer = order.customer or Customer()
    addresses = [a for a in (order.shipping_address, order.billing_address) if a is not None]
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p) or next(
        (a.name for a in addresses if a.name), None)
    return IncomingOrder(
        external_id=str(order.id), number=order.name, status=status(order),
        total=order.total_price, currency=order.currency, placed_at=order.created_at, updated_at=order.updated_at,
        # Guest checkouts have no customer; the order's own contact fields still say who bought.
        email=_first(customer.email, order.email, order.contact_email),
        phone=_first(customer.phone, order.phone, *(a.phone for a in addresses)),
        name=name, tracking_url=tracking_url(order), store_name=store_name(order, locations),
        lines=[IncomingLine(title=item.name or item.title, sku=item.sku or "", quantity=item.quantity,
                            price=item.price) for item in order.line_items],
    )


def status(order: Order) -> str:
    """One word for the order, the most telling first: cancelled, refunds, shipping, then payment."""
    if order.cancelled_at is not None:
        return "cancelled"
    if order.financial_status in ("refunded", "partially_refunded"):
        return order.financial_status
    if order.fulfillment_status == "fulfilled":
        return "fulfilled"
    if order.fulfillment_status == "partial":
        return "partially_fulfilled"
    return order.financial_status or "open"


def tracking_url(order: Order) -> str | None:
    """The newest shipment's link; only http(s), since agents click it (a javascript: link would run)."""
    for fulfillment in reversed(order.fulfillments):
        if fulfillment.status in ("cancelled", "failure", "error"):
            continue
        for url in (fulfillment.tracking_url, *reversed(fulfillment.tracking_urls)):
            if url and url.strip().lower().startswith(("https://", "http://")) and len(url.strip()) <= 2000:
                return url.strip()
    return None


def store_name(order: Order, locations: Mapping[str, str]) -> str | None:
    """The store a till sale was made in: SHOPIFY_LOCATIONS names it; web orders have none."""
    if order.location_id is None:
        return None
    known = locations.get(str(order.location_id))
    if known:
        return known[:200]
    return f"POS location {order.location_id}" if order.source_name == "pos" else None


def _first(*values: str | None) -> str | None:
    return next((v.strip() for v in values if v and v.strip()), None)
