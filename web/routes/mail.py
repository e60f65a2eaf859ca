"""A mail's formatted (HTML) view, for the thread's "Show full message". Thin: the stored,
sanitized HTML in a document of its own (web/ui/mail_html.py)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from inbox.errors import NotFound
from inbox.files import FileStore
from inbox.messages import service as messages
from inbox.messages.models import Attachment
from web.deps import SessionDep
from web.ui import mail_html
from web.ui.security import AgentDep, StoreDep

router = APIRouter(include_in_schema=False)


@router.get("/inbox/messages/{message_id}/html")
async def mail_view(request: Request, session: SessionDep, _found: AgentDep, message_id: int) -> HTMLResponse:
    return await _mail(request, session, message_id)


@router.get("/store/messages/{message_id}/html")
async def store_mail_view(request: Request, session: SessionDep, _found: StoreDep, message_id: int) -> HTMLResponse:
    """The same for the store counter's read-only card, which its staff may open and the inbox not."""
    return await _mail(request, session, message_id)


async def _mail(request: Request, session: SessionDep, message_id: int) -> HTMLResponse:
    message = await messages.get(session, message_id)
    if not message.html:
        raise NotFound("HTML of message", message_id)
    files = (await messages.attachments_for(session, [message_id])).get(message_id, [])
    store: FileStore = request.app.state.files
    details = (message.extra or {}).get("email") or {}

    def read(file: Attachment) -> bytes | None:
        path = store.path_for(file.sha256) if file.sha256 else None
        return path.read_bytes() if path is not None and path.exists() else None

    page = mail_html.document(message.html, cids=dict(details.get("cids") or {}), files=files, read=read,
                              title=message.subject or "")
    return HTMLResponse(page, headers={"Content-Security-Policy": mail_html.POLICY,
                                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                                       "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store"})
