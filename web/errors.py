from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from inbox.errors import Conflict, Invalid, NotFound
from web.ui.security import SignInRequired, sign_in_url


def install(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Invalid)
    async def _invalid(_request: Request, error: Invalid) -> JSONResponse:
        # The same shape as FastAPI's own validation errors, so clients read one format.
        return JSONResponse({"detail": [{"loc": ["body", error.field], "msg": error.message,
                                         "type": "value_error"}]}, status_code=422)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _error: SignInRequired) -> Response:
        if request.headers.get("hx-request") or request.method != "GET":
            # htmx follows HX-Redirect; a plain 303 would swap the sign-in page into a fragment.
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(sign_in_url(request), status_code=303)
