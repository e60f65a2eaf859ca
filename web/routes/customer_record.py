"""The customer's data rights from the sidebar: export the whole record (agents and admins), erase it
(admins only, after typing the customer's name or ERASE)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from inbox.customers import erase as erasure
from inbox.customers import export as exports
from inbox.threads import conversation
from inbox.threads import service as threads
from web.deps import FilesDep, SessionDep, SettingsDep
from web.downloads import export_response
from web.routes.ui import ViewDep
from web.ui import pages
from web.ui.security import AdminDep, AgentDep, actor_of

router = APIRouter(include_in_schema=False)


@router.get("/inbox/threads/{thread_id}/customer/export", response_class=Response)
async def export(session: SessionDep, found: AgentDep, files: FilesDep, settings: SettingsDep,
                 thread_id: int) -> FileResponse:
    thread = await threads.get(session, thread_id)
    made = await exports.export(session, thread.customer_id, files=files, into=settings.data_dir / "exports",
                                actor=actor_of(found))
    return export_response(made)


@router.post("/inbox/threads/{thread_id}/customer/erase")
async def erase(request: Request, session: SessionDep, found: AdminDep, files: FilesDep, thread_id: int,
                view: ViewDep, confirm: Annotated[str, Form(max_length=200)] = "") -> Response:
    thread = await threads.get(session, thread_id)
    await erasure.erase(session, thread.customer_id, confirm=confirm, files=files, actor=actor_of(found))
    pane = await conversation.load(session, await threads.get(session, thread_id))
    return pages.render(request, "_thread.html", {"pane": pane, "view": view, "erased": True})
