"""The web chat widget's HTTP side: the loader script, the chat frame, a visitor's session, uploads and
the forms, and the demo shop that embeds it all. The live side is web/routes/widget_socket.py.

The loader runs on the shop's page and only draws an iframe of /widget inside a shadow root, so
neither side's styles reach the other; everything else happens inside that frame, on this server's
own origin: its storage keeps the visitor's token, its socket needs no cross-origin allowances.
"""

import hashlib
import hmac
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from adapters import webchat
from adapters.base import BadPayload, BadSignature, RawRequest
from inbox.db import utcnow
from inbox.files import FileStore
from inbox.signing import sign
from inbox.visitors import service as visitors
from inbox.visitors.models import Visitor
from web.deps import SessionDep, SettingsDep
from web.ratelimit import Window
from web.routes.webhooks import TooLarge, read_body
from web.ui import i18n, pages

router = APIRouter(include_in_schema=False)

LOADER = Path(__file__).resolve().parents[1] / "static" / "js" / "widget.js"
SESSION_BYTES = 4096
NO_SESSION = JSONResponse({"detail": "no chat session: reload the page"}, status_code=401)
# Ten files in ten minutes per visitor: enough for photos of a damaged parcel, not for a flood.
_UPLOADS = Window(10, 600)


def chat_adapter(connection: HTTPConnection) -> webchat.Adapter:
    return next(adapter for adapter in connection.app.state.adapters if isinstance(adapter, webchat.Adapter))


def frame_ancestors(chat: webchat.Adapter) -> str:
    allowed = chat.settings.allowed_origins.replace(",", " ").split()
    return " ".join(["'self'", *allowed])


@router.get("/widget.js")
async def loader() -> FileResponse:
    # Short-lived cache: a shop's pages pick up a new widget within minutes of an upgrade.
    return FileResponse(LOADER, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


@router.get("/widget")
async def frame(request: Request, lang: Annotated[str, Query(max_length=10)] = "") -> Response:
    """The chat itself, drawn inside the loader's iframe; only pages WIDGET_ALLOWED_ORIGINS names may frame it."""
    chat = chat_adapter(request)
    locale = i18n.pick(lang.lower()[:2], request.headers.get("accept-language", ""))
    return pages.render(request, "widget/frame.html", {"max_upload": chat.settings.max_upload_bytes,
                                                       "upload_types": ",".join(webchat.adapter.UPLOAD_TYPES)},
                        locale=locale, headers={
        "Content-Security-Policy": f"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                   f"base-uri 'none'; frame-ancestors {frame_ancestors(chat)}",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class _SessionIn(BaseModel):
    token: str = Field(default="", max_length=200)


@router.post("/widget/session")
async def start(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The browser's visitor and a ticket for its socket; a shopper the page names must carry the shop's signature."""
    try:
        body = await read_body(request, SESSION_BYTES)
        raw = RawRequest(method="POST", path=request.url.path, headers=dict(request.headers), body=body)
        shopper = chat_adapter(request).shopper(raw)
        token = _SessionIn.model_validate_json(body or b"{}").token
    except TooLarge:
        return JSONResponse({"detail": "too large"}, status_code=413)
    except BadSignature:
        # The page claims a shopper it cannot prove: it gets no chat as them (the widget goes on anonymously).
        return JSONResponse({"detail": "the shopper's signature does not match"}, status_code=403)
    except (BadPayload, ValueError) as error:
        return JSONResponse({"detail": str(error)}, status_code=400)
    try:
        started = await visitors.start(session, secret=request.app.state.secret, token=token, shopper=shopper,
                                       client=_client(request), region=settings.default_phone_region, now=utcnow())
    except visitors.TooManyVisitors as error:
        return JSONResponse({"detail": str(error)}, status_code=429, headers={"Retry-After": "600"})
    return JSONResponse({"token": started.token, "ticket": started.ticket, "name": started.visitor.name,
                         "signed_in": started.visitor.verified}, headers={"Cache-Control": "no-store"})


@router.post("/widget/uploads")
async def upload(request: Request, session: SessionDep, file: Annotated[UploadFile | None, File()] = None) -> Response:
    """A file for the visitor's next message: kept by its content address, which the message then names."""
    visitor = await _visitor(request, session)
    chat = chat_adapter(request)
    if visitor is None:
        return NO_SESSION
    if file is None:
        return JSONResponse({"detail": "file: missing"}, status_code=400)
    if not _UPLOADS.allow(visitor.key):
        return JSONResponse({"detail": "too many files at once: wait a few minutes"}, status_code=429)
    data = await file.read(chat.settings.max_upload_bytes + 1)
    content_type = (file.content_type or "").split(";")[0].strip().lower()
    name = Path(file.filename or "file").name[:255]
    try:
        chat.check_upload(filename=name, content_type=content_type, data=data)
    except BadPayload as error:
        return JSONResponse({"detail": str(error)}, status_code=413 if "larger" in str(error) else 415)
    store: FileStore = request.app.state.files
    return JSONResponse({"sha256": store.put(data), "name": name, "type": content_type, "size": len(data)})


class _ContactIn(BaseModel):
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    phone: str = Field(default="", max_length=40)


@router.post("/widget/contact")
async def contact(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The pre-chat form, or the email asked for when nobody is online: claimed, never proven."""
    visitor = await _visitor(request, session)
    if visitor is None:
        return NO_SESSION
    try:
        given = _ContactIn.model_validate_json(await read_body(request, SESSION_BYTES))
    except (TooLarge, ValueError) as error:
        return JSONResponse({"detail": str(error) or "too large"}, status_code=400)
    identity = await visitors.give_contact(session, visitor, name=given.name, email=given.email, phone=given.phone,
                                           region=settings.default_phone_region)
    return JSONResponse({"name": visitor.name, "email_known": await visitors.email_known(session, identity)})


@router.get("/demo/shop")
async def demo_shop(request: Request, email: Annotated[str, Query(max_length=320)] = "",
                    name: Annotated[str, Query(max_length=200)] = "",
                    lang: Annotated[str, Query(max_length=10)] = "") -> Response:
    """A pretend shop with the widget on it. Run with --demo, it also plays the shop's backend and signs
    in whoever the sign-in form names, so the chat joins that shopper's thread."""
    chat = chat_adapter(request)
    shopper = None
    if request.app.state.demo and email.strip() and chat.identifies_shoppers:
        secret = chat.settings.identity_secret.get_secret_value().encode()
        shopper = {"email": email.strip(), "name": name.strip(),
                   "hash": hmac.new(secret, email.strip().encode(), hashlib.sha256).hexdigest()}
    locale = i18n.pick(lang.lower()[:2], request.headers.get("accept-language", ""))
    return pages.render(request, "widget/demo_shop.html", {"shopper": shopper, "can_sign_in": request.app.state.demo},
                        locale=locale)


async def _visitor(request: Request, session: SessionDep) -> Visitor | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await visitors.by_token(session, secret=request.app.state.secret, token=token.strip())


def _client(request: Request) -> str:
    # Keyed, so the table holds no address anyone could read back (inbox.visitors.models).
    return sign(request.app.state.secret, "widget client", request.client.host if request.client else "")[:40]
