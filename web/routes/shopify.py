"""POST /webhooks/shopify: verify the raw bytes → parse → apply once → commit → 200.

Not one of web.routes.webhooks' adapters: an order is not a message to ingest. Like them it is
outside the route table's role rules, since it proves itself with Shopify's signature instead.
"""

import logging

from fastapi import APIRouter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.base import BadPayload, BadSignature, RawRequest
from adapters.shopify import Adapter
from adapters.shopify.adapter import PATH
from inbox.db import transaction
from inbox.errors import Invalid
from inbox.orders import shop_events
from web.routes.webhooks import TooLarge, read_body

log = logging.getLogger(__name__)


async def receive(request: Request) -> Response:
    adapter: Adapter = request.app.state.shopify
    settings = request.app.state.settings
    if not adapter.configured:
        log.warning("Shopify webhook received but SHOPIFY_WEBHOOK_SECRET is not set; answering 404")
        return JSONResponse({"detail": "shopify is not configured"}, 404)
    try:
        body = await read_body(request, settings.max_request_bytes)
    except TooLarge:
        return JSONResponse({"detail": f"body larger than {settings.max_request_bytes} bytes"}, 413)
    except ClientDisconnect:
        return Response(status_code=400)
    raw = RawRequest(method="POST", path=PATH, headers={k.lower(): v for k, v in request.headers.items()}, body=body)
    try:
        adapter.verify(raw)
        event = adapter.parse(raw)
        if event is None:
            # Shopify retries anything but a 2xx for hours: a topic we do not read is acknowledged.
            return JSONResponse({"result": "ignored", "detail": f"topic {adapter.topic(raw) or '(none)'} is not read"})
        # Committed before the 200 leaves: Shopify hears "done" only once it is.
        async with transaction(request.app.state.sessions) as session:
            outcome = await shop_events.apply(session, event, region=settings.default_phone_region)
    except BadSignature as error:
        log.warning("Shopify webhook refused: %s", error)
        return JSONResponse({"detail": "signature missing or invalid"}, 403)
    except (BadPayload, Invalid) as error:
        return JSONResponse({"detail": str(error)}, 400)
    return JSONResponse({"result": str(outcome) if outcome else "duplicate"})


router = APIRouter(tags=["webhooks"])
router.routes.append(Route(PATH, receive, methods=["POST"], include_in_schema=False, name="webhook:shopify"))
