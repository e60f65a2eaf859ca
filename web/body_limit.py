"""Request bodies over a route's limit get 413 while they arrive, never after they were read whole.

FastAPI parses a multipart form (an `UploadFile` parameter) before the route runs, spooling every
byte to a temporary file: a size check in the route comes after a gigabyte was written to disk. Here
the declared Content-Length is refused before the first byte is read, and a body that declares none
(chunked) is counted as it streams and refused at the first byte over. The route then sees the
client gone and its own answer is dropped. Webhooks check their limit in web.routes.webhooks.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limits: dict[str, int]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already; the route's answer to a vanished body is dropped
            started = True
            await send(message)

        await self.app(scope, counted, guarded)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"larger than {limit / 1_048_576:.3g} MB"}).encode()
    # Connection: close, since the rest of the body is never read.
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
