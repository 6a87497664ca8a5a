"""Helpers for the intake tests: services, integrations and events."""

from __future__ import annotations

import asyncio
import fcntl
import time
from collections.abc import Coroutine
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from tests.conftest import Person

from fireline.app import create_app
from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.domain.alert_grouping import Action, AlertEvent, Severity
from fireline.ingest.committer import GroupCommitter
from fireline.store.models import Incident
from fireline.store.models.alerts import Alert
from fireline.usecases import alert_settings, catalog, integrations
from fireline.usecases.context import Context
from fireline.usecases.submissions import Incoming, IntegrationInfo, Submission


def service(ctx: Context, name: str = "checkout") -> int:
    return catalog.create_service(ctx, name=name).id


def integration(
    client: TestClient,
    admin: Person,
    *,
    type: str = "pagerduty",
    service: str | int = "checkout",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type, "service": service, "name": f"{type} source"}
    if config is not None:
        body["config"] = config
    response = client.post("/api/v1/integrations", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def pagerduty_source(ctx: Context, grouping: str = "service") -> IntegrationInfo:
    """A service `checkout` grouping as asked and resolving incidents with their alerts, and a
    PagerDuty integration on it (rate limit off), as the intake sees it."""
    service_id = service(ctx)
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": grouping}, "auto_resolve": True})
    return pagerduty_on(ctx, service_id)


def pagerduty_on(ctx: Context, service_id: int, name: str = "pd") -> IntegrationInfo:
    """Another PagerDuty integration `name` (rate limit off) on the service, as the intake
    sees it."""
    issued = integrations.create(
        ctx, type="pagerduty", service=service_id, name=name, config={"rate_limit_per_minute": 0}
    )
    return IntegrationInfo(id=issued.integration.id, type="pagerduty", service_id=service_id)


def submission(source: IntegrationInfo, key: str, action: Action = Action.TRIGGER) -> Submission:
    """One parsed PagerDuty event for `source`, as the intake hands it to `ingest_tx`."""
    event = AlertEvent(
        source="pagerduty", action=action, dedup_key=key, summary=key, severity=Severity.CRITICAL
    )
    return Submission(
        integration=source, alerts=[Incoming(event=event, service_id=source.service_id)]
    )


def trigger(key: str, dedup_key: str | None = None, **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "disk full on db-1", "source": "db-1", "severity": "critical"}
        | payload,
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def action(key: str, name: str, dedup_key: str) -> dict[str, Any]:
    return {"routing_key": key, "event_action": name, "dedup_key": dedup_key}


def alerts(ctx: Context) -> list[Alert]:
    with ctx.reading() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def incident_count(ctx: Context) -> int:
    with ctx.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def am_alert(
    name: str,
    fingerprint: str,
    *,
    status: str = "firing",
    starts: str = "2026-03-02T08:59:00Z",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} on {fingerprint}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-02T09:01:00Z",
        "generatorURL": "http://prom/graph",
        "fingerprint": fingerprint,
    }


def am_payload(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "fireline",
        "status": "firing" if any(a["status"] == "firing" for a in items) else "resolved",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": list(items),
    }


async def wait_for_other_process(
    other: GroupCommitter, request: Coroutine[Any, Any, int], hold: float
) -> tuple[bool, int, float]:
    """Hold the intake lock as `other` (another server process) would, send `request` and
    release the lock after `hold` seconds. Returns whether the request was still waiting
    then, its status, and the seconds from the release to its answer."""
    fileno = other._lock_fileno()
    assert fileno is not None
    fcntl.flock(fileno, fcntl.LOCK_EX)
    waiting = asyncio.ensure_future(request)
    await asyncio.sleep(hold)
    waited = not waiting.done()
    released = time.monotonic()
    other._unlock()
    status = await asyncio.wait_for(waiting, 10)
    return waited, status, time.monotonic() - released


async def post(app: Any, path: str, body: dict[str, Any]) -> int:
    """One request straight into the ASGI app, on the running event loop; returns the status."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fireline") as client:
        return (await client.post(path, json=body)).status_code


def app_and_key(
    ctx: Context, settings: Settings, engine: Engine, clock: FrozenClock
) -> tuple[Any, str]:
    """An app (no worker) and the key of a PagerDuty integration without a rate limit."""
    service(ctx)
    key = integrations.create(
        ctx, type="pagerduty", service="checkout", name="pd", config={"rate_limit_per_minute": 0}
    ).key
    return create_app(settings, clock=clock, engine=engine, start_worker=False), key
