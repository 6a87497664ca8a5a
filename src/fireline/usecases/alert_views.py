"""Read-only alert views for the web UI and CLI-facing API: filtered list and one alert."""

from __future__ import annotations

from fireline.domain.roles import Role
from fireline.errors import NotFound
from fireline.store.models.alerts import Alert
from fireline.store.repos import alerts as alert_repo
from fireline.store.repos.alerts import AlertFilters, AlertPage
from fireline.usecases.context import Context

STATUSES = ("firing", "acknowledged", "resolved")


def list_alerts(
    ctx: Context, filters: AlertFilters, *, cursor: int | None = None, limit: int = 50
) -> AlertPage:
    """A page of alerts, newest first (viewer). Rows are detached, fully loaded."""
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        return alert_repo.list_page(session, filters, cursor=cursor, limit=limit)


def get_alert(ctx: Context, alert_id: int) -> Alert:
    """One alert with its labels, annotations and raw payload (viewer); NotFound if absent."""
    ctx.actor.require(Role.VIEWER)
    with ctx.reading() as session:
        found = session.get(Alert, alert_id)
        if found is None:
            raise NotFound(f"no alert {alert_id}", field="alert")
        return found
