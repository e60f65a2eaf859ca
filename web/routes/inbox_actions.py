"""What an agent does to conversations from the inbox: assign, status, snooze, tags, in bulk or one
at a time, and the customer sidebar's edits (name, note, manual merge and its undo). Thin: every
change goes through the domain, so live events and cases stay right.
"""

import re
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from inbox import tags as case_tags
from inbox.agents import teams as agent_teams
from inbox.agents.service import assignable
from inbox.agents.signin import SignedIn
from inbox.customers import merge as merges
from inbox.customers import profile
from inbox.customers import service as customers
from inbox.customers.models import Customer
from inbox.db import utcnow
from inbox.errors import Invalid
from inbox.threads import actions, conversation, snooze
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread
from web.deps import SessionDep, SettingsDep
from web.routes.ui import ViewDep, inbox_context, render_pane
from web.ui import pages
from web.ui.security import AgentDep, actor_of

router = APIRouter(include_in_schema=False)

# One bulk request changes at most this many threads: a few pages of the list.
BULK_LIMIT = 500

# "me", "nobody", "user:3", "team:2" or "noteam": what the assign menus post.
_ASSIGNEE = r"^(me|nobody|noteam|user:\d{1,9}|team:\d{1,9})$"
Assignee = Annotated[str, Form(max_length=20, pattern=_ASSIGNEE)]
# What a bulk action or a single status button may set; snoozing needs a time, so it has its own route.
Settable = Literal["open", "pending", "resolved"]
_SETTABLE = get_args(Settable)


async def _assign(session: SessionDep, found: SignedIn, thread: Thread, assignee: str) -> None:
    """An agent keeps the thread's team and a team keeps its agent; "nobody" and "noteam" clear one."""
    kind, _, key = assignee.partition(":")
    agent_id, team_id = thread.assignee_id, thread.team_id
    match kind:
        case "me":
            agent_id = found.user.id
        case "nobody":
            agent_id = None
        case "user":
            agent_id = (await assignable(session, int(key))).id
        case "team":
            team_id = (await agent_teams.get(session, int(key))).id
        case _:
            team_id = None
    await actions.assign(session, thread, assignee_id=agent_id, team_id=team_id, by=found.user)


async def _add_tag(session: SessionDep, thread: Thread, tag_id: int) -> None:
    if thread.case_id is None:
        raise Invalid("tag", "this conversation has no case to tag yet")
    have = [tag.id or 0 for tag in await case_tags.of_case(session, thread.case_id)]
    await case_tags.set_case_tags(session, thread.case_id, [*have, tag_id])


@router.post("/inbox/threads/{thread_id}/assignee")
async def change_assignee(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                          assignee: Assignee) -> Response:
    thread = await threads.get(session, thread_id)
    await _assign(session, found, thread, assignee)
    return await render_pane(request, session, thread, view)


@router.post("/inbox/threads/{thread_id}/status")
async def change_status(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                        status: Annotated[Settable, Form()]) -> Response:
    thread = await threads.get(session, thread_id)
    await actions.set_status(session, thread, status=Status(status), by=found.user)
    return await render_pane(request, session, thread, view)


