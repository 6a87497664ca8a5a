"""Alert queries: the filtered, keyset-paginated list (newest first, cursor = last id)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any, Generic, NamedTuple, TypeVar

import orjson
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from fireline.store.models.alerts import OPEN_ALERT, RESOLVED_ALERT, Alert, Integration

# The partial indexes' conditions as SQL text (`str()` of a `text()` compiles it: ~33 µs)
_OPEN = str(OPEN_ALERT)
_RESOLVED = str(RESOLVED_ALERT)


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
# The intake writes thousands of rows per transaction. These go straight to the driver,
# skipping SQLAlchemy's per-row type processing: SQLite gets one executemany of values encoded
# here (orjson for JSON, its own datetime form); PostgreSQL one JSON document per batch.

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
_INT = frozenset(
    {"id", "integration_id", "service_id", "occurrence_count", "incident_id"}
    | {"record_id", "actor_id"}  # timeline events
)


def _pg_type(column: str) -> str:
    """The column's type in `json_to_recordset`'s row definition."""
    for names, pg_type in ((_INT, "integer"), (_TIME, "timestamptz"), (_BOOL, "boolean")):
        if column in names:
            return pg_type
    return "jsonb" if column in _JSON else "text"


def _sqlite_encoder(column: str) -> Any:
    if column in _JSON:
        return _json_text
    if column in _TIME:
        return _sqlite_time
    if column in _BOOL:
        return _sqlite_bool
    return None


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_bool(value: Any) -> int:
    return 1 if value else 0


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


@lru_cache(maxsize=4096)
def _sqlite_time(value: datetime | None) -> str | None:
    """SQLite's stored form of an aware datetime (cached: a batch repeats the same `now`)."""
    return None if value is None else value.astimezone(UTC).strftime(_SQLITE_TIME)


DB = Session | Connection


def connection_of(db: DB) -> Connection:
    """The connection of `db` (a session's costs a lookup each time: fetch it once per batch)."""
    return db if isinstance(db, Connection) else db.connection()


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection, inside `conn`'s transaction.

    The intake's per-batch statements go here: SQLAlchemy's execution context costs about
    40 µs per statement (more than these statements themselves), and a batch runs several.
    Values are already in the driver's form (`_sqlite_plan`'s encoders, JSON on PostgreSQL),
    and nothing here needs SQLAlchemy's result processing."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


T = TypeVar("T")


class Later(Generic[T]):
    """A query's result, read when asked for: inside `pipelined`, PostgreSQL answers the
    block's queries only when it ends."""

    def __init__(self, cursor: Any, convert: Callable[[list[Any]], T]) -> None:
        self._cursor = cursor
        self._convert = convert
        self._value: tuple[T] | None = None

    @classmethod
    def of(cls, value: T) -> Later[T]:
        later: Later[T] = cls(None, lambda _: value)
        return later

    def get(self) -> T:
        """The result (read once; the same value every time)."""
        if self._value is None:
            rows = [] if self._cursor is None else self._cursor.fetchall()
            self._value = (self._convert(rows),)
        return self._value[0]


@contextmanager
def pipelined(db: DB) -> Iterator[None]:
    """Send the driver statements issued in the block to PostgreSQL together: one round trip
    for all of them when the block ends (psycopg's pipeline mode), instead of one each. Read
    their `Later` results after the block. SQLite has no round trips: statements run at once.

    Only this module's driver statements belong inside: SQLAlchemy reads a statement's
    result description as soon as it runs, which a pipeline does not have yet."""
    conn = connection_of(db)
    if conn.dialect.name == "sqlite" or not _pipeline_supported():
        yield
        return
    with conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]
        yield


