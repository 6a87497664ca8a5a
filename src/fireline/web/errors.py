"""The web error page: the only place that maps FirelineError (and HTTP errors) to HTML.

The API's handlers (`api/errors.py`) stay in charge of everything that is not a page: this
module wraps them and answers in HTML only for page requests (routes of the web UI, or a
browser asking for HTML outside the API prefixes). A missing session on a page becomes a
redirect to `/login?next=<this page>`; HTMX requests get `HX-Redirect` instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fireline.errors import FirelineError, TooManyRequests
from fireline.web import visitor as visitors
from fireline.web.rendering import render

Handler = Callable[[Request, Any], Awaitable[Response] | Response]

_NOT_PAGES = ("/api/", "/v2/", "/hooks/", "/static/", "/healthz", "/readyz", "/metrics")
_TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    422: "Check the form",
    429: "Slow down",
}


def is_page(request: Request) -> bool:
    """Whether an error for this request should be answered with HTML."""
    if getattr(request.state, "web_page", False):
        return True
    if request.url.path.startswith(_NOT_PAGES) or request.url.path.startswith("/openapi"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "hx-request" in request.headers


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.method != "GET":
        target = request.headers.get("hx-current-url", "") or "/incidents"
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
    elif request.url.query:
        target = f"{target}?{request.url.query}"
    location = "/login?" + urlencode({"next": target})
    if "hx-request" in request.headers:
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_page(request: Request, status: int, message: str) -> Response:
    visitor = None
    try:
        visitor = visitors.current(request)
    except FirelineError:
        visitor = None
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": _TITLES.get(status, "Something went wrong"),
            "message": message,
        },
        visitor=visitor,
        status_code=status,
    )


def install(app: FastAPI) -> None:
    """Wrap the API's FirelineError and HTTP-error handlers with HTML answers for pages."""
    api_fireline = app.exception_handlers.get(FirelineError)
    api_http = app.exception_handlers.get(StarletteHTTPException)

    async def _delegate(handler: Handler | None, request: Request, exc: Exception) -> Response:
        if handler is None:
            raise exc
        result = handler(request, exc)
        if isinstance(result, Response):
            return result
        return await result

    async def _fireline(request: Request, exc: FirelineError) -> Response:
        if not is_page(request):
            return await _delegate(api_fireline, request, exc)
        if exc.status == 401:
            return login_redirect(request)
        response = error_page(request, exc.status, exc.message)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_page(request):
            return await _delegate(api_http, request, exc)
        messages = {
            404: "There is no page at this address.",
            405: "This address does not accept that kind of request.",
        }
        return error_page(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    app.add_exception_handler(FirelineError, _fireline)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
