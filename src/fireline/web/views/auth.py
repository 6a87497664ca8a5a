"""Sign in and out: the session cookie, the login throttle message and safe `next` targets."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from fireline.api.deps import SESSION_COOKIE
from fireline.errors import TooManyRequests, Unauthenticated
from fireline.usecases import identity
from fireline.web import csrf, forms
from fireline.web import visitor as visitors
from fireline.web.rendering import render
from fireline.web.visitor import PosterAny

router = APIRouter(include_in_schema=False)

DEFAULT_TARGET = "/incidents"


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else the incident list (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return DEFAULT_TARGET
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return DEFAULT_TARGET
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_TARGET
    return value


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse(DEFAULT_TARGET, status_code=303)


@router.get("/login")
def login_form(
    request: Request, next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    request.state.web_page = True
    target = safe_next(next_)
    if visitors.current(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target=target)


def _login_page(
    request: Request,
    *,
    target: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = csrf.new_token()
    response = render(
        request,
        "auth/login.html",
        {"next": target, "email": email, "error": error, "login_csrf": token},
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/login",
        max_age=3600,
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    request.state.web_page = True
    form = await request.form()
    target = safe_next(forms.text(form, "next"))
    email = forms.text(form, "email")[:254]
    if not csrf.matches(forms.text(form, csrf.FIELD), request.cookies.get(csrf.LOGIN_COOKIE)):
        return _login_page(
            request,
            target=target,
            email=email,
            error="The sign-in form expired. Please try again.",
            status_code=403,
        )
    ctx = visitors.base_context(request)
    client = request.client.host if request.client else ""
    try:
        user = identity.authenticate(
            ctx, email=email, password=forms.text(form, "password"), client=client
        )
    except TooManyRequests as exc:
        minutes = max(1, round(exc.retry_after / 60))
        return _login_page(
            request,
            target=target,
            email=email,
            error=f"Too many failed sign-ins. Wait about {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again.",
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except Unauthenticated:
        return _login_page(
            request, target=target, email=email, error="Wrong email or password.", status_code=401
        )
    started = identity.start_session(ctx, user)
    settings = request.app.state.settings
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.cookie_value,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, visitor: PosterAny) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        identity.end_session(visitor.ctx, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
