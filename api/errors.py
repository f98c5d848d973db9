"""Every error is JSON: ``{"error": {"code": ..., "message": ...}}`` with the right status,
and each route documents the statuses it can return with that body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from alerts.store import AlertError, WrongState
from api.schemas import ErrorResponse

_MEANINGS = {
    401: "Not signed in, or the access token is invalid or expired (WWW-Authenticate: Bearer)",
    403: "Signed in but not allowed: a scope your share lacks, a wrong claim code or link",
    404: "No such band, alert, contact, invitation or token, or none you may see",
    409: "The state change cannot happen (claimed by someone else, not acknowledgeable,"
    " already resolved)",
    422: "Invalid request: the message names the parameter or field",
    429: "Too many requests: wait the seconds in Retry-After",
    503: "A service this needs (the MQTT broker) is not reachable",
}


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer with these error statuses."""
    return {s: {"model": ErrorResponse, "description": _MEANINGS[s]} for s in statuses}


def _body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )

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
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": not JSON, not UTF-8
            message = "the body is not a JSON document (UTF-8)"
            return JSONResponse(_body("invalid_request", message), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: say every method the path has, not just one
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            _body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )


def _allowed_methods(request: Request) -> list[str]:
    """Starlette names only the first route of a path in its 405; a path here often has a
    GET and a POST route, so ask the router about each method."""
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]
