"""A loopback server that answers the Telegram Bot API the way Telegram does.

`/bot<token>/<method>` for calls and `/file/bot<token>/<path>` for downloads. Answers are
programmed per method (`enqueue`), else they succeed; every call is recorded before it is
answered, so a test can tell "sent" from "never arrived" even when the answer never comes back.
"""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent.parent / "adapters" / "telegram" / "fixtures"
TOKEN = "7012345678:AAF4ke-T0ken_for_tests_only_0123456789"
BOT = {"id": 7012345678, "is_bot": True, "first_name": "Acme Destek", "username": "acme_destek_bot"}

Answer = Literal["ok", "blocked", "flood", "chat_not_found", "file_too_big", "server_error", "hang"]


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, str]
    # Uploaded files by field name: (file name, bytes).
    uploads: dict[str, tuple[str, bytes]]
    authorized: bool


@dataclass(slots=True)
class StoredFile:
    path: str
    data: bytes
    # What getFile reports; None reports the real size.
    reported_size: int | None = None


@dataclass
class TelegramFake:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    base_url: str = ""
    _answers: dict[str, list[Answer]] = field(default_factory=dict)
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(500))
    _release: threading.Event = field(default_factory=threading.Event)

    def enqueue(self, method: str, *answers: Answer) -> None:
        """The next calls of `method` get these answers, in order; then success again."""
        self._answers.setdefault(method, []).extend(answers)

    def add_file(self, file_id: str, data: bytes, *, path: str = "documents/file_1.pdf",
                 reported_size: int | None = None) -> None:
        self.files[file_id] = StoredFile(path, data, reported_size)

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/bot{token}/{method}", self._call, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
        ])

    async def _call(self, request: Request) -> Response:
        method = request.path_params["method"]
        params, uploads = await _params(request)
        authorized = request.path_params["token"] == self.token
        self.calls.append(Call(method, params, uploads, authorized))
        if not authorized:
            return _error(401, "Unauthorized")
        queue = self._answers.get(method, [])
        answer = queue.pop(0) if queue else "ok"
        if answer == "hang":
            # Holds the request open like a Telegram that never answers, until the fake shuts down.
            await asyncio.to_thread(self._release.wait)
            return _error(502, "Bad Gateway")
        if answer == "blocked":
            return _fixture("api_403_blocked.json")
        if answer == "flood":
            return _fixture("api_429_flood.json")
        if answer == "chat_not_found":
            return _error(400, "Bad Request: chat not found")
        if answer == "file_too_big":
            return _error(400, "Bad Request: file is too big")
        if answer == "server_error":
            return _error(500, "Internal Server Error")
        return self._ok(method, params, uploads)

    def _ok(self, method: str, params: dict[str, str], uploads: dict[str, tuple[str, bytes]]) -> Response:
        if method == "getMe":
            return _result(BOT)
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            return _result(self._message(method, params, uploads))
        if method == "getFile":
            stored = self.files.get(params.get("file_id", ""))
            if stored is None:
                return _error(400, "Bad Request: invalid file_id")
            size = stored.reported_size if stored.reported_size is not None else len(stored.data)
            return _result({"file_id": params["file_id"], "file_unique_id": "u" + params["file_id"][-8:],
                            "file_size": size, "file_path": stored.path})
        if method in ("setWebhook", "answerCallbackQuery", "deleteWebhook"):
            return _result(True, description="Webhook was set" if method == "setWebhook" else None)
        if method == "getWebhookInfo":
            hook = next((call.params for call in reversed(self.called("setWebhook"))), {})
            return _result({"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0,
                            "max_connections": 40,
                            "allowed_updates": json.loads(hook.get("allowed_updates", "[]"))})
        return _error(404, "Not Found: method not found")

    def _message(self, method: str, params: dict[str, str], uploads: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "from": BOT,
            "chat": {"id": chat_id, "type": "private", "first_name": "Ayşe"},
        }
        if method == "sendMessage":
            message["text"] = params.get("text", "")
            return message
        if "caption" in params:
            message["caption"] = params["caption"]
        name, data = next(iter(uploads.values()), ("file", b""))
        if method == "sendPhoto":
            message["photo"] = [{"file_id": f"photo{message['message_id']}", "file_unique_id": "p1",
                                 "width": 800, "height": 600, "file_size": len(data)}]
        else:
            message["document"] = {"file_id": f"doc{message['message_id']}", "file_unique_id": "d1",
                                   "file_name": name, "file_size": len(data)}
        return message

    async def _download(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.downloads.append(path)
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        stored = next((file for file in self.files.values() if file.path == path), None)
        if stored is None:
            return _error(404, "Not Found")
        return Response(stored.data, media_type="application/octet-stream")


async def _params(request: Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    # PTB posts url-encoded forms, or multipart when it uploads a file.
    params: dict[str, str] = {}
    uploads: dict[str, tuple[str, bytes]] = {}
    if request.method == "GET":
        return dict(request.query_params), uploads
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        return {key: v if isinstance(v, str) else json.dumps(v) for key, v in json.loads(body or b"{}").items()}, {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads[key] = (value.filename or "", await value.read())
            else:
                params[key] = value
    return params, uploads


def _result(result: Any, *, description: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": status, "description": description}, status_code=status)


def _fixture(name: str) -> JSONResponse:
    body = json.loads((FIXTURES / name).read_text())
    return JSONResponse(body, status_code=body["error_code"])


def _server(fake: TelegramFake) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                         timeout_graceful_shutdown=2))


def _port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@asynccontextmanager
async def running(fake: TelegramFake | None = None) -> AsyncIterator[TelegramFake]:
    """Serve the fake on 127.0.0.1 (a free port) for an async test."""
    with serving(fake) as served:
        yield served


@contextmanager
def serving(fake: TelegramFake | None = None) -> Iterator[TelegramFake]:
    """The fake in a thread with its own event loop, so code that runs one itself (the CLI) can call it too."""
    fake = fake or TelegramFake()
    server = _server(fake)
    thread = threading.Thread(target=server.run, name="telegram-fake", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake Telegram server did not start")
        time.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{_port(server)}"
    try:
        yield fake
    finally:
        fake._release.set()
        server.should_exit = True
        thread.join(10)
