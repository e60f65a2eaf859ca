"""A loopback server that answers the Graph API the way Meta does: the Send API, profile lookups,
/me, and CDN-style media files.

Send answers are programmed per request (`enqueue`), else `default`; every request that reached
the server is recorded before it is answered, so a test can tell "sent" from "never arrived".
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes import loopback

FIXTURES = Path(__file__).resolve().parent.parent / "adapters" / "messenger" / "fixtures"
# The fake secrets of ../shared/fixtures/payloads/README.md; the page token is ours to invent.
APP_SECRET = "fake_meta_app_secret_0123456789ab"
VERIFY_TOKEN = "inbox-verify-token-123"
PAGE_TOKEN = "EAAfakePageAccessToken0123456789abcdef"
APP_ID = "1876543210987654"
PAGE_ID = "104857600123456"
PAGE_NAME = "Acme Mağaza"

Answer = Literal["sent", "outside_window", "bad_token", "rate_limited", "user_unavailable", "server_error", "hang"]
_ERROR_FIXTURES = {"outside_window": "api_400_outside_window.json", "bad_token": "api_400_bad_token.json",
                   "rate_limited": "api_400_rate_limit.json", "user_unavailable": "api_400_user_unavailable.json"}


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    authorized: bool
    # The JSON body, or for an upload the form fields with `message`/`recipient` decoded.
    body: dict[str, Any]
    # Uploaded files: field name → (filename, content type, bytes).
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


@dataclass
class GraphFake:
    default: Answer = "sent"
    requests: list[Received] = field(default_factory=list)
    # message ids it answered 200 for, in order.
    sent: list[str] = field(default_factory=list)
    # PSID → profile fields; anyone else is "no such user".
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    # Seconds a profile lookup takes (cut short when the fake shuts down).
    profile_delay: float = 0.0
    # CDN files by name: (bytes, content type).
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    base_url: str = ""
    _queue: list[Answer] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def enqueue(self, *answers: Answer) -> None:
        """The next sends get these answers, in order; then `default` again."""
        self._queue.extend(answers)

    def release_hung(self) -> None:
        self._release.set()

    def media_url(self, name: str) -> str:
        return f"{self.base_url}/media/{name}"

    async def _messages(self, request: Request) -> Response:
        received = await _received(request)
        self.requests.append(received)
        if not received.authorized:
            return _fixture("bad_token")
        answer = self._queue.pop(0) if self._queue else self.default
        if answer == "hang":
            # Holds the request open like a Graph API that never answers, until the fake shuts down.
            await self._release.wait()
            return _error(503, 2, "Service temporarily unavailable")
        if answer == "server_error":
            return _error(500, 2, "An unexpected error has occurred. Please retry your request later.")
        if answer != "sent":
            return _fixture(answer)
        message_id = "m_" + uuid.uuid4().hex
        self.sent.append(message_id)
        body = json.loads((FIXTURES / "api_200_send_ok.json").read_text())
        body.update(message_id=message_id, recipient_id=received.body.get("recipient", {}).get("id"))
        return JSONResponse(body)

    async def _me(self, request: Request) -> Response:
        if not _authorized(request):
            return _fixture("bad_token")
        return JSONResponse({"id": PAGE_ID, "name": PAGE_NAME})

    async def _profile(self, request: Request) -> Response:
        psid = request.path_params["psid"]
        self.lookups.append(psid)
        if self.profile_delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.profile_delay)
        if not _authorized(request):
            return _fixture("bad_token")
        if psid not in self.profiles:
            return _error(400, 100, f"Unsupported get request. Object with ID '{psid}' does not exist")
        wanted = request.query_params.get("fields", "").split(",")
        return JSONResponse({"id": psid, **{k: v for k, v in self.profiles[psid].items() if k in wanted}})

    async def _media(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "expired":
            return Response("URL signature expired", status_code=403)
        if name == "broken":
            return Response("", status_code=502)
        if name == "elsewhere":
            return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)
        if name.startswith("moved-"):
            return RedirectResponse(f"/media/{name.removeprefix('moved-')}", status_code=302)
        if name not in self.media:
            return Response("", status_code=404)
        data, content_type = self.media[name]
        return Response(data, media_type=content_type)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/{version}/me/messages", self._messages, methods=["POST"]),
            Route("/{version}/me", self._me, methods=["GET"]),
            Route("/media/{name}", self._media, methods=["GET"]),
            Route("/{version}/{psid}", self._profile, methods=["GET"]),
        ])


def _authorized(request: Request) -> bool:
    # The page token as a bearer, with the proof Meta asks for when "Require App Secret" is on.
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    return (request.headers.get("authorization") == f"Bearer {PAGE_TOKEN}"
            and request.query_params.get("appsecret_proof") == proof)


async def _received(request: Request) -> Received:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        body: dict[str, Any] = {}
        files: dict[str, tuple[str, str, bytes]] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                body[name] = json.loads(value) if name in ("recipient", "message") else value
            else:
                files[name] = (value.filename or "", value.content_type or "", await value.read())
        return Received(request.url.path, _authorized(request), body, files)
    return Received(request.url.path, _authorized(request), json.loads(await request.body()))


def _fixture(answer: str) -> JSONResponse:
    return JSONResponse(json.loads((FIXTURES / _ERROR_FIXTURES[answer]).read_text()), status_code=400)


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": code, "is_transient": True,
                                   "fbtrace_id": "AbCdEfGhIjKlMnOp"}}, status_code=status)


@asynccontextmanager
async def running(fake: GraphFake | None = None) -> AsyncIterator[GraphFake]:
    """Serve the fake on 127.0.0.1 (a free port) inside the current event loop."""
    fake = fake or GraphFake()
    async with loopback.serve(fake.app()) as url:
        fake.base_url = url
        try:
            yield fake
        finally:
            # A hung request would otherwise hold the server's shutdown.
            fake.release_hung()
