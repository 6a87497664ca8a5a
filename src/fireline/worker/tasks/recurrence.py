"""Keep the recurrence index current: index an incident whenever it changes, catch up on any
incident the events missed (bulk seeds, imports, lost jobs), and renew the word statistics."""

from __future__ import annotations

from datetime import datetime, timedelta

from fireline.usecases import recurrence
from fireline.usecases.context import Context
from fireline.worker.registry import Event, registry


@registry.subscriber("incident.*", name="recurrence.index")
def index(ctx: Context, event: Event) -> None:
    """A created, imported or changed incident: refresh its signature (no-op if current)."""
    incident_id = event.data.get("incident_id")
    if incident_id is not None:
        recurrence.index(ctx, int(incident_id))


@registry.periodic("recurrence.catch_up", every=timedelta(minutes=1))
def catch_up(ctx: Context, now: datetime) -> None:
    """Index incidents without a current signature, a batch at a time."""
    recurrence.index_pending(ctx)


@registry.periodic("recurrence.statistics", every=timedelta(hours=1))
def statistics(ctx: Context, now: datetime) -> None:
    """Renew the word frequencies that weigh rare words above common ones."""
    recurrence.refresh_statistics(ctx)
