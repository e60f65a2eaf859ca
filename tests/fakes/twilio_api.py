"""A loopback server that answers the Twilio Messages API the way Twilio does.

Answers are programmed per request (`enqueue`), else `default`; every request that reached the
server is recorded before it is answered, so a test can tell "sent" from "never arrived" even
when the answer never comes back ("hang").
"""

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import serve

FIXTURES = Path(__file__).resolve().parent.parent / "adapters" / "whatsapp" / "fixtures"
ACCOUNT_SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"

Answer = Literal["created", "invalid_to", "server_error", "rate_limited", "hang", "drop"]


@dataclass(frozen=True, slots=True)
class Received:
    account_sid: str
    form: dict[str, list[str]]
    authorized: bool

    def get(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class TwilioFake:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    default: Answer = "created"
    # Seconds every answer waits: makes concurrent workers overlap.
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    # Sids of the messages it took on (answered 201, or "drop"), in order, and their bodies.
    created: list[str] = field(default_factory=list)
    created_bodies: list[str] = field(default_factory=list)
    base_url: str = ""
    # Inbound media by ME… sid: (bytes, content type). Twilio answers a media GET with a redirect
    # to its CDN, another origin; so does this fake ("localhost" instead of "127.0.0.1").
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Media answers to give before the real file, e.g. [500] for one server error.
    media_failures: list[int] = field(default_factory=list)
    # What Twilio got when it downloaded a reply's MediaUrl: (status, headers, bytes).
    downloads: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    # Every request the CDN saw: (path, whether it carried an Authorization header).
    cdn_requests: list[tuple[str, bool]] = field(default_factory=list)
    # When given, the CDN answers only once it is set: a download held in flight.
    cdn_gate: asyncio.Event | None = None
    # Voicemail recordings by RE… sid, served as MP3 (Voice).
    recordings: dict[str, bytes] = field(default_factory=dict)
    _queue: list[Answer] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def enqueue(self, *answers: Answer) -> None:
        """The next requests get these answers, in order; then `default` again."""
        self._queue.extend(answers)

    def bodies(self) -> list[str | None]:
        return [request.get("Body") for request in self.requests]

    async def wait_for_requests(self, count: int, *, within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    def release_hung(self) -> None:
        self._release.set()

    async def _messages(self, request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
        authorized = _basic_auth(request) == (self.account_sid, self.auth_token) and account_sid == self.account_sid
        async with self._arrived:
            self.requests.append(Received(account_sid, form, authorized))
            self._arrived.notify_all()
        if self.delay:
            await asyncio.sleep(self.delay)
        if not authorized:
            return _error(401, 20003, "Authenticate")
        answer = self._queue.pop(0) if self._queue else self.default
        # Twilio downloads a reply's media from the URL it was given before it sends it on. (A client
        # only then: making one loads the CA store, 25 ms, more than everything else a send costs.)
        for url in form.get("MediaUrl", []):
            async with httpx.AsyncClient() as client:
                try:
                    fetched = await client.get(url)
                except httpx.HTTPError:
                    # Unreachable: real Twilio reports 63019 later, in a status callback.
                    self.downloads.append((0, {}, b""))
                    continue
                self.downloads.append((fetched.status_code, dict(fetched.headers), fetched.content))
        if answer == "hang":
            # Holds the request open like a Twilio that never answers, until the fake shuts down.
            await self._release.wait()
            return _error(503, 20503, "Service Unavailable")
        if answer == "invalid_to":
            return JSONResponse(json.loads((FIXTURES / "api_400_error_21211.json").read_text()), status_code=400)
        if answer == "server_error":
            return _error(500, 20500, "Internal Server Error")
        if answer == "rate_limited":
            return _error(429, 20429, "Too Many Requests", headers={"Retry-After": "1"})
        sid = "SM" + uuid.uuid4().hex
        self.created.append(sid)
        self.created_bodies.append(form.get("Body", [""])[0])
        if answer == "drop":
            # Accepted, and then the connection breaks before the answer is through.
            return _Dropped()
        return JSONResponse(self._created(sid, account_sid, form), status_code=201)

    @staticmethod
    def _created(sid: str, account_sid: str, form: dict[str, list[str]]) -> dict[str, object]:
        body = json.loads((FIXTURES / "api_201_message_created.json").read_text())
        body.update(
            sid=sid, account_sid=account_sid, body=form.get("Body", [""])[0], to=form.get("To", [""])[0],
            uri=f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            subresource_uris={"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        )
        body["from"] = form.get("From", [""])[0]
        return body

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/2010-04-01/Accounts/{account_sid}/Messages.json", self._messages, methods=["POST"]),
            Route("/2010-04-01/Accounts/{account_sid}.json", self._account, methods=["GET"]),
            Route("/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}", self._media),
            Route("/cdn/{media_sid}", self._cdn),
            Route("/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}.mp3", self._recording),
        ])

    def recording_url(self, recording_sid: str) -> str:
        """As Twilio's RecordingUrl says it: without the extension, which picks the format."""
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}"

    async def _recording(self, request: Request) -> Response:
        if _basic_auth(request) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        data = self.recordings.get(request.path_params["recording_sid"])
        if data is None:
            return _error(404, 20404, "The requested resource was not found")
        return Response(data, media_type="audio/mpeg")

    def media_url(self, message_sid: str, media_sid: str) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"

    async def _media(self, request: Request) -> Response:
        if _basic_auth(request) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if self.media_failures:
            status = self.media_failures.pop(0)
            return _error(status, 20000 + status, "media failure")
        media_sid = request.path_params["media_sid"]
        if media_sid not in self.media:
            return _error(404, 20404, "The requested resource was not found")
        cdn = self.base_url.replace("127.0.0.1", "localhost")
        return Response(status_code=307, headers={"Location": f"{cdn}/cdn/{media_sid}"})

    async def _cdn(self, request: Request) -> Response:
        media_sid = request.path_params["media_sid"]
        self.cdn_requests.append((request.url.path, "authorization" in request.headers))
        if self.cdn_gate is not None:
            await self.cdn_gate.wait()
        data, content_type = self.media[media_sid]
        return Response(data, media_type=content_type)

    async def _account(self, request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        if _basic_auth(request) != (self.account_sid, self.auth_token) or account_sid != self.account_sid:
            return _error(401, 20003, "Authenticate")
        return JSONResponse({"sid": account_sid, "friendly_name": "Demo shop", "status": "active",
                             "type": "Full", "auth_token": self.auth_token,
                             "uri": f"/2010-04-01/Accounts/{account_sid}.json"})


class _Dropped(Response):
    """Starts a 201 and breaks off mid-body: the server closes the connection on the client."""

    def __init__(self) -> None:
        super().__init__(status_code=201)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"sid": "SM', "more_body": True})
        raise ConnectionAbortedError("the fake breaks the connection here")


def _basic_auth(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status, headers=headers)


@asynccontextmanager
async def running(fake: TwilioFake | None = None) -> AsyncIterator[TwilioFake]:
    """Serve the fake on 127.0.0.1 (a free port) inside the current event loop."""
    fake = fake or TwilioFake()
    async with serve(fake.app()) as fake.base_url:
        try:
            yield fake
        finally:
            # Before the server stops: a request held open would hold up its shutdown.
            fake.release_hung()
