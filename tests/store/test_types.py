"""UTCDateTime stores UTC and returns aware datetimes on every backend; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from fireline.store.models import Counter, Job


def _job(due_at: datetime) -> Job:
    return Job(kind="test", payload={}, due_at=due_at, created_at=datetime.now(UTC))


def test_aware_datetimes_come_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    written = datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=lisbon_summer)
    with Session(engine) as session:
        job = _job(written)
        session.add(job)
        session.commit()
        job_id = job.id
    with Session(engine) as session:
        read = session.scalar(select(Job.due_at).where(Job.id == job_id))
    assert read is not None
    assert read == written
    assert read.tzinfo is not None and read.utcoffset() == timedelta(0)
    assert read.hour == 11


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_job(datetime(2026, 7, 1, 12, 0)))
        with pytest.raises(StatementError) as info:
            session.flush()
        assert "naive datetime refused" in str(info.value)
        session.rollback()
        assert session.scalar(select(Job.id)) is None
        session.add(Counter(name="x", value=1))
        session.commit()


def test_datetimes_compare_in_queries_across_zones(engine: Engine) -> None:
    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        session.add_all([_job(base), _job(base + timedelta(hours=2))])
        session.commit()
        tokyo = timezone(timedelta(hours=9))
        cutoff = (base + timedelta(hours=1)).astimezone(tokyo)
        due = session.scalars(select(Job.due_at).where(Job.due_at < cutoff)).all()
    assert due == [base]