@cache
def _pipeline_supported() -> bool:
    """psycopg's pipeline mode needs libpq 14 or later (psycopg[binary] bundles one; a system
    libpq may be older): without it, statements simply go one by one."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


class _Driver:
    """The per-dialect pieces of the driver SQL below: placeholders, IN lists, times."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.to_time: Callable[[Any], datetime | None] = (
            _from_sqlite if self.sqlite else _from_postgres
        )

    def among(self, values: Sequence[Any], pg_type: str) -> tuple[str, list[Any]]:
        """`IN (?, …)` and its values on SQLite; on PostgreSQL `= ANY(…)` of an array made
        from one JSON text (a constant statement text whatever the number of values; the JSON
        is encoded by orjson, where psycopg dumped a list element by element in Python: new
        alerts +4% in five paired runs)."""
        if self.sqlite:
            return f"IN ({', '.join('?' * len(values))})", list(values)
        return _pg_among(pg_type), [orjson.dumps(list(values)).decode()]

    def time(self, value: datetime) -> Any:
        return _sqlite_time(value) if self.sqlite else value

    def lookup(
        self,
        sql: str,
        params: Sequence[Any],
        convert: Callable[[list[Any]], T],
        *,
        fresh_plan: bool = True,
    ) -> Later[T]:
        """The rows of one of the intake's per-batch reads, on the driver's cursor.

        With `fresh_plan` (reads of tables that grow: alerts, incidents), PostgreSQL plans it
        for its values every time, never from a cached plan, unless the connection prefers
        index plans (`prefer_index_plans`): psycopg prepares a statement on its fifth run,
        and a plan made while a table is small or has no statistics yet (a new database's
        first minute, or after a restore) is a sequential scan that the connection then
        keeps. Measured on a new database: every batch read every alert, ~800 µs of server
        CPU per new alert at 8,000 alerts and growing."""
        cursor = driver_cursor(self.conn)
        if self.sqlite or not fresh_plan or self.conn.connection.info.get(_INDEX_PLANS):
            cursor.execute(sql, params)
        else:
            cursor.execute(sql, params, prepare=False)
        return Later(cursor, convert)


def _pg_among(pg_type: str) -> str:
    """PostgreSQL: `= ANY(…)` of the values in one JSON text parameter (`_Driver.among`)."""
    return f"= ANY(ARRAY(SELECT json_array_elements_text(%s::json))::{pg_type}[])"


_INDEX_PLANS = "fireline_index_plans"
_OWN_BEGIN = "fireline_own_begin"


def begin_own_transactions(conn: Connection) -> None:
    """PostgreSQL: from now on this connection's transactions start with `begin(conn)`, so
    that the BEGIN travels with the first statements of a `pipelined` block. Left to itself,
    psycopg follows the BEGIN it sends before a transaction's first statement in a pipeline
    with a Sync and waits for the answer: a round trip of its own for every batch (~190 µs of
    wall time and ~80 µs of the writer's CPU per batch, alone; more under load, where every
    wait also ends in a wait for the GIL). The driver goes to autocommit mode, which only
    means it sends no BEGIN itself: `commit()` and `rollback()` still end a transaction that
    `begin` opened. Every statement on the connection must come after a `begin(conn)`; the
    intake's writer thread keeps such a connection and closes it for good afterwards.
    SQLite: nothing (the caller begins with BEGIN IMMEDIATE)."""
    if conn.dialect.name == "sqlite":
        return
    conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
    conn.connection.info[_OWN_BEGIN] = True


def begin(conn: Connection) -> None:
    """Open the transaction of a connection that begins its own (`begin_own_transactions`)
    unless one is open: inside `pipelined`, in the block's round trip. Otherwise nothing."""
    if not conn.connection.info.get(_OWN_BEGIN):
        return
    from psycopg.pq import TransactionStatus  # only PostgreSQL connections get here

    dbapi = conn.connection.dbapi_connection
    if dbapi.info.transaction_status == TransactionStatus.IDLE:  # type: ignore[union-attr]
        driver_cursor(conn).execute("BEGIN")


def prefer_index_plans(conn: Connection) -> None:
    """PostgreSQL: have this connection (not in a transaction) plan without sequential scans
    wherever an index serves (`enable_seqscan = off`, for its session), so the intake's
    reads, all index lookups, run from cached plans even if those were made while a table
    was empty. Planning them for every batch cost ~0.5 ms of server CPU per batch (new
    alerts +7% in three paired runs without it). The setting stays with the connection:
    close it for good (`Connection.invalidate`) rather than return it to the pool. SQLite:
    nothing."""
    if conn.dialect.name == "sqlite":
        return
    conn.exec_driver_sql("SET enable_seqscan = off")
    conn.commit()
    conn.connection.info[_INDEX_PLANS] = True


