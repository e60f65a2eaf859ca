"""The agent's browser pages: sign-in and the inbox. Thin: the domain does the work."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from inbox import tags
from inbox.agents import signin
from inbox.agents import teams as agent_teams
from inbox.agents.models import Role
from inbox.agents.service import active_agents
from inbox.agents.signin import SignedIn
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.errors import NotFound
from inbox.threads import conversation, views
from inbox.threads import service as threads
from inbox.threads.models import Thread
from inbox.threads.views import View, ViewId
from web.deps import SessionDep
from web.ui import pages
from web.ui.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AgentDep,
    AnyRoleDep,
    CurrentDep,
    actor_of,
    new_login_csrf,
    safe_next,
)

router = APIRouter(include_in_schema=False)


# Rows per page of the list; the next page loads when the last row scrolls into view. 25 (as
# Chatwoot pages its list) is two screens of a 1440 × 900 list: the rows were two thirds of a
# full thread page's HTML at 50. A live refresh re-renders the rows already scrolled to, up to
# the second bound.
LIST_PAGE = 25
LIST_REFRESH_MAX = 500


def _view(view: str = View.unassigned.value) -> ViewId:
    return ViewId.parse(view)


# Which view the agent is in: "open", "channel:whatsapp", "tag:3", "team:2"; another is a 422.
ViewDep = Annotated[ViewId, Depends(_view)]


@router.get("/")
async def home(found: AnyRoleDep) -> RedirectResponse:
    # Store staff work at the counter's lookup; everyone else in the inbox.
    return RedirectResponse("/store" if found.user.role == Role.store else "/inbox", status_code=303)


@router.get("/login")
async def login_page(request: Request, found: CurrentDep, next: str = "/") -> Response:
    if found is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next)


def _login_form(request: Request, next: str, *, email: str = "", error: str = "", status: int = 200) -> Response:
    """The sign-in form with a fresh double-submit token in its field and in a cookie."""
    token = new_login_csrf()
    response = pages.render(request, "login.html", {"next": safe_next(next), "login_csrf": token, "email": email,
                                                    "error": error}, status_code=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, session: SessionDep, email: Annotated[str, Form(max_length=320)],
                password: Annotated[str, Form(max_length=1000)], csrf_token: Annotated[str, Form(max_length=100)],
                next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    def again(message: str, status: int) -> Response:
        return _login_form(request, next, email=email, error=message, status=status)

    words = pages.i18n.translations(pages.locale_of(request))
    if not signin.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return again(words.gettext("The form expired. Please sign in again."), 403)
    client = request.client.host if request.client else "unknown"
    try:
        started = await signin.sign_in(session, email=email, password=password, client=client)
    except signin.TooManyFailures:
        return again(words.gettext("Too many failed attempts. Wait 15 minutes and try again."), 429)
    if started is None:
        return again(words.gettext("Wrong email or password."), 401)
    token, _user = started
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        max_age=int(signin.IDLE_LIMIT.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(session: SessionDep, found: AnyRoleDep) -> RedirectResponse:
    await signin.sign_out(session, found.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/inbox")
async def inbox(request: Request, session: SessionDep, found: AgentDep,
                view: ViewDep) -> Response:
    return pages.render(request, "inbox.html", await inbox_context(session, found, view))


@router.get("/inbox/threads/{thread_id}")
async def thread_page(request: Request, session: SessionDep, found: AgentDep, thread_id: int,
                      view: ViewDep, message: int | None = None) -> Response:
    """The inbox with the thread open; with `message`, on the history around that message (a search hit)."""
    thread, customer = await threads.get_with_customer(session, thread_id)
    await threads.mark_read(session, thread)
    pane = await conversation.load(session, thread, around=message, customer=customer)
    if request.headers.get("hx-request"):
        return pages.render(request, "_thread.html", {"pane": pane, "view": view})
    return pages.render(request, "inbox.html", {**await inbox_context(session, found, view, selected_id=thread_id,
                                                                      pane=pane), "pane": pane})


@router.get("/inbox/list")
async def list_fragment(request: Request, session: SessionDep, found: AgentDep, view: ViewDep,
                        selected: int = 0, after: str = "", loaded: int = 0) -> Response:
    """The list and the view counts, for a live refresh; with `after`, only the next page's rows.

    A refresh keeps as many rows as the agent had scrolled to (`loaded`), up to a bound.
    """
    if after:
        rows = await views.page(session, view, user_id=found.user.id or 0, limit=LIST_PAGE,
                                after=views.parse_cursor(after))
        return pages.render(request, "_list.html", {
            "view": view, "rows": rows, "selected_id": selected, "rows_only": True,
            "agents": await active_agents(session),
            "more": views.cursor_after(rows[-1]) if len(rows) == LIST_PAGE else None})
    return pages.render(request, "_list_refresh.html", await inbox_context(
        session, found, view, selected_id=selected, limit=min(max(loaded, LIST_PAGE), LIST_REFRESH_MAX)))


# A reader who scrolled back further than this gets the rest again as they scroll down.
_REDRAWN = 500


@router.get("/inbox/threads/{thread_id}/messages")
async def messages_fragment(request: Request, session: SessionDep, _found: AgentDep, thread_id: int,
                            before: Annotated[str | None, Query(max_length=200)] = None,
                            after: Annotated[str | None, Query(max_length=200)] = None,
                            since: int | None = None) -> Response:
    """The conversation's messages, for a live refresh that leaves the composer alone (`since` the
    oldest message a reader scrolled back to, so the refresh keeps it), or the page of history
    before or after a cursor the pane holds, as the reader scrolls."""
    thread = await threads.get(session, thread_id)
    if not (before or after):
        await threads.mark_read(session, thread)
    pane = await conversation.load(session, thread, before=before, after=after, since=since,
                                   limit=_REDRAWN if since else 50)
    return pages.render(request, "_messages.html", {"pane": pane, "paged": since is not None})


@router.post("/inbox/threads/{thread_id}/suggestions/{suggestion_id}")
async def decide_suggestion(request: Request, session: SessionDep, found: AgentDep, thread_id: int,
                            suggestion_id: int, decision: Annotated[Literal["merge", "dismiss"], Form()],
                            view: ViewDep) -> Response:
    thread = await threads.get(session, thread_id)
    actor = actor_of(found)
    suggestion = next((s for s in await customers.open_suggestions(session, thread.customer_id)
                       if s.id == suggestion_id), None)
    if suggestion is None:
        raise NotFound("merge suggestion for this customer", suggestion_id)
    if decision == "merge":
        # The customer on screen survives: the agent stays in the thread they are working.
        other = suggestion.other_id if suggestion.customer_id == thread.customer_id else suggestion.customer_id
        await merges.merge(session, survivor_id=thread.customer_id, absorbed_id=other, actor=actor)
    else:
        await customers.dismiss_suggestion(session, suggestion_id, actor=actor)
    return await render_pane(request, session, await threads.get(session, thread_id), view)


async def render_pane(request: Request, session: SessionDep, thread: Thread, view: ViewId) -> Response:
    return pages.render(request, "_thread.html", {"pane": await conversation.load(session, thread), "view": view})


async def inbox_context(session: SessionDep, found: SignedIn, view: ViewId, *, selected_id: int = 0,
                        limit: int = LIST_PAGE, pane: conversation.Conversation | None = None) -> dict[str, Any]:
    """The list page's data; with the open thread's `pane`, its tags, teams and agents serve the list too."""
    user_id = found.user.id or 0
    rows = await views.page(session, view, user_id=user_id, limit=limit)
    overview = await views.overview(session, user_id=user_id)
    return {"section": "inbox", "view": view, "views": list(View),
            "counts": overview.counts, "family_counts": overview.families,
            "tag_catalog": pane.tag_catalog if pane else await tags.all_tags(session),
            "teams": pane.teams if pane else await agent_teams.all_teams(session),
            "agents": pane.agents if pane else await active_agents(session),
            "rows": rows, "more": views.cursor_after(rows[-1]) if len(rows) == limit else None,
            "selected_id": selected_id, "live_after": overview.last_event_id}
