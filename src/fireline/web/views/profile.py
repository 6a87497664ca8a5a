"""The profile page: who you are, and your personal API tokens (create, shown once; revoke)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.errors import FirelineError, InvalidField
from fireline.usecases import identity
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterAny, Reader, Visitor

router = APIRouter(include_in_schema=False)

EXPIRY_DAYS = ("", "7", "30", "90", "365")


def _page(
    request: Request,
    visitor: Visitor,
    *,
    secret: str | None = None,
    error: dict[str, Any] | None = None,
    values: Any = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "profile/profile.html",
        {
            "tokens": identity.list_tokens(visitor.ctx),
            "secret": secret,
            "error": error,
            "form_values": values or {},
            "expiry_days": EXPIRY_DAYS,
        },
        visitor=visitor,
        status_code=status_code,
    )


@router.get("/profile")
def profile(request: Request, visitor: Reader) -> Response:
    return _page(request, visitor)


@router.post("/profile/tokens")
async def create_token(request: Request, visitor: PosterAny) -> Response:
    """Issue a token and show its secret on this response only (never stored, never again)."""
    form = await request.form()
    try:
        days = forms.text(form, "expires_in_days")
        if days and not (days.isdigit() and 1 <= int(days) <= 3650):
            raise InvalidField("expires_in_days", "choose a number of days from 1 to 3650")
        expires = visitor.ctx.clock.now() + timedelta(days=int(days)) if days else None
        issued = identity.create_token(
            visitor.ctx, name=forms.text(form, "name"), expires_at=expires
        )
    except FirelineError as exc:
        field = exc.field or None
        return _page(
            request,
            visitor,
            error={"field": field, "message": exc.message},
            values=forms.values_of(form, ("name", "expires_in_days")),
            status_code=exc.status,
        )
    return _page(request, visitor, secret=issued.secret)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(token_id: int, visitor: PosterAny) -> Response:
    identity.revoke_token(visitor.ctx, token_id)
    return RedirectResponse("/profile", status_code=303)
