"""The intake keeps each service's alert rules (settings, maintenance windows, silences)
between batches, and reads them again only when `alert_rules_version` changed. Every change
must apply to the very next alert, whoever makes it: the use cases, another process writing
plain SQL, a window that was known before it started."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from tests.intake import helpers as h

from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.store.db import make_engine
from fireline.store.models.alerts import Alert, MaintenanceWindow
from fireline.store.repos import alerts as alert_repo
from fireline.usecases import alert_settings, alerts, noise
from fireline.usecases.context import Context
from fireline.usecases.submissions import IntegrationInfo


def _send(ctx: Context, source: IntegrationInfo, key: str) -> Alert:
    alerts.ingest(ctx, [h.submission(source, key)])
    return next(a for a in h.alerts(ctx) if a.dedup_key == key)


@pytest.fixture
def other_process(settings: Settings) -> Iterator[Engine]:
    """Another engine on the same database: what another server process or a person with a
    SQL prompt writes through."""
    engine = make_engine(settings)
    yield engine
    engine.dispose()


def test_changes_to_windows_silences_and_settings_apply_to_the_next_alert(
    ctx: Context, clock: FrozenClock
) -> None:
    source = h.pagerduty_source(ctx, grouping="service")
    assert not _send(ctx, source, "a").suppressed  # the rules are now kept

    window = noise.create_window(ctx, service="checkout", ends_at=clock.now() + timedelta(hours=1))
    assert _send(ctx, source, "b").suppressed_reason == f"maintenance:{window.id}"
    noise.end_window(ctx, window.id)
    assert not _send(ctx, source, "c").suppressed

    silence = noise.create_silence(
        ctx, matchers={"summary": "~quiet-.*"}, reason="known", ends_at=clock.now() + timedelta(1)
    )  # a global silence: it covers every service
    assert _send(ctx, source, "quiet-1").suppressed_reason == f"silence:{silence.id}"
    assert not _send(ctx, source, "loud-1").suppressed
    noise.expire_silence(ctx, silence.id)
    assert not _send(ctx, source, "quiet-2").suppressed

    first = _send(ctx, source, "d").incident_id
    assert _send(ctx, source, "e").incident_id == first  # one incident per service
    alert_settings.put(ctx, "checkout", {"grouping": {"mode": "dedup_key"}})
    assert _send(ctx, source, "f").incident_id != first


def test_a_process_reads_the_rules_again_only_after_they_changed(
    ctx: Context, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between changes a batch asks only for the rules' version (on PostgreSQL, with the
    service's lock), not for the rules themselves."""
    source = h.pagerduty_source(ctx)
    reads: list[object] = []
    read = alert_repo.service_rules

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return read(*args, **kwargs)

    monkeypatch.setattr(alert_repo, "service_rules", counted)
    for key in ("a", "b", "c"):
        _send(ctx, source, key)
    assert len(reads) == 1
    noise.create_silence(
        ctx, matchers={"summary": "~quiet-.*"}, reason="known", ends_at=clock.now() + timedelta(1)
    )
    for key in ("quiet-1", "d"):
        _send(ctx, source, key)
    assert len(reads) == 2
    assert next(a for a in h.alerts(ctx) if a.dedup_key == "quiet-1").suppressed


def test_a_change_written_by_another_process_applies_to_the_next_alert(
    ctx: Context, clock: FrozenClock, other_process: Engine
) -> None:
    source = h.pagerduty_source(ctx)
    assert not _send(ctx, source, "a").suppressed
    with other_process.begin() as conn:  # no use case: only the triggers know
        conn.execute(
            insert(MaintenanceWindow).values(
                service_id=source.service_id,
                starts_at=clock.now() - timedelta(minutes=1),
                ends_at=clock.now() + timedelta(hours=1),
                reason="by hand",
                created_at=clock.now(),
            )
        )
    assert (_send(ctx, source, "b").suppressed_reason or "").startswith("maintenance:")
    with other_process.begin() as conn:
        conn.execute(text("DELETE FROM maintenance_windows"))
    assert not _send(ctx, source, "c").suppressed


def test_a_window_known_before_it_starts_applies_from_its_start_to_its_end(
    ctx: Context, clock: FrozenClock
) -> None:
    source = h.pagerduty_source(ctx)
    noise.create_window(
        ctx,
        service="checkout",
        starts_at=clock.now() + timedelta(hours=1),
        ends_at=clock.now() + timedelta(hours=2),
    )
    assert not _send(ctx, source, "before").suppressed
    clock.advance(minutes=90)
    assert _send(ctx, source, "during").suppressed
    clock.advance(hours=1)
    assert not _send(ctx, source, "after").suppressed
