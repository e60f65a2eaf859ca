"""Files a provider fetches to send them on (WhatsApp media through Twilio): a signed, expiring
link instead of a session. Everything else about files is behind sign-in (composer.py)."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from inbox.db import utcnow
from inbox.files import FileStore
from inbox.messages import service as messages
from web.deps import SessionDep
from web.file_links import FileLinks

router = APIRouter(include_in_schema=False)


@router.get("/files/{attachment_id}/{filename}")
async def signed_file(request: Request, session: SessionDep, attachment_id: int, filename: str,
                      expires: str = "", signature: str = "") -> Response:
    links: FileLinks | None = request.app.state.file_links
    if links is None or not links.allows(attachment_id, expires, signature, now=utcnow()):
        return JSONResponse({"detail": "link invalid or expired"}, status_code=403)
    found = await messages.attachment(session, attachment_id)
    store: FileStore = request.app.state.files
    if found.sha256 is None or not store.path_for(found.sha256).exists():
        return JSONResponse({"detail": "file not stored"}, status_code=404)
    # The stored type, as Twilio checks it against the file; inline with the name, which WhatsApp
    # shows for documents. Never run as a page of ours: nosniff and a sandbox.
    return FileResponse(store.path_for(found.sha256), media_type=found.content_type, filename=found.filename,
                        content_disposition_type="inline",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; sandbox",
                                 "Cache-Control": "private, max-age=3600"})
