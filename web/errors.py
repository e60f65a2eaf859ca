"""Errors as each caller can read them: JSON for the API and webhooks, a page for a browser, a toast for htmx.

htmx answers keep their 4xx status and carry HX-Retarget/HX-Reswap, so the message lands in the page's
#flash region instead of replacing the fragment the request aimed at (web/static/flash.js lets htmx
swap them).
"""

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.agents import signin
from inbox.errors import Conflict, DomainError, Invalid, NotFound
from web.ui import pages
from web.ui.security import SESSION_COOKIE, SignInRequired, sign_in_url

# Machine callers: their answers are a contract (the API) or a provider's expectation (webhooks).
_MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/docs", "/redoc", "/openapi.json", "/live", "/static/",
                  "/widget/", "/ws/")
# Where each role can always go from an error page.
HOME = {"admin": "/inbox", "agent": "/inbox", "store": "/store"}


def status_of(error: DomainError) -> int:
    # By kind, as the exception handlers below match: a WindowClosed is a Conflict.
    return next((status for kind, status in ((NotFound, 404), (Invalid, 422), (Conflict, 409))
                 if isinstance(error, kind)), 400)


def reason_of(error: DomainError) -> str:
    return error.message if isinstance(error, Invalid) else str(error)


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(_MACHINE_PATHS):
        return False
    return bool(request.headers.get("hx-request")) or "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> Response:
        if wants_html(request):
            return await page(request, 404, str(error))
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, error: Invalid) -> Response:
        if wants_html(request):
            return await page(request, 422, error.message, field=error.field)
        # The same shape as FastAPI's own validation errors, so clients read one format.
        return JSONResponse({"detail": [{"loc": ["body", error.field], "msg": error.message,
                                         "type": "value_error"}]}, status_code=422)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, error: Conflict) -> Response:
        if wants_html(request):
            return await page(request, 409, str(error))
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if wants_html(request) and error.status_code >= 400:
            return await page(request, error.status_code, str(error.detail))
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        if wants_html(request):
            first = error.errors()[0] if error.errors() else {}
            field = str(first.get("loc", ["", ""])[-1])
            return await page(request, 422, str(first.get("msg", "invalid input")), field=field)
        return await request_validation_exception_handler(request, error)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _error: SignInRequired) -> Response:
        if request.headers.get("hx-request") or request.method != "GET":
            # htmx follows HX-Redirect; a plain 303 would swap the sign-in page into a fragment.
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(sign_in_url(request), status_code=303)


async def page(request: Request, status: int, reason: str, *, field: str = "") -> Response:
    """The error as a page (a browser) or as a toast in #flash (htmx), with its status kept."""
    await _know_who(request)
    context = {"status": status, "reason": reason, "field": field, "section": "",
               "home": HOME.get(getattr(request.state.user, "role", ""), "/login")}
    if request.headers.get("hx-request"):
        return pages.render(request, "_flash.html", context, status_code=status,
                            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return pages.render(request, "error.html", context, status_code=status)


async def _know_who(request: Request) -> None:
    # A route's dependencies may not have run (an unknown path): the top bar still shows who is signed in.
    if hasattr(request.state, "signed_in"):
        return
    async with request.app.state.sessions() as session:
        found = await signin.signed_in(session, request.cookies.get(SESSION_COOKIE, ""))
    request.state.signed_in = found
    request.state.user = found.user if found else None
