"""/api/v1/integrations, /alerts, /silences, /maintenance-windows, /noise/report and
/services/{id}/alert-settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from pydantic import AwareDatetime

from fireline.api.deps import Admin, Manager, Responder, Viewer
from fireline.api.schemas.alerts import (
    AlertDetail,
    AlertOut,
    AlertSettingsOut,
    IntegrationCreate,
    IntegrationIssued,
    IntegrationOut,
    IntegrationUpdate,
    MaintenanceIn,
    MaintenanceOut,
    NoiseIn,
    NoiseMarked,
    NoiseRow,
    SilenceIn,
    SilenceOut,
    SilenceUpdate,
)
from fireline.api.schemas.common import Page
from fireline.errors import NotFound
from fireline.store.models.alerts import Alert, Integration
from fireline.store.repos.alerts import AlertFilters, list_page
from fireline.usecases import alert_settings, incidents, integrations, lookups, noise
from fireline.usecases.context import Context

router = APIRouter(prefix="/api/v1", tags=["alerts"])
AlertStatus = Annotated[list[str] | None, Query(alias="status", max_length=3)]


def _fields(row: Integration) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "name": row.name,
        "service_id": row.service_id,
        "key_prefix": row.key_prefix,
        "config": row.config,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "rotated_at": row.rotated_at,
        "revoked_at": row.revoked_at,
        "last_event_at": row.last_event_at,
    }


def _integration_out(ctx: Context, row: Integration) -> IntegrationOut:
    return IntegrationOut(**_fields(row), url=integrations.url_for(ctx, row.type, None))


def _forget_keys(request: Request) -> None:
    intake = getattr(request.app.state, "intake", None)
    if intake is not None:
        intake.forget_keys()


# ---------------------------------------------------------------- integrations


@router.post(
    "/integrations",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegrationIssued,
    tags=["integrations"],
)
def create_integration(body: IntegrationCreate, auth: Admin) -> IntegrationIssued:
    """Create an integration on a service. The key is in this response only."""
    issued = integrations.create(
        auth.ctx, type=body.type, service=body.service, name=body.name, config=body.config
    )
    return _issued(issued)


def _issued(issued: integrations.Issued) -> IntegrationIssued:
    return IntegrationIssued(**_fields(issued.integration), url=issued.url, key=issued.key)


@router.get("/integrations", response_model=list[IntegrationOut], tags=["integrations"])
def list_integrations(
    auth: Viewer,
    service: Annotated[str | None, Query(description="service id or name")] = None,
    include_revoked: bool = False,
) -> list[IntegrationOut]:
    service_id = None
    if service is not None:
        with auth.ctx.reading() as session:
            service_id = lookups.service(session, service, field="service").id
    rows = integrations.list_all(auth.ctx, service_id=service_id, include_revoked=include_revoked)
    return [_integration_out(auth.ctx, r) for r in rows]


@router.get("/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"])
def get_integration(integration_id: int, auth: Viewer) -> IntegrationOut:
    return _integration_out(auth.ctx, integrations.find(auth.ctx, integration_id))


@router.patch(
    "/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"]
)
def update_integration(
    integration_id: int, body: IntegrationUpdate, auth: Admin, request: Request
) -> IntegrationOut:
    row = integrations.update(auth.ctx, integration_id, body.model_dump(exclude_unset=True))
    _forget_keys(request)
    return _integration_out(auth.ctx, row)


@router.delete(
    "/integrations/{integration_id}", response_model=IntegrationOut, tags=["integrations"]
)
def revoke_integration(integration_id: int, auth: Admin, request: Request) -> IntegrationOut:
    """Revoke: the key stops working; the integration and its alerts stay for the record."""
    row = integrations.revoke(auth.ctx, integration_id)
    _forget_keys(request)
    return _integration_out(auth.ctx, row)


@router.post(
    "/integrations/{integration_id}/rotate",
    response_model=IntegrationIssued,
    tags=["integrations"],
)
def rotate_integration(integration_id: int, auth: Admin, request: Request) -> IntegrationIssued:
    """Issue a new key; the old one stops working."""
    issued = integrations.rotate(auth.ctx, integration_id)
    _forget_keys(request)
    return _issued(issued)


# ---------------------------------------------------------------- alerts


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    auth: Viewer,
    status_: AlertStatus = None,
    service: Annotated[list[str] | None, Query(description="service id or name")] = None,
    integration: Annotated[list[int] | None, Query()] = None,
    incident: Annotated[str | None, Query(description="incident id or INC-n")] = None,
    noise_: Annotated[bool | None, Query(alias="noise")] = None,
    suppressed: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AlertOut]:
    """Alerts, newest first, with a stable cursor."""
    for value in status_ or []:
        if value not in ("firing", "acknowledged", "resolved"):
            from fireline.errors import InvalidField

            raise InvalidField("status", "must be firing, acknowledged or resolved")
    with auth.ctx.reading() as session:
        service_ids = [lookups.service(session, s, field="service").id for s in service or []]
        incident_id = incidents.get(session, incident).id if incident else None
        page = list_page(
            session,
            AlertFilters(
                statuses=status_ or (),
                service_ids=service_ids,
                integration_ids=integration or (),
                incident_id=incident_id,
                noise=noise_,
                suppressed=suppressed,
                text=q.strip() if q and q.strip() else None,
            ),
            cursor=cursor,
            limit=limit,
        )
        items = [AlertOut.model_validate(a) for a in page.items]
    return Page[AlertOut](items=items, next_cursor=page.next_cursor)


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: int, auth: Viewer) -> AlertDetail:
    with auth.ctx.reading() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}", field="alert")
        return AlertDetail.model_validate(alert)


@router.post("/alerts/{alert_id}/noise", response_model=AlertOut)
def mark_alert_noise(alert_id: int, body: NoiseIn, auth: Responder) -> AlertOut:
    """Flag an alert as noise (it should not have paged); see /noise/report."""
    return AlertOut.model_validate(noise.mark_alert(auth.ctx, alert_id, body.reason))


@router.post("/incidents/{key}/noise", response_model=NoiseMarked, tags=["incidents"])
def mark_incident_noise(key: str, body: NoiseIn, auth: Responder) -> NoiseMarked:
    """Flag every alert of an incident as noise."""
    return NoiseMarked(alerts=noise.mark_incident(auth.ctx, key, body.reason))


@router.get("/noise/report", response_model=list[NoiseRow])
def noise_report(
    auth: Viewer, since: Annotated[AwareDatetime | None, Query()] = None
) -> list[NoiseRow]:
    """Alert counts per integration and rule (alertname), noisiest first, to tune sources."""
    return [
        NoiseRow(
            integration_id=int(str(r["integration_id"])),
            name=str(r["name"]),
            service_id=int(str(r["service_id"])),
            rule=None if r["rule"] is None else str(r["rule"]),
            alerts=int(str(r["alerts"] or 0)),
            noise=int(str(r["noise"] or 0)),
            flapping=int(str(r["flapping"] or 0)),
            suppressed=int(str(r["suppressed"] or 0)),
        )
        for r in noise.report(auth.ctx, since=since)
    ]


# ---------------------------------------------------------------- silences


@router.post("/silences", status_code=status.HTTP_201_CREATED, response_model=SilenceOut)
def create_silence(body: SilenceIn, auth: Responder) -> SilenceOut:
    """Silence new alerts matching all matchers until `ends_at` (recorded, no incident)."""
    silence = noise.create_silence(
        auth.ctx,
        matchers=body.matchers,
        reason=body.reason,
        ends_at=body.ends_at,
        starts_at=body.starts_at,
        service=body.service,
    )
    return SilenceOut.model_validate(silence)


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(auth: Viewer, active: bool = False) -> list[SilenceOut]:
    return [SilenceOut.model_validate(s) for s in noise.list_silences(auth.ctx, active_only=active)]


@router.get("/silences/{silence_id}", response_model=SilenceOut)
def get_silence(silence_id: int, auth: Viewer) -> SilenceOut:
    return SilenceOut.model_validate(noise.get_silence(auth.ctx, silence_id))


@router.patch("/silences/{silence_id}", response_model=SilenceOut)
def update_silence(silence_id: int, body: SilenceUpdate, auth: Responder) -> SilenceOut:
    changes = body.model_dump(exclude_unset=True)
    return SilenceOut.model_validate(noise.update_silence(auth.ctx, silence_id, changes))


@router.delete("/silences/{silence_id}", response_model=SilenceOut)
def expire_silence(silence_id: int, auth: Responder) -> SilenceOut:
    """Expire a silence now (it stays listed for the record)."""
    return SilenceOut.model_validate(noise.expire_silence(auth.ctx, silence_id))


# ---------------------------------------------------------------- maintenance windows


@router.post(
    "/maintenance-windows", status_code=status.HTTP_201_CREATED, response_model=MaintenanceOut
)
def create_window(body: MaintenanceIn, auth: Responder) -> MaintenanceOut:
    """While active, the service's new alerts are recorded but open no incident."""
    window = noise.create_window(
        auth.ctx,
        service=body.service,
        ends_at=body.ends_at,
        starts_at=body.starts_at,
        reason=body.reason,
    )
    return MaintenanceOut.model_validate(window)