_PLANS: dict[str, tuple[str, Any, list[tuple[int, Any]]]] = {}


def _sqlite_plan(table: str, columns: Sequence[str]) -> tuple[str, Any, list[tuple[int, Any]]]:
    """The INSERT text, a row getter and the per-column encoders, built once per table."""
    found = _PLANS.get(table)
    if found is None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        encoders = [
            (index, enc)
            for index, enc in ((i, _sqlite_encoder(c)) for i, c in enumerate(columns))
            if enc is not None
        ]
        found = _PLANS[table] = (sql, itemgetter(*columns), encoders)
    return found


_PG_INSERTS: dict[str, str] = {}


def _postgres_insert(table: str, columns: Sequence[str]) -> str:
    """PostgreSQL: the batch as one JSON array of row objects, expanded into rows by
    `json_to_recordset`: one statement with a constant text (prepared once) and one
    round trip whatever the batch size, and the whole batch encoded by one orjson call.
    (Arrays per column made psycopg dump every element in Python, with a regex escape per
    JSON text: about a third of the writer's CPU.)"""
    sql = _PG_INSERTS.get(table)
    if sql is None:
        names = ", ".join(columns)
        typed = ", ".join(f"{c} {_pg_type(c)}" for c in columns)
        sql = _PG_INSERTS[table] = (
            f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
            f"FROM json_to_recordset(%s::json) AS t({typed})"
        )
    return sql


