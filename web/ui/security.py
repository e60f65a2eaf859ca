"""Who is signed in, what their role may open, and CSRF on everything that changes state."""

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.types import Scope

from inbox.agents import signin
from inbox.agents.models import Role
from inbox.agents.signin import SignedIn
from web.deps import SessionDep

SESSION_COOKIE = "onethread_session"
# Double-submit token for the sign-in form itself, which has no session to hold one yet.
LOGIN_CSRF_COOKIE = "onethread_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Who works the inbox: its routes (AgentDep) and the composer's uploads (may_attach) ask the same.
AGENT_ROLES = (Role.admin, Role.agent)


class SignInRequired(Exception):
    """A page needs a signed-in user: browsers go to the sign-in page, htmx gets a 401."""


async def current(request: Request, session: SessionDep) -> SignedIn | None:
    found = await signin.signed_in(session, request.cookies.get(SESSION_COOKIE, ""))
    request.state.signed_in = found
    request.state.user = found.user if found else None
    return found


CurrentDep = Annotated[SignedIn | None, Depends(current)]


async def may_attach(scope: Scope) -> bool:
    """Whether the request comes from a signed-in agent or admin, asked before its body is read:
    the composer's files are spooled to disk before the route's own check would run."""
    token = Request(scope).cookies.get(SESSION_COOKIE, "")
    if not token:
        return False
    async with scope["app"].state.sessions() as session:
        found = await signin.signed_in(session, token)
        await session.commit()
    return found is not None and found.user.role in AGENT_ROLES


async def submitted_csrf(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, SignedIn]]:
    """A dependency: the signed-in user, if their role is one of these; CSRF-checked unless a safe method."""

    async def dependency(request: Request, found: CurrentDep) -> SignedIn:
        if found is None:
            raise SignInRequired()
        if found.user.role not in roles:
            raise HTTPException(403, "your role cannot open this page")
        if request.method not in _SAFE_METHODS and not signin.csrf_matches(found.csrf_token,
                                                                            await submitted_csrf(request)):
            raise HTTPException(403, "the form is out of date: reload the page and try again")
        return found

    return dependency


AgentDep = Annotated[SignedIn, Depends(require(*AGENT_ROLES))]
AnyRoleDep = Annotated[SignedIn, Depends(require(Role.admin, Role.agent, Role.store))]
AdminDep = Annotated[SignedIn, Depends(require(Role.admin))]
# The store counter's lookup: store staff, and admins, who may open everything.
StoreDep = Annotated[SignedIn, Depends(require(Role.store, Role.admin))]


def actor_of(found: SignedIn) -> str:
    """Who did it, as the audit log and merges name a signed-in user."""
    return f"user:{found.user.id}:{found.user.email}"


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def safe_next(target: str | None) -> str:
    # Only paths on this site: "//evil.example" and "https://…" would send the agent elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
