"""Alert queries: the filtered, keyset-paginated list (newest first, cursor = last id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.store.models.alerts import Alert, Integration


@dataclass(frozen=True, slots=True)
class AlertFilters:
    statuses: Sequence[str] = ()
    service_ids: Sequence[int] = ()
    integration_ids: Sequence[int] = ()
    incident_id: int | None = None
    noise: bool | None = None
    suppressed: bool | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: Sequence[Alert]
    next_cursor: int | None


def list_page(
    session: Session, filters: AlertFilters, *, cursor: int | None, limit: int
) -> AlertPage:
    query = select(Alert)
    if filters.statuses:
        query = query.where(Alert.status.in_(filters.statuses))
    if filters.service_ids:
        query = query.where(Alert.service_id.in_(filters.service_ids))
    if filters.integration_ids:
        query = query.where(Alert.integration_id.in_(filters.integration_ids))
    if filters.incident_id is not None:
        query = query.where(Alert.incident_id == filters.incident_id)
    if filters.noise is not None:
        query = query.where(Alert.noise.is_(filters.noise))
    if filters.suppressed is not None:
        query = query.where(Alert.suppressed.is_(filters.suppressed))
    if filters.text:
        for term in filters.text.lower().split()[:8]:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            query = query.where(
                func.lower(Alert.summary).like(pattern, escape="\\")
                | func.lower(Alert.dedup_key).like(pattern, escape="\\")
            )
    if cursor is not None:
        query = query.where(Alert.id < cursor)
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return AlertPage(items=rows, next_cursor=rows[-1].id if has_more and rows else None)


def noise_report(session: Session, *, since: object | None = None) -> list[dict[str, object]]:
    """Alerts marked as noise (and suppressed ones) per integration and alert name."""
    name = func.coalesce(Alert.labels["alertname"].as_string(), Alert.summary)
    query = (
        select(
            Alert.integration_id,
            Integration.name,
            Integration.service_id,
            name.label("rule"),
            func.count().label("alerts"),
            func.sum(func.cast(Alert.noise, type_=Integration.id.type)).label("noise"),
            func.sum(func.cast(Alert.flapping, type_=Integration.id.type)).label("flapping"),
            func.sum(func.cast(Alert.suppressed, type_=Integration.id.type)).label("suppressed"),
        )
        .join(Integration, Integration.id == Alert.integration_id)
        .group_by(Alert.integration_id, Integration.name, Integration.service_id, name)
        .order_by(
            func.sum(func.cast(Alert.noise, type_=Integration.id.type)).desc(),
            func.count().desc(),
        )
        .limit(500)
    )
    if since is not None:
        query = query.where(Alert.first_seen_at >= since)
    return [dict(row._mapping) for row in session.execute(query)]


# ---------------------------------------------------------------- bulk writes (intake)
#
# The intake writes thousands of rows per transaction. These go straight to the driver's
# executemany (one C-level call on SQLite, pipelined on psycopg) with values encoded once
# here (orjson for JSON, the dialect's own datetime form), skipping per-row type processing.

ALERT_COLUMNS = (
    "id", "integration_id", "service_id", "source", "dedup_key", "fingerprint", "starts_at",
    "status", "summary", "severity", "labels", "annotations", "links", "group_key",
    "first_seen_at", "last_seen_at", "acknowledged_at", "resolved_at", "occurrence_count",
    "raw", "raw_truncated", "incident_id", "flapping", "suppressed", "suppressed_reason",
    "noise", "noise_reason",
)  # fmt: skip
EVENT_COLUMNS = (
    "record_type", "record_id", "kind", "at", "actor_id", "actor_label", "visibility", "body",
    "data",
)  # fmt: skip
_JSON = frozenset({"labels", "annotations", "links", "data"})
_TIME = frozenset(
    {"starts_at", "first_seen_at", "last_seen_at", "acknowledged_at", "resolved_at", "at"}
)
_BOOL = frozenset({"raw_truncated", "flapping", "suppressed", "noise"})


def _encoder(dialect: str, column: str) -> Any:
    if column in _JSON:
        return lambda v: orjson.dumps(v).decode()
    if column in _TIME:
        if dialect == "sqlite":
            cache: dict[datetime, str] = {}

            def encode(v: datetime | None) -> str | None:
                if v is None:
                    return None
                text = cache.get(v)
                if text is None:
                    text = cache[v] = v.astimezone(UTC).strftime(_SQLITE_TIME)
                return text

            return encode
        return None
    if column in _BOOL and dialect == "sqlite":
        return lambda v: 1 if v else 0
    return None


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _bulk_insert(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    get = itemgetter(*columns)
    encoders = [
        (index, enc)
        for index, enc in ((i, _encoder(dialect, c)) for i, c in enumerate(columns))
        if enc is not None
    ]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(get(row))
        for index, enc in encoders:
            values[index] = enc(values[index])
        params.append(tuple(values))
    names = ", ".join(columns)
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        session.connection().exec_driver_sql(sql, params)
        return
    # PostgreSQL: psycopg's executemany pipelines the rows (one round trip for the lot) and,
    # the statement text being constant, parses and prepares it once. (A multi-row VALUES
    # list has a different text for every batch size, so psycopg re-parsed it every time.)
    marks = ", ".join("%s::jsonb" if c in _JSON else "%s" for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    session.connection().exec_driver_sql(sql, params)


_MAX_ALERT_ID = select(func.coalesce(func.max(Alert.__table__.c.id), 0))


def reserve_alert_ids(session: Session, count: int) -> list[int]:
    """`count` fresh alert ids, safe against concurrent writers.

    SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so max(id)+1... is free.
    PostgreSQL: taken from the table's sequence.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        top = int(session.execute(_MAX_ALERT_ID).scalar_one())
        return list(range(top + 1, top + 1 + count))
    rows = session.connection().exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('alerts', 'id')) FROM generate_series(1, %s)",
        (count,),
    )
    return [int(r[0]) for r in rows]


def insert_alerts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert alert rows (each with its reserved `id`)."""
    _bulk_insert(session, "alerts", ALERT_COLUMNS, rows)


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert timeline event rows."""
    _bulk_insert(session, "timeline_events", EVENT_COLUMNS, rows)


def bump(session: Session, counts: Sequence[tuple[int, int]], *, now: datetime) -> None:
    """Add to occurrence_count and set last_seen_at for (alert id, repeats) pairs."""
    if not counts:
        return
    dialect = session.get_bind().dialect.name
    at: Any = now.astimezone(UTC).strftime(_SQLITE_TIME) if dialect == "sqlite" else now
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (
        f"UPDATE alerts SET occurrence_count = occurrence_count + {mark}, "  # noqa: S608
        f"last_seen_at = {mark} WHERE id = {mark}"
    )
    session.connection().exec_driver_sql(sql, [(n, at, alert_id) for alert_id, n in counts])