def _bulk_insert(
    db: DB, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    conn = connection_of(db)
    cursor = driver_cursor(conn)
    if conn.dialect.name != "sqlite":
        # Rows may carry keys beyond `columns`: json_to_recordset reads only the named ones.
        cursor.execute(_postgres_insert(table, columns), (orjson.dumps(rows).decode(),))
        return
    sql, get, encoders = _sqlite_plan(table, columns)
    params: list[tuple[Any, ...]] = []
    append = params.append
    for row in rows:
        values = list(get(row))
        for index, enc in encoders:
            values[index] = enc(values[index])
        append(tuple(values))
    cursor.executemany(sql, params)


_SERVICE_LOCK_BASE = 7_000_000_000  # advisory lock keys of the intake: this + service id
_OPENING_LOCK_BASE = 8_000_000_000  # and of opening incidents from alerts on a service


def lock_services(
    db: DB, service_ids: Sequence[int], *, shared: bool = False
) -> Later[int | None] | None:
    """PostgreSQL: take the intake's transaction-level advisory lock of each service, in
    order (so two writers never wait on each other crosswise); `shared` by batches that may
    run beside each other. The first lock's statement also reads the alert rules' version
    (`rules_version`, returned), which a statement of its own cost ~1.5% of new alerts per
    second. SQLite: nothing (None), BEGIN IMMEDIATE already serialises writers."""
    conn = connection_of(db)
    if conn.dialect.name == "sqlite" or not service_ids:
        return None
    first, *rest = sorted(set(service_ids))
    version = _Driver(conn).lookup(
        f"SELECT {_lock_function(shared)}(%s), ({_RULES_VERSION})",
        [_SERVICE_LOCK_BASE + first],
        lambda rows: None if rows[0][1] is None else int(rows[0][1]),
        fresh_plan=False,
    )
    _advisory_locks(db, _SERVICE_LOCK_BASE, rest, shared=shared)
    return version


def lock_openings(db: DB, service_ids: Sequence[int]) -> None:
    """PostgreSQL: take the (exclusive) lock of opening incidents from alerts on each service,
    in order, after `lock_services`. SQLite: nothing."""
    _advisory_locks(db, _OPENING_LOCK_BASE, service_ids, shared=False)


def _advisory_locks(db: DB, base: int, ids: Sequence[int], *, shared: bool) -> None:
    conn = connection_of(db)
    if conn.dialect.name == "sqlite":
        return
    cursor = driver_cursor(conn)
    for key in sorted(set(ids)):
        cursor.execute(f"SELECT {_lock_function(shared)}(%s)", (base + key,))


def _lock_function(shared: bool) -> str:
    return "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"


def commit_pipelined(db: DB) -> None:
    """PostgreSQL, inside `pipelined`: COMMIT the transaction with the block's statements, in
    their round trip (the driver's `commit()` there waits for an extra one). If a statement
    before it fails, the server skips it and the block raises; if the COMMIT itself fails,
    the block raises and the transaction is gone. Either way nothing of it is stored, and the
    connection's own commit or rollback afterwards has nothing left to do."""
    conn = connection_of(db)
    assert conn.dialect.name == "postgresql"
    driver_cursor(conn).execute("COMMIT")


class Attached(NamedTuple):
    """The timeline event that each new alert placed in an incident gets on that incident."""

    record_type: str
    kind: str
    actor_label: str
    visibility: str


def insert_alerts(
    db: DB,
    rows: Sequence[dict[str, Any]],
    attached: Attached,
    *,
    touch: Sequence[int] = (),
    now: datetime,
) -> Later[list[int]]:
    """Insert new alert rows (their `id` is set here on SQLite, their order `n` on PostgreSQL:
    the rows are the caller's to give away); for each row with an `incident_id`, the
    event `attached` on that incident at `now`, its data the alert's summary, severity, dedup
    key, source and id; and `touch_integrations(touch, now=now)`. The new ids, in row order.

    Both databases make the events from the inserted rows, so they need no rows of their own
    to be built, sent and parsed (~3 µs per alert on SQLite, ~7 µs on PostgreSQL). SQLite:
    the caller holds the write lock, so max(id)+1... are free. PostgreSQL: one statement (ids
    from the table's sequence, the events, and the integrations' update): the batch needs no
    round trip to reserve ids before its writes, and the touch no statement of its own (which
    cost ~5% of new alerts per second)."""
    if not rows:
        touch_integrations(db, touch, now=now)
        return Later.of([])
    conn = connection_of(db)
    cursor = driver_cursor(conn)
    if conn.dialect.name == "sqlite":
        touch_integrations(conn, touch, now=now)
        cursor.execute("SELECT coalesce(max(id), 0) FROM alerts")
        first = int(cursor.fetchone()[0]) + 1
        ids = list(range(first, first + len(rows)))
        for row, alert_id in zip(rows, ids, strict=True):
            row["id"] = alert_id
        _bulk_insert(conn, "alerts", ALERT_COLUMNS, rows)
        cursor.execute(
            _SQLITE_INSERT_ATTACHED,
            (
                attached.record_type,
                attached.kind,
                _sqlite_time(now),
                attached.actor_label,
                attached.visibility,
                first,
                ids[-1],
            ),
        )
        return Later.of(ids)
    for n, row in enumerate(rows):
        row["n"] = n  # the rows' order (`_postgres_insert_attached`); the caller's own dicts
    cursor.execute(
        _postgres_insert_attached(),
        (
            orjson.dumps(rows).decode(),
            attached.record_type,
            attached.kind,
            now,
            attached.actor_label,
            attached.visibility,
            now,
            orjson.dumps(list(touch)).decode(),
            now - TOUCH_EVERY,
        ),
    )
    return Later(cursor, lambda found: [int(r[0]) for r in found])


# An attachment event's data: these columns of its alert, and the alert's id as `alert_id`
# (the arguments of SQLite's json_object and PostgreSQL's jsonb_build_object alike).
_ATTACHED_DATA = (
    ", ".join(f"'{c}', {c}" for c in ("summary", "severity", "dedup_key", "source"))
    + ", 'alert_id', id"
)

# `insert_alerts` on SQLite: the events made from the rows just inserted (ids first..last)
_SQLITE_INSERT_ATTACHED = (
    f"INSERT INTO timeline_events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608
    f"SELECT ?, incident_id, ?, ?, NULL, ?, ?, NULL, json_object({_ATTACHED_DATA}) "
    "FROM alerts WHERE id BETWEEN ? AND ? AND incident_id IS NOT NULL ORDER BY id"
)


@cache
def _postgres_insert_attached() -> str:
    """`insert_alerts` on PostgreSQL: the alerts inserted in row order (so the sequence gives
    them ascending ids in that order, and their order by id is the rows' order), the events
    made from the inserted rows, and the integrations touched as `touch_integrations` does."""
    alert_columns = [c for c in ALERT_COLUMNS if c != "id"]
    names = ", ".join(alert_columns)
    typed = ", ".join(f"{c} {_pg_type(c)}" for c in alert_columns)
    event_names = ", ".join(EVENT_COLUMNS)
    return (
        f"WITH inserted AS (INSERT INTO alerts ({names}) SELECT {names} "  # noqa: S608
        f"FROM json_to_recordset(%s::json) AS t({typed}, n integer) ORDER BY t.n "
        "RETURNING id, incident_id, summary, severity, dedup_key, source), "
        f"e AS (INSERT INTO timeline_events ({event_names}) "
        f"SELECT %s, incident_id, %s, %s, NULL, %s, %s, NULL, jsonb_build_object({_ATTACHED_DATA}) "
        "FROM inserted WHERE incident_id IS NOT NULL ORDER BY id), "
        "t AS (UPDATE integrations SET last_event_at = %s "
        f"WHERE id {_pg_among('integer')} AND {_TOUCH_STALE.format(mark='%s')}) "
        "SELECT id FROM inserted ORDER BY id"
    )


def insert_events(db: DB, rows: Sequence[dict[str, Any]]) -> None:
    """Insert timeline event rows."""
    _bulk_insert(db, "timeline_events", EVENT_COLUMNS, rows)


def bump(db: DB, counts: Sequence[tuple[int, int]], *, now: datetime) -> None:
    """Add to occurrence_count and set last_seen_at for (alert id, repeats) pairs."""
    if not counts:
        return
    conn = connection_of(db)
    cursor = driver_cursor(conn)
    if conn.dialect.name == "sqlite":
        seen = _sqlite_time(now)
        cursor.executemany(
            "UPDATE alerts SET occurrence_count = occurrence_count + ?, last_seen_at = ? "
            "WHERE id = ?",
            [(n, seen, alert_id) for alert_id, n in counts],
        )
        return
    # PostgreSQL: one statement over arrays (one round trip, not one pipelined query per row),
    # the rows in id order: batches bumping the same alerts side by side lock them in one order
    counts = sorted(counts)
    cursor.execute(
        "UPDATE alerts SET occurrence_count = alerts.occurrence_count + t.n, last_seen_at = %s "
        "FROM json_to_recordset(%s::json) AS t(id integer, n integer) WHERE alerts.id = t.id",
        (now, orjson.dumps([{"id": alert_id, "n": n} for alert_id, n in counts]).decode()),
    )


TOUCH_EVERY = timedelta(seconds=1)
_TOUCH_STALE = "(last_event_at IS NULL OR last_event_at < {mark})"  # {mark}: now - TOUCH_EVERY


def touch_integrations(db: DB, ids: Sequence[int], *, now: datetime) -> None:
    """Set `last_event_at` of the integrations `ids` (a sign of life of their senders) where
    it is older than TOUCH_EVERY: updating the row with every batch made concurrent batches
    of one integration wait for each other's commit on its row lock."""
    _update_ids(
        db,
        "integrations",
        ids,
        {"last_event_at": now},
        only=_TOUCH_STALE,
        only_values=[now - TOUCH_EVERY],
    )


def acknowledge(db: DB, ids: Sequence[int], *, now: datetime) -> None:
    """Mark the firing alerts among `ids` acknowledged."""
    values = {"status": "acknowledged", "acknowledged_at": now}
    _update_ids(db, "alerts", ids, values, only="status = 'firing'")


def resolve(db: DB, ids: Sequence[int], *, now: datetime) -> None:
    """Mark the unresolved alerts among `ids` resolved."""
    values = {"status": "resolved", "resolved_at": now}
    _update_ids(db, "alerts", ids, values, only="status != 'resolved'")


def _update_ids(
    db: DB,
    table: str,
    ids: Sequence[int],
    values: dict[str, Any],
    *,
    only: str = "TRUE",
    only_values: Sequence[Any] = (),
) -> None:
    """One driver statement: set `values` on the rows of `table` whose id is among `ids` (and
    that match the condition `only`, whose `{mark}` placeholders take `only_values`)."""
    if not ids:
        return
    conn = connection_of(db)
    driver = _Driver(conn)
    among, id_values = driver.among(ids, "integer")
    sets = ", ".join(f"{column} = {driver.mark}" for column in values)
    params = [driver.time(v) if isinstance(v, datetime) else v for v in values.values()]
    condition = only.format(mark=driver.mark)
    extra = [driver.time(v) if isinstance(v, datetime) else v for v in only_values]
    driver_cursor(conn).execute(
        f"UPDATE {table} SET {sets} WHERE id {among} AND {condition}",  # noqa: S608
        [*params, *id_values, *extra],
    )


class OpenOrRecent(NamedTuple):
    """An alert row as the intake's dedup step needs it."""

    id: int
    integration_id: int
    dedup_key: str
    status: str
    starts_at: datetime | None
    incident_id: int | None
    service_id: int
    first_seen_at: datetime
    flapping: bool


_OPEN_OR_RECENT_COLUMNS = (
    "id, integration_id, dedup_key, status, starts_at, incident_id, service_id, "
    "first_seen_at, flapping"
)


def open_or_recent(
    db: DB,
    *,
    integration_ids: Sequence[int],
    keys: Sequence[str],
    since: datetime,
    history_too: Collection[str] = (),
) -> Later[list[OpenOrRecent]]:
    """Alerts of `integration_ids` with one of `keys` that are open, and those resolved and
    first seen since `since`. PostgreSQL reads both in one statement (one round trip). SQLite,
    with no round trips to save, reads the resolved ones only for keys that lack an open alert
    in one of the integrations, and for `history_too`: a batch of repeats reads none.

    Driver SQL on the driver's cursor: the intake runs this once per batch, and SQLAlchemy's
    statement machinery (expanding IN lists, result processing) cost more than the query.
    """
    if not integration_ids or not keys:
        return Later.of([])
    conn = connection_of(db)
    driver = _Driver(conn)
    integrations, integration_values = driver.among(integration_ids, "integer")
    among_keys, key_values = driver.among(keys, "text")
    to_time = driver.to_time

    def convert(rows: list[Any]) -> list[OpenOrRecent]:
        return [
            OpenOrRecent(
                row[0],
                row[1],
                row[2],
                row[3],
                to_time(row[4]),
                row[5],
                row[6],
                to_time(row[7]),  # type: ignore[arg-type]
                bool(row[8]),
            )
            for row in rows
        ]

    # Open and resolved alerts are in two partial indexes (migration 0012): one query each,
    # with the index's own condition, so that each is used.
    open_sql = (
        f"SELECT {_OPEN_OR_RECENT_COLUMNS} FROM alerts "  # noqa: S608
        f"WHERE dedup_key {among_keys} AND integration_id {integrations} AND {_OPEN}"
    )

    def resolved_sql(among: str) -> str:
        return (
            f"SELECT {_OPEN_OR_RECENT_COLUMNS} FROM alerts "  # noqa: S608
            f"WHERE dedup_key {among} AND integration_id {integrations} AND {_RESOLVED} "
            f"AND first_seen_at >= {driver.mark}"
        )

    if not driver.sqlite:
        return driver.lookup(
            f"{open_sql} UNION ALL {resolved_sql(among_keys)}",
            [
                *key_values,
                *integration_values,
                *key_values,
                *integration_values,
                driver.time(since),
            ],
            convert,
        )
    cursor = driver_cursor(conn)
    cursor.execute(open_sql, [*key_values, *integration_values])
    found = cursor.fetchall()
    # (at most one open alert per integration and key: the unique index)
    open_per_key = Counter(row[2] for row in found)
    everywhere = len(integration_ids)
    rest = [key for key in keys if open_per_key[key] < everywhere or key in history_too]
    if rest:
        among_rest, rest_values = driver.among(rest, "text")
        cursor.execute(
            resolved_sql(among_rest), [*rest_values, *integration_values, driver.time(since)]
        )
        found += cursor.fetchall()
    return Later.of(convert(found))


def _from_postgres(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


@lru_cache(maxsize=16_384)
def _from_sqlite(text: str | None) -> datetime | None:
    """A stored SQLite timestamp (UTC, as `_SQLITE_TIME` or any ISO form) as aware UTC.
    Cached: the repeats of an alert read its same two timestamps batch after batch, and
    parsing them cost about a tenth of the writer's time per repeat."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


class ServiceRule(NamedTuple):
    """One row of `service_rules`: kind 0 = stored settings (`doc`), 1 = a maintenance window,
    2 = a silence (`doc` = its matchers); windows and silences not ended when read."""

    kind: int
    id: Any  # int, None for kind 0
    service_id: Any  # int, None for a global silence
    doc: Any
    starts_at: Any  # aware datetime, None for kind 0
    ends_at: Any


def rules_version(db: DB) -> Later[int | None]:
    """The alert rules' version (`AlertRulesVersion`): it changes whenever `service_rules`
    could answer differently, other than by time passing. None if its row is missing."""
    driver = _Driver(connection_of(db))
    return driver.lookup(
        _RULES_VERSION, [], lambda rows: int(rows[0][0]) if rows else None, fresh_plan=False
    )


_RULES_VERSION = "SELECT version FROM alert_rules_version WHERE id = 1"


def service_rules(db: DB, services: Sequence[int], *, now: datetime) -> Later[list[ServiceRule]]:
    """The services' alert settings, and the maintenance windows and silences (global
    silences too) not ended at `now`, including those yet to start (whoever applies them
    checks the time: the intake keeps them until `rules_version` changes), in one statement
    on the driver's cursor."""
    conn = connection_of(db)
    driver = _Driver(conn)
    ids, values = driver.among(services, "integer")
    at, now_value = driver.mark, driver.time(now)
    none = "NULL" if driver.sqlite else "NULL::jsonb"

    def convert(rows: list[Any]) -> list[ServiceRule]:
        return [
            ServiceRule(
                int(kind),
                row_id,
                service_id,
                orjson.loads(doc) if driver.sqlite and doc is not None else doc,
                driver.to_time(starts),
                driver.to_time(ends),
            )
            for kind, row_id, service_id, doc, starts, ends in rows
        ]

    # Small tables, one row per service, window or silence: a cached plan is fine here.
    return driver.lookup(
        "SELECT 2, id, service_id, matchers, starts_at, ends_at FROM alert_silences "  # noqa: S608
        f"WHERE (service_id {ids} OR service_id IS NULL) AND ends_at > {at} "
        f"UNION ALL SELECT 1, id, service_id, {none}, starts_at, ends_at FROM maintenance_windows "
        f"WHERE service_id {ids} AND ends_at > {at} "
        f"UNION ALL SELECT 0, NULL, service_id, settings, NULL, NULL FROM service_alert_settings "
        f"WHERE service_id {ids}",
        [*values, now_value, *values, now_value, *values],
        convert,
        fresh_plan=False,
    )


class GroupRow(NamedTuple):
    service_id: int
    group_key: str
    incident_id: int
    opened_at: datetime


def open_groups(
    db: DB,
    *,
    services: Sequence[int],
    statuses: Sequence[str],
    keys: Sequence[str] | None = None,
    since: datetime | None = None,
) -> Later[list[GroupRow]]:
    """Alert groups of `services` whose incident has one of `statuses`, with one of `keys`
    (or opened at or after `since`), on the driver's cursor (the intake runs it per batch)."""
    conn = connection_of(db)
    driver = _Driver(conn)
    among_statuses, params = driver.among(statuses, "text")
    among_services, values = driver.among(services, "integer")
    sql = (
        "SELECT g.service_id, g.group_key, g.incident_id, g.opened_at FROM alert_groups g "  # noqa: S608
        "JOIN incidents i ON i.id = g.incident_id "
        f"WHERE i.status {among_statuses} AND g.service_id {among_services}"
    )
    params += values
    if keys is not None:
        among_keys, values = driver.among(keys, "text")
        sql += f" AND g.group_key {among_keys}"
        params += values
    if since is not None:
        sql += f" AND g.opened_at >= {driver.mark}"
        params.append(driver.time(since))
    to_time = driver.to_time
    return driver.lookup(
        sql,
        params,
        lambda rows: [
            GroupRow(service_id, group_key, incident_id, to_time(opened))  # type: ignore[arg-type]
            for service_id, group_key, incident_id, opened in rows
        ],
    )