@router.get("/maintenance-windows", response_model=list[MaintenanceOut])
def list_windows(auth: Viewer, service: int | None = None) -> list[MaintenanceOut]:
    return [
        MaintenanceOut.model_validate(w) for w in noise.list_windows(auth.ctx, service_id=service)
    ]


@router.delete("/maintenance-windows/{window_id}", response_model=MaintenanceOut)
def end_window(window_id: int, auth: Responder) -> MaintenanceOut:
    return MaintenanceOut.model_validate(noise.end_window(auth.ctx, window_id))


# ---------------------------------------------------------------- service alert settings


@router.get(
    "/services/{service}/alert-settings", response_model=AlertSettingsOut, tags=["services"]
)
def get_alert_settings(service: str, auth: Viewer) -> AlertSettingsOut:
    service_id, settings = alert_settings.get(auth.ctx, service)
    return AlertSettingsOut(service_id=service_id, settings=settings)


@router.put(
    "/services/{service}/alert-settings", response_model=AlertSettingsOut, tags=["services"]
)
def put_alert_settings(
    service: str, auth: Manager, body: Annotated[dict[str, Any], Body()]
) -> AlertSettingsOut:
    """Replace grouping, auto_resolve, severity_map and flap settings (missing = defaults)."""
    service_id, settings = alert_settings.put(auth.ctx, service, body)
    return AlertSettingsOut(service_id=service_id, settings=settings)


def install(app: Any) -> None:
    app.include_router(router)
