"""The intake looks alerts up by key in the two partial indexes made for that (open alerts,
resolved alerts), on a new database as later. A lookup through any other index, e.g. the
status index, reads every open or every resolved alert: it worked in tests and slowed down
with every alert stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from fireline.store.repos import alerts as alert_repo


def _plan(conn: Connection, sql: str, params: Any) -> str:
    cursor = alert_repo.driver_cursor(conn)
    explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    cursor.execute(explain + sql, params)
    return "\n".join(str(row[-1] if conn.dialect.name == "sqlite" else row[0]) for row in cursor)


def _lookup_plans(conn: Connection, monkeypatch: Any) -> list[str]:
    """The plans of the statements of the intake's per-batch lookup of alerts by key (for
    keys with no open alert, so that the resolved ones are asked for too)."""

    def lookup() -> None:
        alert_repo.open_or_recent(
            conn,
            integration_ids=[1],
            keys=["k-1", "k-2"],
            since=datetime(2026, 1, 1, tzinfo=UTC),
        ).get()

    if conn.dialect.name == "sqlite":  # statements run at once, their values inlined here
        statements: list[str] = []
        dbapi = conn.connection.dbapi_connection
        dbapi.set_trace_callback(statements.append)  # type: ignore[union-attr]
        try:
            lookup()
        finally:
            dbapi.set_trace_callback(None)  # type: ignore[union-attr]
        return [_plan(conn, sql, ()) for sql in statements if sql.startswith("SELECT")]
    seen: dict[str, Any] = {}
    real = alert_repo._Driver.lookup

    def capture(self: Any, sql: str, params: Any, convert: Any, **kwargs: Any) -> Any:
        seen["statement"] = (sql, params)
        return real(self, sql, params, convert, **kwargs)

    monkeypatch.setattr(alert_repo._Driver, "lookup", capture)
    lookup()
    sql, params = seen["statement"]
    plans = [_plan(conn, sql, params)]
    # and as a cached plan for any values, made on the empty table
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    plans.append(_plan(conn, sql, params))
    return plans


def test_lookups_by_key_use_the_open_and_the_resolved_alerts_indexes(
    engine: Engine, monkeypatch: Any
) -> None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            alert_repo.prefer_index_plans(conn)  # as the intake's writer plans
        with conn.begin():
            plans = _lookup_plans(conn, monkeypatch)
    used = "\n".join(plans)
    assert "uq_alerts_open_dedup" in used, used
    assert "ix_alerts_resolved_dedup" in used, used
    assert "ix_alerts_status_id" not in used, used
    if conn.dialect.name == "postgresql":  # both plans (generic too) use both indexes
        assert all("ix_alerts_resolved_dedup" in plan for plan in plans), plans
