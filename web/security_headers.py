"""Headers that keep a hostile customer string inert even if an escape were ever missed.

The pages use no inline script and no event-handler attribute (htmx reads its attributes without
eval), so the policy allows scripts only from this server: a `<script>` or `onerror=` that slipped
into a page would not run. Inline styles stay allowed (htmx adds its indicator style). A route that
needs another policy (a mail's HTML in its sandboxed frame, a downloaded file, the chat widget
embedded on the shop's pages) sets its own, which is kept.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
          "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
          "object-src 'none'")
_HEADERS = (
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
