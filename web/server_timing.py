"""A Server-Timing header on every HTTP response: the app's own time, as browsers' devtools show it.

Pure ASGI rather than BaseHTTPMiddleware, which runs the app in a separate task and costs more
than some of the pages it would time. The duration runs from the request's arrival to the start
of the response: for our pages, rendered whole before they are sent, that is all of the server's
work. Websockets pass through untouched.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
