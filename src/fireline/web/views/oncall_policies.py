"""Escalation policy pages: create a policy, see its levels with who each would page now,
add or remove levels, and point services at it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.errors import FirelineError, InvalidField
from fireline.store.models.oncall import EscalationPolicy
from fireline.usecases import catalog, escalations, identity, oncall
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.views.oncall import form_error, overview_page, user_names
from fireline.web.visitor import PosterManager, Reader, Visitor

router = APIRouter(include_in_schema=False)


@router.post("/oncall/policies")
async def create_policy(request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    try:
        policy = escalations.create_policy(
            visitor.ctx,
            escalations.PolicyInput(
                name=forms.text(form, "name"),
                repeat=_int(forms.text(form, "repeat") or "0", "repeat"),
                levels=[_level_from_form(form, 0)],
            ),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("name", "repeat", "delay_minutes"))
        return overview_page(
            request, visitor, error=form_error(exc, "policy"), values=values, status_code=exc.status
        )
    return RedirectResponse(f"/oncall/policies/{policy.id}", status_code=303)


def _int(raw: str, field: str) -> int:
    if not raw.lstrip("-").isdigit():
        raise InvalidField(field, "must be a whole number")
    return int(raw)


def _level_from_form(form: Any, index: int) -> escalations.LevelInput:
    targets = []
    for raw in forms.many(form, "targets"):
        kind, _, ident = raw.partition(":")
        if ident.isdigit():
            targets.append(escalations.TargetInput(kind, int(ident)))
    delay = _int(forms.text(form, "delay_minutes") or "0", f"levels[{index}].delay_minutes")
    return escalations.LevelInput(targets=targets, delay_minutes=delay)


def _policy_page(
    request: Request,
    visitor: Visitor,
    policy_id: int,
    *,
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = visitor.ctx
    policy = escalations.get_policy(ctx, policy_id)
    now = ctx.clock.now()
    names = user_names(visitor)
    schedules = {s.id: s.name for s in oncall.list_schedules(ctx)}
    teams = {t.id: t.name for t in catalog.pick_lists(ctx).teams}
    labels = {"user": names, "schedule": schedules, "team": teams}
    levels = [
        {
            "delay": level["delay_minutes"],
            "targets": [
                (t["kind"], labels[t["kind"]].get(t["id"], f"{t['kind']} {t['id']}"))
                for t in level["targets"]
            ],
            "now": [names.get(u, f"user {u}") for u in users],
        }
        for level, users in zip(
            policy.levels, escalations.resolve_level_users(ctx, policy, at=now), strict=True
        )
    ]
    return render(
        request,
        "oncall/policy.html",
        {
            "policy": policy,
            "levels": levels,
            "services": [s for s, p in escalations.service_policies(ctx) if p.id == policy.id],
            "all_services": catalog.list_services(ctx),
            "users": identity.list_users(ctx),
            "schedules": oncall.list_schedules(ctx),
            "teams": catalog.list_teams(ctx),
            "error": error,
        },
        visitor=visitor,
        status_code=status_code,
    )


@router.get("/oncall/policies/{policy_id}")
def policy_page(policy_id: int, request: Request, visitor: Reader) -> Response:
    return _policy_page(request, visitor, policy_id)


def _policy_input(
    policy: EscalationPolicy, levels: list[escalations.LevelInput]
) -> escalations.PolicyInput:
    return escalations.PolicyInput(
        name=policy.name,
        description=policy.description,
        repeat=policy.repeat,
        team=policy.team_id,
        levels=levels,
    )


def _stored_levels(policy: EscalationPolicy) -> list[escalations.LevelInput]:
    return [
        escalations.LevelInput(
            targets=[escalations.TargetInput(t["kind"], int(t["id"])) for t in level["targets"]],
            delay_minutes=int(level["delay_minutes"]),
        )
        for level in policy.levels
    ]


@router.post("/oncall/policies/{policy_id}/levels")
async def add_level(policy_id: int, request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    policy = escalations.get_policy(visitor.ctx, policy_id)
    levels = _stored_levels(policy)
    try:
        levels.append(_level_from_form(form, len(levels)))
        escalations.update_policy(visitor.ctx, policy_id, _policy_input(policy, levels))
    except FirelineError as exc:
        return _policy_page(
            request, visitor, policy_id, error=form_error(exc, "level"), status_code=exc.status
        )
    return RedirectResponse(f"/oncall/policies/{policy_id}", status_code=303)


@router.post("/oncall/policies/{policy_id}/levels/{index}/delete")
def delete_level(policy_id: int, index: int, request: Request, visitor: PosterManager) -> Response:
    policy = escalations.get_policy(visitor.ctx, policy_id)
    levels = _stored_levels(policy)
    try:
        if not 0 <= index < len(levels):
            raise InvalidField("level", f"no level {index + 1}")
        del levels[index]
        escalations.update_policy(visitor.ctx, policy_id, _policy_input(policy, levels))
    except FirelineError as exc:
        return _policy_page(
            request, visitor, policy_id, error=form_error(exc, "levels"), status_code=exc.status
        )
    return RedirectResponse(f"/oncall/policies/{policy_id}", status_code=303)


@router.post("/oncall/policies/{policy_id}/services")
async def attach_service(policy_id: int, request: Request, visitor: PosterManager) -> Response:
    form = await request.form()
    raw = forms.text(form, "service")
    try:
        if not raw.isdigit():
            raise InvalidField("service", "choose a service")
        escalations.set_service_policy(visitor.ctx, int(raw), policy_id)
    except FirelineError as exc:
        return _policy_page(
            request, visitor, policy_id, error=form_error(exc, "service"), status_code=exc.status
        )
    return RedirectResponse(f"/oncall/policies/{policy_id}", status_code=303)
