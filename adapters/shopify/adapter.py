"""Shopify order webhooks: X-Shopify-Hmac-Sha256 over the raw body, then the topic's resource."""

import base64
import hashlib
import hmac
import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from adapters.base import BadPayload, BadSignature, RawRequest
from adapters.shopify import payload
from adapters.shopify.settings import ShopifySettings
from inbox.events import OrderReported, RefundReported, ShopEvent

PATH = "/webhooks/shopify"
SOURCE = "shopify"
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/fulfilled", "orders/cancelled"})
REFUND_TOPICS = frozenset({"refunds/create"})
M = TypeVar("M", bound=BaseModel)


def signature(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256 as Shopify computes it: base64 (not hex, unlike Meta) of the HMAC."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _header(raw: RawRequest, name: str) -> str:
    # Shopify's newer "Events" deliveries use the same names without the X- prefix.
    return (raw.headers.get(f"x-{name}") or raw.headers.get(name) or "").strip()


class Adapter:
    paths: ClassVar[tuple[str, ...]] = (PATH,)

    def __init__(self, settings: ShopifySettings | None = None) -> None:
        self.settings = settings or ShopifySettings()

    @property
    def configured(self) -> bool:
        return bool(self.settings.webhook_secret.get_secret_value())

    def verify(self, raw: RawRequest) -> None:
        secret = self.settings.webhook_secret.get_secret_value()
        if not secret:
            raise BadSignature("SHOPIFY_WEBHOOK_SECRET is not set")
        given = _header(raw, "shopify-hmac-sha256")
        if not given:
            raise BadSignature("X-Shopify-Hmac-Sha256 header missing")
        if not hmac.compare_digest(signature(secret, raw.body).encode(), given.encode()):
            raise BadSignature("X-Shopify-Hmac-Sha256 does not match")

    def topic(self, raw: RawRequest) -> str:
        return _header(raw, "shopify-topic").lower()

    def parse(self, raw: RawRequest) -> ShopEvent | None:
        """The event, or None for a topic we do not subscribe to (answered 200: else Shopify retries it)."""
        topic = self.topic(raw)
        if topic not in ORDER_TOPICS | REFUND_TOPICS:
            return None
        # The event id is the same on a duplicate; the webhook id only across retries of one delivery.
        event_id = _header(raw, "shopify-event-id") or _header(raw, "shopify-webhook-id")
        if not event_id:
            raise BadPayload("X-Shopify-Event-Id and X-Shopify-Webhook-Id are both missing")
        body = _json(raw.body)
        if topic in REFUND_TOPICS:
            refund = _read(payload.Refund, body)
            return RefundReported(source=SOURCE, event_id=event_id, topic=topic, order_external_id=str(refund.order_id),
                                  refund_id=str(refund.id), amount=refund.amount, at=refund.at)
        order = _read(payload.Order, body)
        return OrderReported(source=SOURCE, event_id=event_id, topic=topic,
                             order=payload.incoming(order, locations=self.settings.locations))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadPayload(f"the body is not JSON: {error}") from error


def _read(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise BadPayload.naming(error, "body") from None
