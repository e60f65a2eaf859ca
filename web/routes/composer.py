"""The composer's routes: send a reply or note (with files), a WhatsApp template, canned responses,
@mentions, Retry, files.

Thin: inbox.replies (with the messaging-window rule), inbox.templates, inbox.canned, inbox.mentions and
inbox.delivery do the work.
"""

import re
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.datastructures import FormData

from inbox import canned, mentions, templates
from inbox import delivery as deliveries
from inbox.channels import Channel
from inbox.errors import Invalid, NotFound
from inbox.files import FileStore, StoredFile
from inbox.messages import service as messages
from inbox.replies import add_note, queue_reply, queue_template
from inbox.text import fold
from inbox.threads import conversation
from inbox.threads import service as threads
from web.deps import SessionDep
from web.routes.ui import ViewDep, render_pane
from web.ui import pages
from web.ui.security import AgentDep

router = APIRouter(include_in_schema=False)

# Shown in the browser itself; anything else (HTML, SVG, PDF…) is a download, so it never runs as our page.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_SUGGESTIONS = 8
_VARIABLE_FIELD = re.compile(r"^var_\d{1,2}$")


@router.post("/inbox/threads/{thread_id}/messages")
async def write(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                text: Annotated[str, Form(max_length=10_000)], kind: Annotated[Literal["reply", "note"], Form()],
                channel: Annotated[Channel | None, Form()] = None,
                files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    thread = await threads.get(session, thread_id)
    uploads = [upload for upload in files or [] if upload.filename]
    if kind == "note":
        await add_note(session, customer_id=thread.customer_id, text=text, channel=channel,
                       author_user_id=found.user.id, author_name=found.user.name,
                       files=await _store(request.app.state.files, uploads))
    elif channel is None:
        raise Invalid("channel", "pick the channel to reply on")
    else:
        await queue_reply(session, customer_id=thread.customer_id, channel=channel, text=text,
                          author_user_id=found.user.id, author_name=found.user.name,
                          files=await _store(request.app.state.files, uploads))
    return await render_pane(request, session, thread, view)


@router.get("/inbox/threads/{thread_id}/template")
async def template_fields(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                          template_id: Annotated[str, Query(pattern=r"^\d{0,12}$")] = "") -> Response:
    """The chosen template's text and one input per placeholder, filled where the customer's details fit.

    The picker's empty first choice asks for nothing (template_id=""): the fields are cleared."""
    thread = await threads.get(session, thread_id)
    if not template_id:
        return Response("")
    template, fields = await templates.prefilled(session, int(template_id), customer_id=thread.customer_id)
    return pages.render(request, "_template_fields.html", {"t": thread, "template": template, "fields": fields,
                                                           "view": view})


@router.post("/inbox/threads/{thread_id}/template")
async def send_template(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                        template_id: Annotated[int, Form()]) -> Response:
    thread = await threads.get(session, thread_id)
    await queue_template(session, customer_id=thread.customer_id, template_id=template_id,
                         variables=template_variables(await request.form()),
                         author_user_id=found.user.id, author_name=found.user.name)
    return await render_pane(request, session, thread, view)


def template_variables(form: FormData) -> dict[str, str]:
    # One input per placeholder, named var_1, var_2…; anything else in the composer's form is not ours.
    return {name.removeprefix("var_"): value[:1000] for name, value in form.items()
            if _VARIABLE_FIELD.match(name) and isinstance(value, str)}


async def _store(store: FileStore, uploads: list[UploadFile]) -> list[StoredFile]:
    # Every size is checked before anything is written: one file too large refuses the message whole.
    for upload in uploads:
        store.check_size(upload.size or 0)
    stored = []
    for upload in uploads:
        data = await upload.read()
        stored.append(StoredFile(filename=upload.filename or "file", size=len(data), sha256=store.put(data),
                                 content_type=upload.content_type or "application/octet-stream"))
    return stored


@router.get("/inbox/threads/{thread_id}/canned")
async def canned_fragment(request: Request, session: SessionDep, _found: AgentDep, thread_id: int,
                          q: str = "") -> Response:
    """Canned responses matching what follows the `/`, filled for this thread's customer."""
    thread = await threads.get(session, thread_id)
    wanted = fold(q.strip().lstrip("/"))
    matches = [r for r in await canned.all_responses(session)
               if not wanted or wanted in fold(r.shortcut) or wanted in fold(r.title)][:_SUGGESTIONS]
    values = await canned.values_for(session, thread.customer_id)
    options = [{"insert": canned.fill(r.body, values), "label": f"/{r.shortcut}", "hint": r.title or r.body}
               for r in matches]
    return pages.render(request, "_suggest.html", {"options": options, "kind": "canned"})


@router.get("/inbox/threads/{thread_id}/mentions")
async def mentions_fragment(request: Request, session: SessionDep, _found: AgentDep, thread_id: int,
                            q: str = "") -> Response:
    """Colleagues to @mention in a note."""
    await threads.get(session, thread_id)
    options = [{"insert": f"@{user.name} ", "label": user.name, "hint": user.email}
               for user in await mentions.candidates(session, q, limit=_SUGGESTIONS) if user.name.strip()]
    return pages.render(request, "_suggest.html", {"options": options, "kind": "mention"})


@router.post("/inbox/messages/{message_id}/retry")
async def retry(request: Request, session: SessionDep, _found: AgentDep, message_id: int) -> Response:
    """Send a failed reply again; anything else is a 409."""
    message = await deliveries.retry(session, message_id)
    thread = await threads.get(session, message.thread_id)
    return pages.render(request, "_messages.html", {"pane": await conversation.load(session, thread)})


@router.get("/inbox/attachments/{attachment_id}")
async def attachment(request: Request, session: SessionDep, _found: AgentDep, attachment_id: int) -> Response:
    return await attachment_response(request, session, attachment_id)


async def attachment_response(request: Request, session: SessionDep, attachment_id: int) -> Response:
    """A stored file as staff open it: images shown, anything else a download, never run as our page."""
    found = await messages.attachment(session, attachment_id)
    if found.sha256 is None:
        raise NotFound("downloaded file of attachment", attachment_id)
    store: FileStore = request.app.state.files
    path = store.path_for(found.sha256)
    if not path.exists():
        raise NotFound("stored file of attachment", attachment_id)
    inline = found.content_type.lower() in INLINE_TYPES
    return FileResponse(
        path, media_type=found.content_type.lower() if inline else "application/octet-stream",
        filename=found.filename, content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                 "Cache-Control": "private, max-age=86400"})
