"""The search page: one box over customers, messages and orders; each hit opens where it was found."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from inbox import finder
from web.deps import SessionDep, SettingsDep
from web.ui import pages
from web.ui.highlight import highlight
from web.ui.security import AgentDep

router = APIRouter(include_in_schema=False)

Kind = Literal["customer", "message", "order"]


@router.get("/search")
async def search_page(request: Request, session: SessionDep, settings: SettingsDep, _found: AgentDep,
                      q: Annotated[str, Query(max_length=200)] = "", kind: Kind | None = None,
                      before: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """Every kind's newest matches; with `kind` (and `before`, from a "more" link), the next page of one."""
    groups = await finder.grouped(session, q, region=settings.default_phone_region,
                                  kinds=[kind] if kind else finder.KINDS,
                                  before=before if kind else None) if q.strip() else []
    return pages.render(request, "search.html", {"section": "search", "q": q, "kind": kind, "groups": groups,
                                                 "highlight": highlight})
