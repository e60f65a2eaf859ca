"""Every provider webhook, one code path: verify → parse → ingest → commit → acknowledge."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from adapters.base import Adapter, BadPayload, BadSignature, Enriching, Handshake, RawRequest, RawResponse
from inbox.errors import Invalid
from inbox.events import InboundEvent
from inbox.ingest_queue import IngestWriter

log = logging.getLogger(__name__)

# What the provider's webhook may wait for a name lookup: well inside Meta's 20 s.
ENRICH_SECONDS = 2.0


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed the limit (never read whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _form(request: Request, body: bytes) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        # Blank values stay: Twilio signs "Body" + "" too.
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadPayload("the form is not UTF-8 url-encoded") from error


async def _enriched(adapter: Enriching, channel: str, events: list[InboundEvent]) -> list[InboundEvent]:
    # Best effort: a slow or failing lookup leaves the events as they came, never the webhook unanswered.
    try:
        async with asyncio.timeout(ENRICH_SECONDS):
            return await adapter.enrich(events)
    except Exception as error:
        log.warning("%s webhook: enriching the events failed (%s); storing them as they came",
                    channel, type(error).__name__)
        return events


def _reply(response: RawResponse) -> Response:
    return Response(response.body, status_code=response.status, media_type=response.media_type)


def handler(adapter: Adapter, limit: int) -> Callable[[Request], Awaitable[Response]]:
    # Asked once: a runtime Protocol check per request is not free.
    enriching = adapter if isinstance(adapter, Enriching) else None

    async def handle(request: Request) -> Response:
        if not adapter.configured:
            log.warning("webhook for %s received but the channel is not configured; answering 404", adapter.channel)
            return JSONResponse({"detail": f"{adapter.channel} is not configured"}, status_code=404)
        try:
            body = await read_body(request, limit)
            query_string = request.scope["query_string"].decode("latin-1")
            # Parsing an empty query string is not free, and providers' POSTs rarely carry one.
            raw = RawRequest(method=request.method, path=request.scope["path"], headers=dict(request.headers),
                             query=dict(request.query_params) if query_string else {},
                             query_string=query_string, body=body, form=_form(request, body))
            if request.method == "GET":
                if isinstance(adapter, Handshake):
                    return _reply(adapter.handshake(raw))
                return PlainTextResponse("method not allowed", status_code=405)
            adapter.verify(raw)
            events = adapter.parse(raw)
            if enriching is not None:
                events = await _enriched(enriching, adapter.channel, events)
            writer: IngestWriter = request.app.state.ingest_writer
            await writer.submit(events)
        except TooLarge:
            return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)
        except BadSignature as error:
            log.warning("%s webhook refused: %s", adapter.channel, error)
            return JSONResponse({"detail": "signature missing or invalid"}, status_code=403)
        except (BadPayload, Invalid) as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        return _reply(adapter.acknowledge(raw))

    return handle


def router(adapters: list[Adapter], *, limit: int) -> APIRouter:
    routes = APIRouter(tags=["webhooks"])
    for adapter in adapters:
        methods = ["POST", "GET"] if isinstance(adapter, Handshake) else ["POST"]
        for path in adapter.paths:
            # A plain Starlette route: the handler reads the request itself, so FastAPI's
            # dependency solving would be per-request work for nothing.
            routes.add_route(path, handler(adapter, limit), methods=methods, include_in_schema=False,
                             name=f"webhook:{adapter.channel}:{path}")
    return routes
