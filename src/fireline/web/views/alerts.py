"""Alert pages: the filtered alert list, alert detail (labels, annotations, raw payload, mark as
noise), the noise report, integrations (create shows the key once, rotate, delete), silences
and maintenance.

Writes follow post/redirect/get, except creating or rotating an integration: that answers with
the page showing the new key, since the key is never stored and cannot be shown again. A use-case
error re-renders the page with the message next to its form (never a 500).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fireline.errors import FirelineError, InvalidField
from fireline.store.repos.alerts import AlertFilters
from fireline.usecases import alert_views, catalog, integrations, noise
from fireline.usecases.integrations import IntegrationType
from fireline.web import forms
from fireline.web.rendering import render
from fireline.web.visitor import PosterAdmin, PosterResponder, Reader, Visitor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_HOURS = 24 * 366


def _error(form: str, exc: FirelineError) -> dict[str, Any]:
    return {"form": form, "field": exc.field, "message": exc.message, "status": exc.status}


def _forget_keys(request: Request) -> None:
    intake = getattr(request.app.state, "intake", None)
    if intake is not None:
        intake.forget_keys()


def _names(visitor: Visitor) -> dict[str, Any]:
    services = catalog.list_services(visitor.ctx)
    found = integrations.list_all(visitor.ctx, include_revoked=True)
    return {
        "services": services,
        "service_names": {s.id: s.name for s in services},
        "integration_names": {i.id: i.name for i in found},
    }


# ---------------------------------------------------------------- list and detail


@router.get("/alerts")
def alert_list(request: Request, visitor: Reader) -> Response:
    params = request.query_params
    status = params.get("status", "open")
    statuses = {
        "open": ("firing", "acknowledged"),
        "all": (),
    }.get(status, (status,) if status in alert_views.STATUSES else ())
    service = params.get("service", "")
    flag = params.get("flag", "")
    cursor_text = params.get("cursor", "")
    filters = AlertFilters(
        statuses=statuses,
        service_ids=[int(service)] if service.isdigit() else [],
        noise=True if flag == "noise" else None,
        suppressed={"suppressed": True, "paging": False}.get(flag),
        text=params.get("q", "").strip()[:200] or None,
    )
    page = alert_views.list_alerts(
        visitor.ctx,
        filters,
        cursor=int(cursor_text) if cursor_text.isdigit() else None,
        limit=PAGE_SIZE,
    )
    more = dict(params) | {"cursor": str(page.next_cursor)} if page.next_cursor else None
    return render(
        request,
        "alerts/list.html",
        {
            "alerts": page.items,
            "filters": {"status": status, "service": service, "flag": flag, **params},
            "older": more,
            **_names(visitor),
        },
        visitor=visitor,
    )


def _detail(request: Request, visitor: Visitor, alert_id: int, error: Any = None) -> Response:
    alert = alert_views.get_alert(visitor.ctx, alert_id)
    return render(
        request,
        "alerts/detail.html",
        {"alert": alert, "error": error, **_names(visitor)},
        visitor=visitor,
        status_code=422 if error else 200,
    )


@router.get("/alerts/{alert_id:int}")
def alert_detail(alert_id: int, request: Request, visitor: Reader) -> Response:
    return _detail(request, visitor, alert_id)


@router.post("/alerts/{alert_id:int}/noise")
async def mark_noise(alert_id: int, request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        noise.mark_alert(visitor.ctx, alert_id, forms.text(form, "reason"))
    except InvalidField as exc:
        return _detail(request, visitor, alert_id, _error("noise", exc))
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/alerts/noise")
def noise_report(request: Request, visitor: Reader) -> Response:
    """Alerts per integration and rule, noisiest first, so owners know what to tune."""
    return render(
        request,
        "alerts/noise.html",
        {"rows": noise.report(visitor.ctx), **_names(visitor)},
        visitor=visitor,
    )


# ---------------------------------------------------------------- integrations


def _integrations_page(
    request: Request,
    visitor: Visitor,
    *,
    issued: integrations.Issued | None = None,
    error: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "alerts/integrations.html",
        {
            "integrations": integrations.list_all(visitor.ctx),
            "types": [t.value for t in IntegrationType],
            "url_for": lambda i: integrations.url_for(visitor.ctx, i.type, None),
            "issued": issued,
            "error": error,
            "form_values": values or {},
            **_names(visitor),
        },
        visitor=visitor,
        status_code=int(error["status"]) if error else 200,
    )


@router.get("/alerts/integrations")
def integration_list(request: Request, visitor: Reader) -> Response:
    return _integrations_page(request, visitor)


@router.post("/alerts/integrations")
async def create_integration(request: Request, visitor: PosterAdmin) -> Response:
    form = await request.form()
    try:
        config: dict[str, Any] = {}
        if forms.text(form, "type") == IntegrationType.HEARTBEAT.value:
            minutes = forms.text(form, "interval_minutes", "5") or "5"
            if not minutes.isdigit():
                raise InvalidField("interval_minutes", "must be a whole number of minutes")
            config["interval_minutes"] = int(minutes)
        issued = integrations.create(
            visitor.ctx,
            type=forms.text(form, "type"),
            service=forms.text(form, "service"),
            name=forms.text(form, "name"),
            config=config,
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("type", "service", "name", "interval_minutes"))
        return _integrations_page(request, visitor, error=_error("create", exc), values=values)
    return _integrations_page(request, visitor, issued=issued)


@router.post("/alerts/integrations/{integration_id:int}/rotate")
async def rotate_integration(
    integration_id: int, request: Request, visitor: PosterAdmin
) -> Response:
    try:
        issued = integrations.rotate(visitor.ctx, integration_id)
    except FirelineError as exc:
        return _integrations_page(request, visitor, error=_error("list", exc))
    _forget_keys(request)
    return _integrations_page(request, visitor, issued=issued)


@router.post("/alerts/integrations/{integration_id:int}/delete")
async def delete_integration(
    integration_id: int, request: Request, visitor: PosterAdmin
) -> Response:
    integrations.revoke(visitor.ctx, integration_id)
    _forget_keys(request)
    return RedirectResponse("/alerts/integrations", status_code=303)


# ---------------------------------------------------------------- silences and maintenance


def _matchers(raw: str) -> dict[str, str]:
    """One `name=value` per line (value `~regex`, `!value` or `!~regex`) into the shorthand."""
    found: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidField("matchers", f"line {number}: use name=value, name=~regex, name=!v")
        found[name.strip()] = value.strip()
    return found


def _hours(form: Any) -> timedelta:
    text = forms.text(form, "hours", "2") or "2"
    try:
        hours = float(text)
    except ValueError:
        raise InvalidField("hours", "must be a number of hours") from None
    if not 0 < hours <= MAX_HOURS:
        raise InvalidField("hours", "must be more than 0 and at most a year")
    return timedelta(hours=hours)


def _noise_page(
    request: Request,
    visitor: Visitor,
    *,
    error: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "alerts/silences.html",
        {
            "silences": noise.list_silences(visitor.ctx),
            "windows": noise.list_windows(visitor.ctx),
            "now": visitor.ctx.clock.now(),
            "error": error,
            "form_values": values or {},
            **_names(visitor),
        },
        visitor=visitor,
        status_code=int(error["status"]) if error else 200,
    )


@router.get("/alerts/silences")
def silence_list(request: Request, visitor: Reader) -> Response:
    return _noise_page(request, visitor)


@router.post("/alerts/silences")
async def create_silence(request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        noise.create_silence(
            visitor.ctx,
            matchers=_matchers(forms.text(form, "matchers")),
            reason=forms.text(form, "reason"),
            ends_at=visitor.ctx.clock.now() + _hours(form),
            service=forms.optional(form, "service"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("matchers", "reason", "hours", "service"))
        return _noise_page(request, visitor, error=_error("silence", exc), values=values)
    return RedirectResponse("/alerts/silences", status_code=303)


@router.post("/alerts/silences/{silence_id:int}/expire")
async def expire_silence(silence_id: int, visitor: PosterResponder) -> Response:
    noise.expire_silence(visitor.ctx, silence_id)
    return RedirectResponse("/alerts/silences", status_code=303)


@router.post("/alerts/maintenance")
async def create_window(request: Request, visitor: PosterResponder) -> Response:
    form = await request.form()
    try:
        noise.create_window(
            visitor.ctx,
            service=forms.text(form, "service"),
            ends_at=visitor.ctx.clock.now() + _hours(form),
            reason=forms.text(form, "reason"),
        )
    except FirelineError as exc:
        values = forms.values_of(form, ("service", "hours", "reason"))
        values = {f"mw_{k}": v for k, v in values.items()}
        return _noise_page(request, visitor, error=_error("maintenance", exc), values=values)
    return RedirectResponse("/alerts/silences", status_code=303)


@router.post("/alerts/maintenance/{window_id:int}/end")
async def end_window(window_id: int, visitor: PosterResponder) -> Response:
    noise.end_window(visitor.ctx, window_id)
    return RedirectResponse("/alerts/silences", status_code=303)
