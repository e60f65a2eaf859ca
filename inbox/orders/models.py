from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Order(SQLModel, table=True):
    __tablename__ = "order"
    # A customer's newest orders, for the sidebar.
    __table_args__ = (Index("ix_order_customer_placed", "customer_id", "placed_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=100, unique=True)
    # What the shopper calls it ("#1042"): exact-match lookups at the till.
    number: str = Field(max_length=100, index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default="", max_length=40)
    total: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    currency: str = Field(default="TRY", max_length=3)
    placed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tracking_url: str | None = Field(default=None, max_length=2000)
    store_name: str | None = Field(default=None, max_length=200)
    source_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrderLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    sku: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=500)
    quantity: int = 1
    price: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))


class OrderRefund(SQLModel, table=True):
    """Money the shop gave back for an order: their sum against the total says refunded or partly."""

    __tablename__ = "order_refund"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    # The shop's id for the refund: a refund reported twice (two webhooks, or a replay) counts once.
    external_id: str = Field(max_length=100, unique=True)
    amount: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    refunded_at: datetime = Field(sa_type=UTCDateTime)
