"""Operations endpoints: /healthz (process up), /readyz (DB reachable and migrated), /metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.routing import Match

from fireline.store import migrate
from fireline.store.models import Incident
from fireline.usecases.context import Context

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, response: Response) -> dict[str, str]:
    """Readiness: the database answers and its schema is at the newest migration."""
    ctx: Context = request.app.state.context
    engine = ctx.sessions.kw["bind"]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.is_current(engine)
    except Exception as exc:
        response.status_code = 503
        return {"status": "unavailable", "database": type(exc).__name__}
    if not current:
        response.status_code = 503
        return {"status": "unavailable", "database": "migrations pending: run fireline db upgrade"}
    return {"status": "ok", "database": "ok"}


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format: request counts and latencies, incidents by status and priority."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


class _IncidentCollector(Collector):
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "fireline_incidents", "Incidents by status and priority", labels=["status", "priority"]
        )
        with self._ctx.reading() as session:
            rows = session.execute(
                select(Incident.status, Incident.priority, func.count()).group_by(
                    Incident.status, Incident.priority
                )
            )
            for status, priority, count in rows:
                gauge.add_metric([status, priority], float(count))
        yield gauge


def install_metrics(app: FastAPI, ctx: Context) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "fireline_http_requests",
        "HTTP requests by method, route and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "fireline_http_request_duration_seconds",
        "HTTP request latency by method and route",
        ["method", "route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    registry.register(_IncidentCollector(ctx))
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        route = _route_template(app, request)
        response = await call_next(request)
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(request.method, route).observe(time.perf_counter() - start)
        return response


def _route_template(app: FastAPI, request: Request) -> str:
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"
