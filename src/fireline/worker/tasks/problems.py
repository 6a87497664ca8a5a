"""Problem automation: a problem for every closed major incident, and fix verification.

    incident.closed     -> problems.follow_up         link to a covering open problem or
                                                      create one (idempotent)
    incident.triggered  -> problems.check_recurrence  a watched problem whose fix did not hold
                                                      is reopened with the evidence
                        -> problems.match_alert_known_errors
                                                      known errors matched on alert labels
    every 5 minutes     -> problems.check_alerts      recent alerts that joined open incidents
                                                      are checked the same way
    every 15 minutes    -> problems.verify_fixes      watch periods that ended quietly mark
                                                      the fix verified

The rules live in `fireline.usecases.problem_watch` and `fireline.domain.fix_verification`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fireline.usecases import known_errors, problem_watch
from fireline.usecases.context import Context
from fireline.worker.registry import Event, registry

VERIFY_EVERY = timedelta(minutes=15)
ALERT_CHECK_EVERY = timedelta(minutes=5)


@registry.subscriber("incident.closed", name="problems.follow_up")
def follow_up(ctx: Context, event: Event) -> None:
    """No major incident ends without a problem follow-up."""
    problem_watch.follow_up_closed_incident(ctx, int(event.data["incident_id"]))


@registry.subscriber("incident.triggered", name="problems.check_recurrence")
def check_recurrence(ctx: Context, event: Event) -> None:
    """A new incident may show that a resolved problem's fix did not hold."""
    if event.data.get("imported"):
        return
    problem_watch.check_recurrence(ctx, int(event.data["incident_id"]))


@registry.subscriber("incident.triggered", name="problems.match_alert_known_errors")
def match_alert_known_errors(ctx: Context, event: Event) -> None:
    """An incident opened by an alert: match known errors on the alert's labels too."""
    if event.data.get("imported"):
        return
    known_errors.match_alerted_incident(ctx, int(event.data["incident_id"]))


@registry.periodic("problems.check_alerts", every=ALERT_CHECK_EVERY)
def check_alerts(ctx: Context, now: datetime) -> None:
    """Alerts that joined an open incident may show a resolved problem came back."""
    problem_watch.check_alert_recurrence(ctx, now)


@registry.periodic("problems.verify_fixes", every=VERIFY_EVERY)
def verify_fixes(ctx: Context, now: datetime) -> None:
    """Mark fixes verified whose watch period ended without a recurrence."""
    problem_watch.verify_due(ctx, now)
