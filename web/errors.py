from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from inbox.errors import Conflict, Invalid, NotFound


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
