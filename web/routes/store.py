"""The store employee's page, made for a phone at the counter: look a shopper up, read their whole
history, add what was said in the store. Replies only when an admin allows them (Admin → Store).
Every lookup and every card opened is in the audit log (inbox/lookups.py)."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from inbox import lookups, shop_options
from inbox.channels import Channel
from inbox.errors import Conflict
from inbox.replies import queue_reply
from inbox.threads import service as threads
from web.deps import SessionDep, SettingsDep
from web.routes.calls import CallFormDep, logged
from web.routes.composer import attachment_response
from web.ui import pages
from web.ui.forms import saved
from web.ui.security import StoreDep, actor_of

router = APIRouter(prefix="/store", include_in_schema=False)
REPLIES_OFF = "store staff may not reply: an admin can allow it under Admin → Store"


@router.get("")
async def lookup(request: Request, session: SessionDep, settings: SettingsDep, found: StoreDep,
                 q: Annotated[str, Query(max_length=200)] = "") -> Response:
    results = await lookups.look_up(session, q, region=settings.default_phone_region,
                                    actor=actor_of(found)) if q.strip() else []
    return pages.render(request, "store/lookup.html", {"section": "store", "q": q, "results": results})


@router.get("/customers/{customer_id}")
async def card(request: Request, session: SessionDep, found: StoreDep, customer_id: int) -> Response:
    pane = await lookups.open_card(session, customer_id, actor=actor_of(found))
    if pane.profile.customer.id != customer_id:
        # Merged since the link was made: the survivor's card, at its own address.
        return RedirectResponse(f"/store/customers/{pane.profile.customer.id}", status_code=303)
    return pages.render(request, "store/card.html", {
        "section": "store", "pane": pane, "can_reply": await shop_options.get(session, shop_options.STORE_CAN_REPLY),
        "saved": request.query_params.get("saved"), "read_only": True,
        "messages_url": f"/store/customers/{customer_id}/messages"})


@router.get("/customers/{customer_id}/messages")
async def older(request: Request, session: SessionDep, found: StoreDep, customer_id: int,
                before: Annotated[str, Query(max_length=200)]) -> Response:
    pane = await lookups.open_card(session, customer_id, actor=actor_of(found), before=before)
    return pages.render(request, "_messages.html", {"pane": pane, "read_only": True,
                                                    "messages_url": f"/store/customers/{customer_id}/messages"})


@router.post("/customers/{customer_id}/notes")
async def note(session: SessionDep, settings: SettingsDep, found: StoreDep, customer_id: int,
               form: CallFormDep) -> Response:
    written = await logged(session, region=settings.default_phone_region, signed=found, form=form,
                           customer_id=customer_id)
    # A confirmed number may have shown this to be a customer known already: their card, then.
    return saved(f"/store/customers/{(await threads.get(session, written.thread_id)).customer_id}", "note")


@router.post("/customers/{customer_id}/replies")
async def reply(session: SessionDep, found: StoreDep, customer_id: int,
                text: Annotated[str, Form(max_length=10_000)], channel: Annotated[Channel, Form()]) -> Response:
    if not await shop_options.get(session, shop_options.STORE_CAN_REPLY):
        raise Conflict(REPLIES_OFF)
    await queue_reply(session, customer_id=customer_id, channel=channel, text=text, author_user_id=found.user.id,
                      author_name=found.user.name)
    return saved(f"/store/customers/{customer_id}", "reply")


@router.get("/attachments/{attachment_id}")
async def attachment(request: Request, session: SessionDep, _found: StoreDep, attachment_id: int) -> Response:
    return await attachment_response(request, session, attachment_id)
