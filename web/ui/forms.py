"""Form posts that a domain rule may refuse: the change leaves no trace and the page shows why."""

from collections.abc import Awaitable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.errors import DomainError, Invalid, NotFound
from web.errors import reason_of
from web.ui import pages


async def attempt(session: AsyncSession, change: Awaitable[Any]) -> DomainError | None:
    """Run one domain change in a savepoint: refused, it is rolled back alone and the page can still render."""
    try:
        async with session.begin_nested():
            await change
    except DomainError as error:
        return error
    return None


def refused(request: Request, error: DomainError, form: str) -> dict[str, Any]:
    """Template context naming the refused form and the reason, in the reader's language.

    A missing row has no form of its own to show the reason beside: it goes to the top of the page.
    """
    words = pages.i18n.translations(pages.locale_of(request))
    reason = words.gettext(reason_of(error))
    if isinstance(error, Invalid):
        reason = f"{words.gettext(error.field.replace('_', ' ').capitalize())}: {reason}"
    return {"error": {"form": "page" if isinstance(error, NotFound) else form, "reason": reason}}


def saved(path: str, what: str = "1") -> RedirectResponse:
    """Post/redirect/get: a reload shows the page again instead of posting twice."""
    return RedirectResponse(f"{path}?saved={what}", status_code=303)