@router.post("/inbox/threads/{thread_id}/snooze")
async def snooze_thread(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                        preset: Annotated[snooze.Preset | None, Form()] = None,
                        until: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Until a preset time (shop's timezone) or a datetime-local the agent picked; the past is refused."""
    thread = await threads.get(session, thread_id)
    now = utcnow()
    if preset is not None:
        when = snooze.preset_time(preset, now=now)
    elif until:
        when = snooze.local_time(until)
    else:
        raise Invalid("until", "pick when the conversation should come back")
    await snooze.snooze(session, thread, until=when, now=now, by=found.user)
    return await render_pane(request, session, thread, view)


@router.post("/inbox/threads/{thread_id}/tags")
async def add_tag(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                  tag_id: Annotated[int, Form()]) -> Response:
    thread = await threads.get(session, thread_id)
    await _add_tag(session, thread, tag_id)
    return await render_pane(request, session, thread, view)


@router.post("/inbox/threads/{thread_id}/tags/{tag_id}/remove")
async def remove_tag(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, tag_id: int,
                     view: ViewDep) -> Response:
    thread = await threads.get(session, thread_id)
    if thread.case_id is not None:
        keep = [tag.id or 0 for tag in await case_tags.of_case(session, thread.case_id) if tag.id != tag_id]
        await case_tags.set_case_tags(session, thread.case_id, keep)
    return await render_pane(request, session, thread, view)


@router.post("/inbox/bulk")
async def bulk(request: Request, session: SessionDep, found: AgentDep, view: ViewDep,
               thread_id: Annotated[list[int], Form()], op: Annotated[str, Form(max_length=30)]) -> Response:
    """One change ("assign:me", "assign:team:2", "status:resolved", "tag:3") to every selected thread,
    in one transaction: all of them or, on any error, none."""
    if len(thread_id) > BULK_LIMIT:
        raise Invalid("thread_id", f"select at most {BULK_LIMIT} conversations at once")
    kind, _, value = op.partition(":")
    if not ((kind == "assign" and re.match(_ASSIGNEE, value)) or (kind == "status" and value in _SETTABLE)
            or (kind == "tag" and value.isdigit() and len(value) < 10)):
        raise Invalid("op", "pick what to do with the selected conversations")
    if kind == "tag":
        await case_tags.get(session, int(value))
    for one in sorted(set(thread_id)):
        thread = await threads.get(session, one)
        if kind == "assign":
            await _assign(session, found, thread, value)
        elif kind == "status":
            await actions.set_status(session, thread, status=Status(value), by=found.user)
        else:
            await _add_tag(session, thread, int(value))
    return pages.render(request, "_list_refresh.html", await inbox_context(session, found, view))


@router.post("/inbox/threads/{thread_id}/customer/name")
async def rename(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                 name: Annotated[str, Form(max_length=200)]) -> Response:
    thread = await threads.get(session, thread_id)
    await customers.rename(session, thread.customer_id, name=name)
    return await _sidebar(request, session, thread, view, renamed=True)


@router.post("/inbox/threads/{thread_id}/customer/note")
async def save_note(request: Request, session: SessionDep, _found: AgentDep, thread_id: int, view: ViewDep,
                    note: Annotated[str, Form(max_length=5000)] = "") -> Response:
    thread = await threads.get(session, thread_id)
    await customers.set_note(session, thread.customer_id, note=note)
    return await _sidebar(request, session, thread, view, note_saved=True)


@router.get("/inbox/threads/{thread_id}/merge-candidates")
async def merge_candidates(request: Request, session: SessionDep, _found: AgentDep, settings: SettingsDep,
                           thread_id: int, view: ViewDep, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Other customers matching a name, phone, email or order number, each with their identities."""
    thread = await threads.get(session, thread_id)
    found = [p for p in await profile.search(session, q[:200], region=settings.default_phone_region, limit=8)
             if p.customer.id != thread.customer_id] if q.strip() else []
    return pages.render(request, "_merge_candidates.html", {"candidates": found, "t": thread, "view": view, "q": q})


@router.post("/inbox/threads/{thread_id}/merges")
async def merge(request: Request, session: SessionDep, found: AgentDep, thread_id: int, view: ViewDep,
                other_id: Annotated[int, Form()]) -> Response:
    """The chosen customer is folded into the one on screen; the pane then offers an undo."""
    thread = await threads.get(session, thread_id)
    record = await merges.merge(session, survivor_id=thread.customer_id, absorbed_id=other_id, actor=actor_of(found))
    absorbed = await session.get(Customer, record.absorbed_id)
    pane = await conversation.load(session, await threads.get(session, thread_id))
    return pages.render(request, "_thread.html", {"pane": pane, "view": view, "undo": record,
                                                  "undo_name": absorbed.name if absorbed else ""})


@router.post("/inbox/threads/{thread_id}/merges/{merge_id}/undo")
async def undo_merge(request: Request, session: SessionDep, found: AgentDep, thread_id: int, merge_id: int,
                     view: ViewDep) -> Response:
    await merges.undo(session, merge_id, actor=actor_of(found))
    return await render_pane(request, session, await threads.get(session, thread_id), view)


async def _sidebar(request: Request, session: SessionDep, thread: Thread, view: ViewDep, **flags: bool) -> Response:
    pane = await conversation.load(session, thread)
    return pages.render(request, "_sidebar.html", {"pane": pane, "t": pane.thread, "customer": pane.profile.customer,
                                                   "view": view, **flags})
