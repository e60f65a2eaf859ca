"""Logging a call or a conversation at the counter into a customer's thread: the agent's sidebar form
(here) and the store page's (web/routes/store.py) post the same fields, read by call_form()."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.agents.signin import SignedIn
from inbox.calls import CallKind, Outcome, log_call
from inbox.messages.models import Message
from inbox.threads import service as threads
from web.deps import SessionDep, SettingsDep
from web.routes.ui import ViewDep, render_pane
from web.ui.security import AgentDep, actor_of

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class CallForm:
    kind: CallKind
    number: str
    confirmed: bool
    minutes: int | None
    outcome: Outcome
    summary: str


def call_form(kind: Annotated[CallKind, Form()], outcome: Annotated[Outcome, Form()],
              summary: Annotated[str, Form(max_length=10_000)], number: Annotated[str, Form(max_length=40)] = "",
              confirmed: Annotated[bool, Form()] = False,
              minutes: Annotated[str, Form(max_length=3, pattern=r"^\d{0,3}$")] = "") -> CallForm:
    return CallForm(kind, number, confirmed, int(minutes) if minutes else None, outcome, summary)


CallFormDep = Annotated[CallForm, Depends(call_form)]


async def logged(session: AsyncSession, *, region: str, signed: SignedIn, form: CallForm, customer_id: int) -> Message:
    return await log_call(session, customer_id=customer_id, kind=form.kind, number=form.number,
                          confirmed=form.confirmed, minutes=form.minutes, summary=form.summary, outcome=form.outcome,
                          region=region, author_user_id=signed.user.id, author_name=signed.user.name,
                          actor=actor_of(signed))


@router.post("/inbox/threads/{thread_id}/calls")
async def log(request: Request, session: SessionDep, settings: SettingsDep, found: AgentDep, thread_id: int,
              view: ViewDep, form: CallFormDep) -> Response:
    thread = await threads.get(session, thread_id)
    note = await logged(session, region=settings.default_phone_region, signed=found, form=form,
                        customer_id=thread.customer_id)
    landed = await threads.get(session, note.thread_id)
    response = await render_pane(request, session, landed, view)
    if landed.id != thread_id:
        # The confirmed number proved this caller to be a customer with a thread of their own: go there.
        response.headers["HX-Push-Url"] = f"/inbox/threads/{landed.id}?view={view.value}"
    return response
