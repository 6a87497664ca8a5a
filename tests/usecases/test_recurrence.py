"""The recurrence index behind "similar incidents": kept current, caught up, and weighted."""

from __future__ import annotations

from sqlalchemy import func, select

from fireline.store.models.recurrence import IncidentSignature, IncidentTerm, RecurrenceTermStat
from fireline.usecases import incidents, recurrence
from fireline.usecases.context import Context
from fireline.usecases.incidents import IncidentDraft


def _declare(ctx: Context, title: str, description: str = "") -> int:
    return incidents.declare(ctx, IncidentDraft(title=title, description=description)).id


def test_catch_up_indexes_what_no_event_covered_and_only_once(ctx: Context) -> None:
    ids = [
        _declare(ctx, "Replication lag on users-db replica", "replica 40s behind primary"),
        _declare(ctx, "Replica of users-db lagging behind primary", "stale reads"),
    ]
    assert recurrence.index_pending(ctx) == 2
    assert recurrence.index_pending(ctx) == 0
    with ctx.reading() as session:
        words = session.scalar(
            select(IncidentSignature.words).where(IncidentSignature.incident_id == ids[0])
        )
        postings = set(
            session.scalars(select(IncidentTerm.incident_id).where(IncidentTerm.term == "replica"))
        )
    assert words is not None and "replica" in words.split() and "40s" not in words
    assert postings == set(ids)


def test_a_changed_incident_is_indexed_again_with_its_new_words(ctx: Context) -> None:
    incident_id = _declare(ctx, "Disk full on search-7", "no space left on device")
    assert recurrence.index(ctx, incident_id) is True
    assert recurrence.index(ctx, incident_id) is False  # current already
    incidents.update_fields(ctx, incident_id, {"title": "Certificate expired on search-api"})
    assert recurrence.index(ctx, incident_id) is True
    with ctx.reading() as session:
        terms = set(
            session.scalars(
                select(IncidentTerm.term).where(IncidentTerm.incident_id == incident_id)
            )
        )
    assert "certificat" in terms and "disk" not in terms


def test_statistics_count_how_many_incidents_use_each_word(ctx: Context) -> None:
    for n in range(3):
        _declare(ctx, f"Consumer lag on topic orders-events ({n} messages)")
    _declare(ctx, "TLS certificate expired")
    recurrence.index_pending(ctx)
    assert recurrence.refresh_statistics(ctx) == 4
    with ctx.reading() as session:
        counts = dict(
            session.execute(select(RecurrenceTermStat.term, RecurrenceTermStat.documents)).all()
        )
        total = session.scalar(select(func.count()).select_from(RecurrenceTermStat))
    assert counts["consumer"] == 3 and counts["tls"] == 1 and counts["*"] == 4
    assert total == len(counts)
