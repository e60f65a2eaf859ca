"""The signed-in user's own page: language, display name and password. Open to every role."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from inbox.agents import service as users
from inbox.agents.signin import SignedIn
from web.deps import SessionDep
from web.errors import status_of
from web.ui import pages
from web.ui.forms import attempt, refused, saved
from web.ui.security import AnyRoleDep

router = APIRouter(prefix="/account", include_in_schema=False)


def _account(request: Request, found: SignedIn, status: int = 200, **extra: Any) -> Response:
    return pages.render(request, "account.html", {
        "section": "account", "me": found.user, "saved": request.query_params.get("saved"), **extra},
        status_code=status)


@router.get("")
async def account_page(request: Request, found: AnyRoleDep) -> Response:
    return _account(request, found)


@router.post("")
async def update_profile(request: Request, session: SessionDep, found: AnyRoleDep,
                         name: Annotated[str, Form(max_length=200)],
                         locale: Annotated[Literal["", "en", "tr"], Form()] = "") -> Response:
    error = await attempt(session, users.update_profile(session, found.user.id or 0, name=name, locale=locale))
    if error:
        return _account(request, found, status_of(error), **refused(request, error, "profile"))
    return saved("/account", "profile")


@router.post("/password")
async def change_password(request: Request, session: SessionDep, found: AnyRoleDep,
                          current_password: Annotated[str, Form(max_length=1000)],
                          new_password: Annotated[str, Form(max_length=1000)]) -> Response:
    error = await attempt(session, users.change_password(session, found.user.id or 0, current=current_password,
                                                          new=new_password))
    if error:
        return _account(request, found, status_of(error), **refused(request, error, "password"))
    return saved("/account", "password")
