"""Request bodies over a route's limit get 413 while they arrive, never after they were read whole.

FastAPI parses a multipart form (an `UploadFile` parameter) before the route runs, spooling every
byte to a temporary file: a size check in the route comes after a gigabyte was written to disk. Here
the declared Content-Length is refused before the first byte is read, and a body that declares none
(chunked) is counted as it streams and refused at the first byte over. The route then sees the
client gone and its own answer is dropped. Webhooks check their limit in web.routes.webhooks.

Every route has a limit: the default for forms and JSON, and a larger one for the routes that take
files. The parse comes before the route's own checks, sign-in included: without a limit anyone
could make the server spool a body of any size to disk. So a larger limit can name who may use it
(`admits`, asked before the first byte is read): anyone else gets the default one.
"""

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Limit:
    path: str  # a pattern the whole path must match
    most: int  # bytes
    # Who may send that much (e.g. a signed-in agent); None: anyone.
    admits: Callable[[Scope], Awaitable[bool]] | None = None


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, limits: Sequence[Limit] = ()) -> None:
        self.app = app
        self.default = default
        # The first whose pattern matches the whole path decides.
        self.limits = [(re.compile(limit.path), limit) for limit in limits]

    async def limit_for(self, scope: Scope) -> int:
        found = next((limit for pattern, limit in self.limits if pattern.fullmatch(scope["path"])), None)
        if found is None:
            return self.default
        if found.admits is not None and not await found.admits(scope):
            return min(found.most, self.default)
        return found.most

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = await self.limit_for(scope)
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
