"""Every provider webhook, one code path: verify → parse → ingest → commit → acknowledge.

Webhooks are most of the requests a busy shop's server sees, and they need nothing FastAPI
adds: no dependencies to solve, no schema, no session, no templates. So they are plain ASGI,
and `web.app.App` hands a webhook path to `WebhookIngress` before FastAPI's middleware and
router, which cost twice the handler's own work per request. The routes are still registered
(served by the same ingress) so the route table lists them.
"""

import json
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from adapters.base import (
    Adapter,
    BadPayload,
    BadSignature,
    Handshake,
    NamesSenders,
    RawRequest,
    RawResponse,
    parse_form,
)
from inbox.customers.names import NameLookups
from inbox.errors import Invalid
from inbox.events import Direction, InboundEvent, InboundMessage
from inbox.ingest import Ingested
from inbox.ingest_queue import IngestWriter

log = logging.getLogger(__name__)


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """A route's request body, refused (TooLarge) as soon as it is known to exceed the limit."""
    return await _read_body(request.scope, request.receive, limit)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed the limit (never read whole)."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge()
        if not message.get("more_body", False):
            return body


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI servers give names lower-cased; the first of a repeated header wins, as in Starlette.
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return headers


def _form(headers: dict[str, str], body: bytes) -> dict[str, list[str]]:
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return parse_form(body)


def _name_later(lookups: NameLookups, events: list[InboundEvent], results: list[Ingested]) -> None:
    # After the commit: the provider's name for a sender who wrote without one (inbox.customers.names).
    for event, result in zip(events, results, strict=True):
        if (isinstance(event, InboundMessage) and event.direction == Direction.inbound and not event.sender.name
                and result.outcome == "stored" and result.customer_id is not None):
            lookups.want(channel=event.channel, address=event.sender.address, customer_id=result.customer_id)


def _json(status: int, detail: str) -> RawResponse:
    return RawResponse(status, json.dumps({"detail": detail}), "application/json")


class _Endpoint:
    """One adapter's webhook paths."""

    def __init__(self, adapter: Adapter, limit: int, state: Any) -> None:
        self.adapter = adapter
        self.limit = limit
        self.state = state
        # Asked once: a runtime Protocol check per request is not free.
        self.names_senders = isinstance(adapter, NamesSenders)
        self.handshake = adapter if isinstance(adapter, Handshake) else None

    async def handle(self, scope: Scope, receive: Receive) -> RawResponse:
        adapter = self.adapter
        if not adapter.configured:
            log.warning("webhook for %s received but the channel is not configured; answering 404", adapter.channel)
            return _json(404, f"{adapter.channel} is not configured")
        method = scope["method"]
        if method not in ("POST", "GET") or (method == "GET" and self.handshake is None):
            return RawResponse(405, "method not allowed")
        try:
            body = await _read_body(scope, receive, self.limit)
            headers = _headers(scope)
            query_string = scope["query_string"].decode("latin-1")
            # Parsing an empty query string is not free, and providers' POSTs rarely carry one.
            # The last of a repeated name wins, as in Starlette's query_params.
            query = ({name: values[-1] for name, values in parse_qs(query_string, keep_blank_values=True).items()}
                     if query_string else {})
            raw = RawRequest(method=method, path=scope["path"], headers=headers, query=query,
                             query_string=query_string, body=body, form=_form(headers, body))
            if self.handshake is not None and method == "GET":
                return self.handshake.handshake(raw)
            adapter.verify(raw)
            events = adapter.parse(raw)
            writer: IngestWriter = self.state.ingest_writer
            results = await writer.submit(events)
            if self.names_senders:
                _name_later(self.state.name_lookups, events, results)
        except TooLarge:
            return _json(413, f"body larger than {self.limit} bytes")
        except BadSignature as error:
            log.warning("%s webhook refused: %s", adapter.channel, error)
            return _json(403, "signature missing or invalid")
        except (BadPayload, Invalid) as error:
            return _json(400, str(error))
        return adapter.acknowledge(raw)


class WebhookIngress:
    """The ASGI app behind every webhook path (see the module's note)."""

    def __init__(self, adapters: Sequence[Adapter], *, limit: int, state: Any) -> None:
        self.endpoints = {path: _Endpoint(adapter, limit, state) for adapter in adapters for path in adapter.paths}

    def serves(self, scope: Scope) -> bool:
        return scope["type"] == "http" and scope["path"] in self.endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            response = await self.endpoints[scope["path"]].handle(scope, receive)
        except ClientDisconnect:
            return
        except Exception:
            # Nothing was committed for this request (the writer answers only after its commit),
            # so the provider's retry is safe.
            log.exception("webhook %s failed", scope["path"])
            response = _json(500, "internal error; the provider may retry")
        await _send(send, response, started)

    def router(self) -> APIRouter:
        """The webhook routes for the route table, served by this ingress."""
        routes = APIRouter(tags=["webhooks"])
        for path, endpoint in self.endpoints.items():
            methods = ["POST", "GET"] if endpoint.handshake is not None else ["POST"]
            routes.routes.append(Route(path, self, methods=methods, include_in_schema=False,
                                       name=f"webhook:{endpoint.adapter.channel}:{path}"))
        return routes


async def _send(send: Send, response: RawResponse, started: float) -> None:
    body = response.body.encode()
    media_type = response.media_type
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    elapsed = (time.perf_counter() - started) * 1000
    await send({"type": "http.response.start", "status": response.status,
                "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"server-timing", f"app;dur={elapsed:.2f}".encode())]})
    await send({"type": "http.response.body", "body": body})
