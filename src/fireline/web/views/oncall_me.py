"""Personal on-call pages and the incident's on-call panel.

`/oncall/me`: your contact methods (a new webhook's signing secret is shown once), your
notification rules (which method, how many minutes after a page) and your calendar feed.
`/incidents/{ref}/oncall-panel`: the incident's escalation state and "page someone now",
loaded with HTMX by the incident page (`incidents/_oncall_panel.html`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from fireline.errors import FirelineError, InvalidField
from fireline.store.models.oncall import Escalation
from fireline.usecases import (
    catalog,
    escalations,
    identity,
    incident_views,
    incidents,
    notifications,
    oncall,
)
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterAny, PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

KINDS = ("email", "webhook", "slack", "teams")


def _me(
    request: Request,
    visitor: Visitor,
    *,
    error: dict[str, Any] | None = None,
    secret: str | None = None,
    feed_url: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx, user_id = visitor.ctx, visitor.user.id
    methods = notifications.list_methods(ctx, user_id)
    return render(
        request,
        "oncall/me.html",
        {
            "methods": methods,
            "method_names": {m.id: f"{m.kind}: {m.label or m.address}" for m in methods},
            "rules": notifications.list_rules(ctx, user_id),
            "tokens": [
                t
                for t in oncall.list_calendar_tokens(ctx)
                if t.user_id == user_id or t.created_by == user_id
            ],
            "kinds": KINDS,
            "error": error,
            "secret": secret,
            "feed_url": feed_url,
            "form_values": values or {},
        },
        visitor=visitor,
        status_code=status_code,
    )


@router.get("/oncall/me")
def me(request: Request, visitor: Reader) -> Response:
    return _me(request, visitor)


@router.post("/oncall/me/methods")
async def add_method(request: Request, visitor: PosterAny) -> Response:
    form = await request.form()
    try:
        added = notifications.add_method(
            visitor.ctx,
            visitor.user.id,
            kind=forms.text(form, "kind"),
            address=forms.text(form, "address"),
            label=forms.text(form, "label"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("kind", "address", "label"))
        error = {"form": "method", "field": exc.field, "message": exc.message}
        return _me(request, visitor, error=error, values=values, status_code=exc.status)
    if added.secret:
        return _me(request, visitor, secret=added.secret)
    return RedirectResponse("/oncall/me", status_code=303)


@router.post("/oncall/me/methods/{method_id}/delete")
def delete_method(method_id: int, visitor: PosterAny) -> Response:
    notifications.delete_method(visitor.ctx, visitor.user.id, method_id)
    return RedirectResponse("/oncall/me", status_code=303)


@router.post("/oncall/me/rules")
async def add_rule(request: Request, visitor: PosterAny) -> Response:
    form = await request.form()
    try:
        method, delay = forms.text(form, "contact_method_id"), forms.text(form, "delay_minutes")
        if not method.isdigit():
            raise InvalidField("contact_method_id", "add a contact method first, then choose it")
        if not delay.isdigit():
            raise InvalidField("delay_minutes", "must be a whole number of minutes")
        urgency = forms.optional(form, "urgency")
        notifications.add_rule(
            visitor.ctx,
            visitor.user.id,
            contact_method_id=int(method),
            delay_minutes=int(delay),
            urgency=urgency or None,
        )
    except FirelineError as exc:
        error = {"form": "rule", "field": exc.field, "message": exc.message}
        return _me(request, visitor, error=error, status_code=exc.status)
    return RedirectResponse("/oncall/me", status_code=303)


@router.post("/oncall/me/rules/{rule_id}/delete")
def delete_rule(rule_id: int, visitor: PosterAny) -> Response:
    notifications.delete_rule(visitor.ctx, visitor.user.id, rule_id)
    return RedirectResponse("/oncall/me", status_code=303)


@router.post("/oncall/me/feed")
def issue_feed(request: Request, visitor: PosterAny) -> Response:
    issued = oncall.issue_calendar_token(visitor.ctx, user_id=visitor.user.id)
    return _me(request, visitor, feed_url=issued.url)


@router.post("/oncall/me/feeds/{token_id}/revoke")
def revoke_feed(token_id: int, visitor: PosterAny) -> Response:
    oncall.revoke_calendar_token(visitor.ctx, token_id)
    return RedirectResponse("/oncall/me", status_code=303)


# ---------------------------------------------------------------- incident panel


def _panel(
    request: Request,
    visitor: Visitor,
    key: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = visitor.ctx
    incident = incident_views.view(ctx, key.upper() if not key.isdigit() else key)
    with ctx.reading() as session:
        rows = session.scalars(
            select(Escalation).where(Escalation.incident_id == incident.id).order_by(Escalation.id)
        ).all()
    policies = {p.id: p for p in escalations.list_policies(ctx)}
    return render(
        request,
        "oncall/_incident_panel.html",
        {
            "incident": incident,
            "escalations": rows,
            "policies": policies,
            "users": identity.list_users(ctx),
            "schedules": oncall.list_schedules(ctx),
            "teams": catalog.list_teams(ctx),
            "page_error": error,
        },
        visitor=visitor,
        status_code=status_code,
    )


@router.get("/incidents/{key}/oncall-panel")
def incident_panel(key: str, request: Request, visitor: Reader) -> Response:
    return _panel(request, visitor, key)


@router.post("/incidents/{key}/page")
async def page(key: str, request: Request, visitor: PosterResponder) -> Response:
    """Page a person, a schedule's on-call or a team now; back to the incident page."""
    form = await request.form()
    kind, _, ident = forms.text(form, "target").partition(":")
    try:
        if not ident.isdigit():
            raise InvalidField("target", "choose whom to page")
        escalations.page(visitor.ctx, key, kind=kind, target_id=int(ident))
    except FirelineError as exc:
        return _panel(request, visitor, key, error=exc.message, status_code=exc.status)
    with visitor.ctx.reading() as session:
        ref = incidents.ref_of(incidents.get(session, key))
    return RedirectResponse(f"/incidents/{ref}", status_code=303)
