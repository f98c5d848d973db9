"""Every error is JSON: ``{"error": {"code": ..., "message": ...}}`` with the right status,
and each route documents the statuses it can return with that body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from alerts.store import AlertError, WrongState
from api.schemas import ErrorResponse

_MEANINGS = {
    403: "Not allowed: a wrong claim code or acknowledgement link",
    404: "No such band, alert or contact",
    409: "The state change cannot happen (claimed by someone else, not acknowledgeable,"
    " already resolved)",
    422: "Invalid request: the message names the parameter or field",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer with these error statuses."""
    return {s: {"model": ErrorResponse, "description": _MEANINGS[s]} for s in statuses}


def _body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(AlertError)
    async def _alert_error(_r: Request, exc: AlertError) -> JSONResponse:
        status = 409 if isinstance(exc, WrongState) else 404
        return JSONResponse(_body(exc.code, str(exc)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path"))
            parts.append(f"{loc}: {err['msg']}")
        return JSONResponse(_body("invalid_request", "; ".join(parts)), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)
