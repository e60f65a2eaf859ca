"""The public JSON shapes of /api/v1: the contract, kept apart from the tables."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from inbox.channels import Channel
from inbox.customers.profile import Profile
from inbox.messages.models import Attachment, Message
from inbox.orders.models import Order, OrderLine
from inbox.orders.service import IncomingLine, IncomingOrder

# The largest row id the tables hold (INTEGER on PostgreSQL; SQLite takes 64 bits): a larger one is a
# 422 naming the parameter, never a 500 from the driver.
MAX_ID = 2**31 - 1


class IdentityOut(BaseModel):
    channel: str
    address: str
    verified: bool


class OrderLineOut(BaseModel):
    sku: str
    title: str
    quantity: int
    price: Decimal


class OrderOut(BaseModel):
    id: int
    external_id: str
    number: str
    customer_id: int
    status: str
    total: Decimal
    currency: str
    placed_at: datetime | None
    tracking_url: str | None
    store_name: str | None
    lines: list[OrderLineOut]

    @classmethod
    def of(cls, order: Order, lines: list[OrderLine] | tuple[OrderLine, ...]) -> "OrderOut":
        return cls(id=order.id or 0, external_id=order.external_id, number=order.number,
                   customer_id=order.customer_id, status=order.status, total=order.total,
                   currency=order.currency, placed_at=order.placed_at, tracking_url=order.tracking_url,
                   store_name=order.store_name,
                   lines=[OrderLineOut(sku=x.sku, title=x.title, quantity=x.quantity, price=x.price) for x in lines])


class PreferenceOut(BaseModel):
    key: str
    value: str
    source: str


class CustomerOut(BaseModel):
    id: int
    name: str
    identities: list[IdentityOut]
    orders: list[OrderOut]
    preferences: list[PreferenceOut]
    status: str
    assignee: int | None

    @classmethod
    def of(cls, profile: Profile) -> "CustomerOut":
        return cls(
            id=profile.customer.id or 0, name=profile.customer.name,
            identities=[IdentityOut(channel=i.channel, address=i.address, verified=i.verified)
                        for i in profile.identities],
            orders=[OrderOut.of(order, list(lines)) for order, lines in profile.orders],
            preferences=[PreferenceOut(key=p.key, value=p.value, source=p.source) for p in profile.preferences],
            status=profile.thread.status, assignee=profile.thread.assignee_id,
        )


class MergedCustomerOut(CustomerOut):
    merge_id: int


class CustomerList(BaseModel):
    items: list[CustomerOut]


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(BaseModel):
    id: int
    customer_id: int
    channel: str
    direction: Literal["inbound", "outbound", "note", "event"]
    text: str
    subject: str | None
    attachments: list[AttachmentOut]
    delivery_status: str | None
    error: str | None
    created_at: datetime
    # Started by the shop (kind "proactive"), not an answer to the customer.
    proactive: bool = False

    @classmethod
    def of(cls, message: Message, customer_id: int, attachments: list[Attachment]) -> "MessageOut":
        return cls(
            id=message.id or 0, customer_id=customer_id, channel=message.channel,
            direction=message.direction,
            text=message.text, subject=message.subject,
            attachments=[AttachmentOut(filename=a.filename, content_type=a.content_type, size=a.size,
                                       url=f"/api/v1/attachments/{a.id}") for a in attachments],
            delivery_status=message.delivery_status, error=message.error, created_at=message.at,
            proactive=bool(message.extra and message.extra.get("proactive")),
        )


class MessagePage(BaseModel):
    items: list[MessageOut]
    next: str | None


class MessageIn(BaseModel):
    """A reply or note with `text`; or, with `template_id` and `variables`, an approved WhatsApp template
    (the only reply allowed once the 24-hour window closed; `text` is then left out).

    `kind: "proactive"` starts a conversation the customer did not ask for (a restock, a store event):
    refused with 409 unless the customer's marketing consent on `channel` is in force, and on WhatsApp
    outside the 24-hour window only as a template."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    kind: Literal["reply", "note", "proactive"] = "reply"
    template_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    variables: dict[Annotated[str, Field(pattern=r"^\d{1,2}$")], Annotated[str, Field(max_length=1000)]] = {}

    @model_validator(mode="after")
    def _text_or_template(self) -> "MessageIn":
        if self.template_id is not None and (self.text is not None or self.kind == "note"
                                             or self.channel != Channel.whatsapp):
            raise PydanticCustomError("template", "a template is a WhatsApp reply: send it without text")
        return self


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(gt=0, le=MAX_ID)


class OrderCustomerIn(BaseModel):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=200)


class OrderLineIn(BaseModel):
    sku: str = Field(default="", max_length=100)
    title: str = Field(max_length=500)
    quantity: int = Field(gt=0, le=100_000)
    price: Decimal = Field(ge=0, max_digits=14, decimal_places=2)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: OrderCustomerIn
    status: str = Field(max_length=40)
    total: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(min_length=3, max_length=3)
    placed_at: datetime
    lines: list[OrderLineIn] = Field(default_factory=list, max_length=500)
    tracking_url: str | None = Field(default=None, max_length=2000)
    number: str | None = Field(default=None, max_length=100)
    store_name: str | None = Field(default=None, max_length=200)
    updated_at: datetime | None = None

    def to_domain(self, external_id: str) -> IncomingOrder:
        return IncomingOrder(
            external_id=external_id, status=self.status, total=self.total, currency=self.currency,
            placed_at=self.placed_at, email=self.customer.email, phone=self.customer.phone, name=self.customer.name,
            number=self.number, tracking_url=self.tracking_url, store_name=self.store_name,
            updated_at=self.updated_at,
            lines=[IncomingLine(sku=x.sku, title=x.title, quantity=x.quantity, price=x.price) for x in self.lines],
        )

    @field_validator("tracking_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        # Agents click it: a javascript: or data: "tracking link" would run in their browser.
        if value and not value.strip().lower().startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// address")
        return value.strip() if value else None

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code such as TRY")
        return value.upper()

    @field_validator("placed_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-23T10:00:00+03:00")
        return value


class SearchResults(BaseModel):
    customers: list[CustomerOut]
    messages: list[MessageOut]
    orders: list[OrderOut]


class Health(BaseModel):
    status: Literal["ok"]


class EraseIn(BaseModel):
    # Erasing cannot be undone: a caller says so in the body, not only by the URL it posts to.
    confirm: Literal["ERASE"]


class ErasedOut(BaseModel):
    customer_id: int
    # Rows removed or made anonymous, per kind; "files" counts files deleted from the store.
    counts: dict[str, int]


class Problem(BaseModel):
    """What a refused API call says (401, 404, 409): one sentence for the person reading the log."""

    detail: str


# Declared on every /api/v1 operation, so a client generated from the spec knows each refusal's shape.
REFUSALS: dict[int | str, dict[str, object]] = {
    400: {"model": Problem, "description": "The body is not text in the declared encoding"},
    401: {"model": Problem, "description": "No bearer token, or one that is unknown or revoked"},
    404: {"model": Problem, "description": "No such customer, merge, attachment or order"},
    409: {"model": Problem, "description": "The request conflicts with the current state (e.g. a closed window)"},
    413: {"model": Problem, "description": "The body is larger than MAX_REQUEST_BYTES"},
}
