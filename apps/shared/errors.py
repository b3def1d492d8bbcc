"""One machine-readable error shape for every app: {"error": {"code", "message", "details"?}}.

Validation failures are 422 with the offending fields, malformed JSON is 400, text that is not Unicode (a lone
surrogate) is 422, and an HTTPException whose detail is a dict with a `code` passes through as that error.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx, for routes that describe their errors in the OpenAPI document."""

    error: ErrorDetail


ERRORS: dict[int, str] = {
    400: "malformed request: the body is not JSON, or the admin key came without X-Tenant-Id",
    401: "missing or invalid API key",
    403: "the key lacks the scope, or X-Tenant-Id names another tenant",
    404: "not found for this tenant",
    409: "conflicts with the current state",
    413: "the body is larger than the gateway takes",
    415: "the body's Content-Type is not the one this operation takes",
    422: "invalid parameters (invalid_request lists the fields)",
    429: "the key's rate limit is spent; retry after Retry-After seconds",
    503: "a service behind the gateway is unavailable; retry later",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds until the call may succeed", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: these statuses answer an ErrorBody (422 replaces FastAPI's own
    validation shape, which this API never sends)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in statuses:
        responses[code] = {"model": ErrorBody, "description": ERRORS.get(code, "error")}
        if code == 429:
            responses[code]["headers"] = _RETRY_AFTER
    return responses


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message, **exc.details), status_code=exc.status_code)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return JSONResponse(
            error_body("malformed_json", "the request body is not valid JSON", errors=errors),
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return JSONResponse(
        error_body("invalid_request", "the request does not match the schema", errors=errors),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _unencodable_text(_: Request, exc: Exception) -> JSONResponse:
    """JSON lets a client escape a lone UTF-16 surrogate ("\\udb69"), which no UTF-8 store or hop can carry: the
    client's error (422), found where the text is first encoded, not a 500. Any other encoding error is a bug."""
    assert isinstance(exc, UnicodeEncodeError)
    if "surrogates" not in exc.reason:
        raise exc
    return JSONResponse(
        error_body("invalid_text", "a string holds a lone UTF-16 surrogate, which is not text"),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def allowed_methods(request: Request) -> str:
    """Every method the request's path takes. Starlette's 405 names only the first route matching the path, while
    a path often has one route per method (GET and POST /v1/items)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.detail, dict) and "code" in exc.detail:
        detail = dict(exc.detail)
        body = error_body(detail.pop("code"), detail.pop("message", ""), **detail)
    else:
        body = error_body(f"http_{exc.status_code}", str(exc.detail))
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(UnicodeEncodeError, _unencodable_text)
