"""Engine and session factory for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from fireline.config import Settings

BUSY_TIMEOUT_MS = 30_000
WAL_AUTOCHECKPOINT_PAGES = 4000


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    kwargs: dict[str, Any] = {"future": True}
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if path is None:
            from sqlalchemy.pool import StaticPool

            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.update(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
    )
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so we can choose BEGIN IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # The commit that takes the log past this mark copies it into the database, with two
        # fsyncs, while holding the write lock. 4,000 pages (16 MB) rather than SQLite's 1,000:
        # less often, for the same total copying (new alerts +4% in five paired ingest_bench
        # runs, before the intake's own connections left checkpoints to `store.checkpoint`,
        # which has the log start over at the same mark).
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        record = conn.connection
        if record.info.get(_DRIVER_BEGINS) and record.dbapi_connection.in_transaction:
            return  # join the transaction `begin_on_driver` began
        if record.info.get(_NO_WAIT):  # left by `begin_on_driver`: wait for the lock again
            record.dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            record.info[_NO_WAIT] = False
        # Writers take the lock up front: no deadlock-prone read->write upgrade under load.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


_DRIVER_BEGINS = "fireline_driver_begins"
_NO_WAIT = "fireline_sqlite_no_wait"  # the connection's busy timeout is 0


def begin_on_driver(conn: Connection) -> None:
    """SQLite: BEGIN IMMEDIATE straight on the driver, failing at once if another connection
    holds the write lock (sqlite3.OperationalError "database is locked"), for the intake's
    event-loop writer: SQLAlchemy's begin and commit (its transaction object, events, the
    options looked up in `_on_begin`) cost about as much as SQLite's own BEGIN, and a batch of
    repeats needs nothing else from them. Anything that later begins a SQLAlchemy transaction
    on `conn` (an ORM session, a statement's autobegin) joins this one. End it with
    `commit_on_driver` or `rollback_on_driver`; `end_driver_transactions` before `conn` goes
    back to the pool."""
    record = conn.connection
    driver: Any = record.dbapi_connection
    if not record.info.get(_NO_WAIT):  # kept until a SQLAlchemy begin of its own
        driver.execute("PRAGMA busy_timeout=0")  # (switching it every batch cost 2 statements)
        record.info[_NO_WAIT] = True
    record.info[_DRIVER_BEGINS] = True  # (each time: a pooled record may have lost it)
    driver.execute("BEGIN IMMEDIATE")


def commit_on_driver(conn: Connection) -> None:
    """Commit what `begin_on_driver` began (through SQLAlchemy if it joined)."""
    if conn.in_transaction():
        conn.commit()
    else:
        _driver(conn).commit()


def rollback_on_driver(conn: Connection) -> None:
    """Roll back what `begin_on_driver` began, whether SQLAlchemy joined it or not."""
    if conn.in_transaction():
        conn.rollback()
    driver = _driver(conn)
    if driver.in_transaction:
        driver.rollback()


def in_driver_transaction(conn: Connection) -> bool:
    """Whether `conn`'s driver is in a transaction that SQLAlchemy may not know of."""
    return bool(_driver(conn).in_transaction)


def _driver(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def end_driver_transactions(conn: Connection) -> None:
    """`conn` no longer begins on the driver (before it goes back to the pool)."""
    conn.connection.info.pop(_DRIVER_BEGINS, None)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
