"""The only mapping of errors to HTTP answers. One JSON shape everywhere:

{"error": {"code": "invalid_field", "message": "title: must not be empty",
           "field": "title", "details": [...]}}
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from fireline.errors import FirelineError, InvalidTransition, TooManyRequests


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: list[dict[str, Any]] | None = None
    allowed: list[str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# Pydantic adds the member type of a union to the location ("services.0.constrained-int").
_UNION_TAG = re.compile(
    r"^(constrained-)?(int|str|float|bool|bytes|list|dict|none|decimal|date|datetime)$"
    r"|^function-(after|before|wrap|plain)\[.*\]$"
)


def _loc(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    parts = [
        p for i, p in enumerate(parts) if i == 0 or not (isinstance(p, str) and _UNION_TAG.match(p))
    ]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    details = [
        {
            "field": _loc(err.get("loc", ())),
            "message": str(err.get("msg", "invalid")),
            "type": err.get("type"),
        }
        for err in errors
    ]
    first = details[0] if details else {"field": "body", "message": "invalid", "type": None}
    if first["type"] == "json_invalid":
        return error_response(
            400, "malformed_json", f"body: not valid JSON ({first['message']})", field="body"
        )
    return error_response(
        422,
        "invalid_field",
        f"{first['field']}: {first['message']}",
        field=str(first["field"]),
        details=details,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(FirelineError)
    async def _fireline(_request: Request, exc: FirelineError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        elif exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="fireline"'}
        allowed = exc.allowed if isinstance(exc, InvalidTransition) else None
        return error_response(
            exc.status, exc.code, exc.message, field=exc.field, headers=headers, allowed=allowed
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )
