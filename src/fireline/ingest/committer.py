"""Group commit: many intake requests, one transaction, then every answer.

Each server process has one `GroupCommitter`. A request hands over its `Submission` and awaits
a future. A single writer thread takes *everything* pending, applies it with
`usecases.alerts.ingest_tx` in one transaction, commits, and only then completes the futures;
while it writes, new requests queue up for the next batch. Under load a batch holds dozens to
hundreds of requests, so the per-commit cost (fsync on SQLite, a round trip on PostgreSQL)
is shared; when idle a batch is a single request and adds no waiting.

On a SQLite file the batch is written on the event loop itself, not in the thread. The write
is short (no network; about 1-4 ms for a batch of dozens), and a thread costs more than it
saves: SQLite releases the GIL around every statement, and each time the writer wants it back
it waits for the event loop to reach its switch interval (5 ms), so a batch of a dozen
statements spent most of its time queued for the GIL while holding the database's write lock.
Writing inline removed that wait (new alerts +30% and repeats +40% per process, measured with
`benchmarks/ingest_bench.py`). The inline writer never blocks the loop on another writer: it
waits for the other server processes' intake writers on a file lock without blocking the loop
(a writer that releases it writes a byte to a FIFO next to it, which wakes the waiting event
loops at once; a polled wait handed the lock over up to a millisecond or two late, while every
request of the waiting process's batch waited too), and if anything else holds SQLite's write
lock (the worker, a web request) it hands that batch to the thread, which waits for the lock
there. It begins and commits on the driver (`store.db.begin_on_driver`), without SQLAlchemy's
transaction machinery, which cost about as much as SQLite's own BEGIN; a batch that opens an
incident has its ORM session join that transaction. The writers' connections leave WAL
checkpoints to a thread (`store.checkpoint`).

On PostgreSQL every batch is written in the thread (round trips would stall the loop), on a
connection the thread keeps, and `ingest_tx` sends its statements in pipelined round trips (the
connection begins its own transactions, so that the BEGIN goes in the first of them:
`alert_repo.begin_own_transactions`). The processes of one host take turns the same way, on a
lock file in a private directory (`host_lock_path`), before they cut a batch. Without the
turns, each process cut its next batch as soon as the last one committed and then waited inside
its transaction for the other's advisory lock: twice as many batches of half the size, each
paying the same round trips (measured: new alerts +28%). A turn lasts until the batch holds its
locks and has read its alerts (`ingest_tx`'s `locked`): the next process then cuts its batch
and sends its reads while this one decides and writes (passing the turn only once the COMMIT
was sent measured ~5% fewer new alerts per second: the turn covered work that need not be
alone). Correctness never depends on the file: the advisory locks and the database's
constraints hold across hosts, and a process that finds the file held for longer than
`HOST_LOCK_PATIENCE_SECONDS` writes without its turn.

If a batch fails (e.g. a cross-process race on PostgreSQL), each of its submissions is retried
in a transaction of its own so one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from sqlalchemy import Connection, Engine, Transaction
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from fireline.config import Settings
from fireline.errors import FirelineError
from fireline.store import checkpoint, db
from fireline.store.repos import alerts as alert_repo
from fireline.usecases import alerts
from fireline.usecases.context import Context
from fireline.usecases.submissions import Submission

log = logging.getLogger("fireline.ingest")

MAX_BATCH = 512
GATHER_ROUNDS = 4  # event loop turns a batch waits for requests already read to reach submit
# Without the release FIFO, the lock is polled: every 0.5 ms cost ~60% more CPU per event; every
# 1 ms is as cheap as a blocking wait, which would stall the loop for as long as another process
# writes. With it, a waiting loop still looks again after WAKE_FALLBACK_SECONDS (a wake-up byte
# can go to another waiting process, or be lost when the FIFO is full).
LOCK_POLL_SECONDS = 0.001
WAKE_FALLBACK_SECONDS = 0.005
# PostgreSQL: a process waits this long for its host's turn, then writes without it (the turns
# only make batches bigger; a process that hangs while holding the file must not stop intake).
HOST_LOCK_PATIENCE_SECONDS = 1.0


def host_lock_path(settings: Settings) -> str | None:
    """Where a database's intake writers take turns: beside a SQLite file; for PostgreSQL, in
    this user's private directory (`$XDG_RUNTIME_DIR`, or `fireline-<uid>` in the temporary
    directory, made 0700 and checked: another user must not be able to hold the turn), named
    after the database's host, port and name. None when there is no such place (then every
    process writes when it likes)."""
    path = settings.sqlite_path()
    if path is not None:
        return str(path) + ".intake-lock"
    if settings.is_sqlite:
        return None  # in memory: one process
    url = make_url(settings.database_url)
    name = hashlib.sha256(f"{url.host}:{url.port}/{url.database}".encode()).hexdigest()[:16]
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(
        tempfile.gettempdir(), f"fireline-{os.getuid()}"
    )
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(base, 0o700)
        info = os.lstat(base)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise OSError(f"{base} is not a directory of this user's that only it can write")
    except OSError:
        log.warning("no private directory for the intake's host lock", exc_info=True)
        return None
    return os.path.join(base, f"fireline-intake-{name}.lock")


class CommitFailed(Exception):
    """The submission could not be stored (the intake answers 503 so the sender retries)."""


class GroupCommitter:
    def __init__(self, ctx: Context, *, max_batch: int = MAX_BATCH) -> None:
        self.ctx = ctx
        self._engine: Engine = ctx.sessions.kw["bind"]
        self.max_batch = max_batch
        self._pending: list[tuple[Submission, asyncio.Future[None]]] = []
        self._running = False
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        path = ctx.settings.sqlite_path()
        self._lock_path = host_lock_path(ctx.settings)
        self.inline = ctx.settings.is_sqlite
        self._conn: Connection | None = None  # the event-loop writer's (SQLite)
        # The writer thread's, kept across batches: a pooled connection per batch cost a
        # checkout, a liveness ping (a round trip on PostgreSQL) and a check-in.
        self._thread_conn: Connection | None = None
        self._lock_file: BinaryIO | None = None
        # PostgreSQL: this process holds the host's turn for the batch being written; the
        # writer thread passes it on once the batch holds its locks and has read (`_pass_turn`)
        self._turn = False
        self._wake_fd: int | None = None  # the release FIFO, read and written (SQLite files)
        self._wake_failed = False
        # SQLite files: WAL checkpoints in a thread, not in the commits (`store.checkpoint`)
        self.checkpointer = None if path is None else checkpoint.Checkpointer(path)
        self.batches = 0
        self.submissions = 0

    async def submit(self, submission: Submission) -> None:
        """Store `submission`; return once its transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((submission, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="fireline-ingest")
        try:
            while self._pending:
                ready = await self._take_lock()
                # Cut the batch once the lock is ours: what arrived while waiting joins it.
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                subs = [s for s, _ in batch]
                errors = self._write_inline(subs) if ready and self.inline else None
                if errors is None:
                    self._turn = ready and not self.inline
                    try:
                        errors = await loop.run_in_executor(self._executor, self._write, subs)
                    finally:
                        self._pass_turn()  # if the thread has not
                for (_, future), error in zip(batch, errors, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._running = False

    async def _take_lock(self) -> bool:
        """Before a batch is cut: let requests whose bytes have arrived reach `submit` (a few
        turns of the loop: read, parse, validate), then take the host's intake lock without
        blocking the loop (True also where there is none). False if that fails, or (on
        PostgreSQL) takes longer than HOST_LOCK_PATIENCE_SECONDS: a SQLite batch then goes to
        the thread, which waits for the lock there; a PostgreSQL batch is written without it."""
        loop = asyncio.get_running_loop()
        for _ in range(GATHER_ROUNDS):
            if len(self._pending) >= self.max_batch:
                break
            await asyncio.sleep(0)
        deadline = None if self.inline else loop.time() + HOST_LOCK_PATIENCE_SECONDS
        try:
            fileno = self._lock_fileno()
            while fileno is not None:
                try:
                    fcntl.flock(fileno, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and loop.time() >= deadline:
                        log.warning(
                            "intake host lock held for over %.1f s; writing without it",
                            HOST_LOCK_PATIENCE_SECONDS,
                        )
                        return False
                    await self._released()
        except Exception:
            log.exception("intake writer cannot take its host lock")
            return False
        return True

    async def _released(self) -> None:
        """Wait until another writer releases the intake lock (it may be taken again by then)."""
        wake = self._wake_fileno()
        if wake is None:
            await asyncio.sleep(LOCK_POLL_SECONDS)
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def wake_up() -> None:
            if not woken.done():
                woken.set_result(None)

        loop.add_reader(wake, wake_up)
        timer = loop.call_later(WAKE_FALLBACK_SECONDS, wake_up)
        try:
            await woken
        finally:
            loop.remove_reader(wake)
            timer.cancel()
        # Read every byte: one left behind would wake the next wait at once, over and over.
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(wake, 4096):
                pass

    def _wake_fileno(self) -> int | None:
        """The release FIFO next to the lock file, opened for reading and writing without
        blocking (so it never sees end-of-file); None where it cannot be made (then: polling)."""
        if self._wake_fd is None and not self._wake_failed and self._lock_path is not None:
            path = self._lock_path + ".fifo"
            try:
                with contextlib.suppress(FileExistsError):
                    os.mkfifo(path, 0o600)
                fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
                if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.close(fd)
                    raise OSError(f"{path} is not a FIFO")
                self._wake_fd = fd
            except OSError:
                log.warning("no intake lock FIFO at %s; the lock is polled", path, exc_info=True)
                self._wake_failed = True
        return self._wake_fd

    def _write_inline(self, subs: Sequence[Submission]) -> list[BaseException | None] | None:
        """Write a batch on the event loop and release the intake lock. None when SQLite is
        busy or anything failed: the thread then writes the batch (waiting for the lock, or
        retrying one by one)."""
        try:
            try:
                conn = self._inline_connection()
                # BEGIN IMMEDIATE without waiting: another writer holds the lock → the thread
                db.begin_on_driver(conn)
            except Exception as exc:
                if not isinstance(exc, OperationalError | sqlite3.OperationalError):
                    log.exception("event-loop intake writer failed")
                if self._conn is not None:
                    self._conn = self._drop_if_broken(self._conn)
                return None
            try:
                self._apply(conn, None, subs)
            except Exception:
                self._conn = self._drop_if_broken(conn)
                log.warning("intake batch of %d failed; retrying in the writer thread", len(subs))
                return None
        finally:
            self._unlock()
        self.batches += 1
        self.submissions += len(subs)
        return [None] * len(subs)

    def _inline_connection(self) -> Connection:
        """The event-loop writer's own connection, kept across batches (a pooled session per
        batch cost a checkout, a check-in and their events: about a tenth of a batch)."""
        if self._conn is None:
            conn = self._engine.connect()
            self._keep(conn)
            self._conn = conn
        return self._conn

    def _keep(self, conn: Connection) -> None:
        """A new kept connection of the writers: on a SQLite file its commits do not
        checkpoint; on PostgreSQL it plans the intake's reads with indexes, from cached plans
        (`alert_repo.prefer_index_plans`)."""
        if self.checkpointer is not None:
            checkpoint.disable_auto(conn.connection.dbapi_connection)
        if not self.inline:
            alert_repo.prefer_index_plans(conn)
            alert_repo.begin_own_transactions(conn)

    def _release(self, conn: Connection) -> None:
        """Close one of the writers' kept connections: back to the pool as it came (SQLite),
        or for good (PostgreSQL: its session plans without sequential scans)."""
        if self.checkpointer is not None and not conn.invalidated:
            with contextlib.suppress(Exception):
                checkpoint.restore_auto(conn.connection.dbapi_connection)
        if self.inline and not conn.invalidated:
            with contextlib.suppress(Exception):
                db.end_driver_transactions(conn)
        if not self.inline and not conn.invalidated:
            with contextlib.suppress(Exception):
                conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()

    def _apply(
        self, conn: Connection, transaction: Transaction | None, subs: Sequence[Submission]
    ) -> None:
        """`ingest_tx` for `subs` in `transaction` on `conn` (None: the one `db.begin_on_driver`
        began), committed; rolled back on error. On a SQLite file the caller holds the intake
        lock, and the checkpoint the thread may have asked for runs here, after the commit."""
        try:
            alerts.ingest_tx(conn, self.ctx, subs, commit=True, locked=self._pass_turn)
            if transaction is None:
                db.commit_on_driver(conn)
            else:
                transaction.commit()
        except BaseException:
            if transaction is None:
                with contextlib.suppress(Exception):  # a broken connection is dropped
                    db.rollback_on_driver(conn)
            elif transaction.is_active:
                transaction.rollback()
            raise
        if self.checkpointer is not None:
            try:  # the batch is committed: nothing here may make it look failed (and retried)
                self.checkpointer.poke()
                self.checkpointer.catch_up(conn.connection.dbapi_connection)
            except Exception:
                log.exception("WAL checkpoint after an intake batch failed")

    def _drop_if_broken(self, conn: Connection) -> Connection | None:
        """`conn` if it can serve the next batch, else None (closed)."""
        if conn.invalidated or conn.in_transaction() or self._driver_busy(conn):
            self._release(conn)
            return None
        return conn

    def _driver_busy(self, conn: Connection) -> bool:
        """SQLite: whether a transaction `db.begin_on_driver` began is still open (or the
        connection cannot say)."""
        if not self.inline:
            return False
        try:
            return db.in_driver_transaction(conn)
        except Exception:
            return True

    def _lock_fileno(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._lock_file is None:  # kept open for the process's life
            self._lock_file = open(self._lock_path, "a+b")
        return self._lock_file.fileno()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._announce_release()

    def _pass_turn(self) -> None:
        """PostgreSQL: let the host's next writer cut its batch (once per turn; from the writer
        thread once the batch holds its locks and has read its alerts, else from the event
        loop after the batch). Where the next batch collides with this one (`usecases.alerts`),
        the server makes it wait for this COMMIT."""
        if self._turn:
            self._turn = False
            self._unlock()

    def _announce_release(self) -> None:
        """Wake a process waiting for the intake lock (none may be: the byte then waits)."""
        wake = self._wake_fileno()
        if wake is not None:
            with contextlib.suppress(OSError):  # full: waiters are awake already
                os.write(wake, b"\0")

    def _write(self, subs: Sequence[Submission]) -> list[BaseException | None]:
        """Runs in the writer thread. Returns one error (or None) per submission."""
        self.batches += 1
        self.submissions += len(subs)
        try:
            with self._writer_lock():
                conn = self._thread_conn
                if conn is None:
                    conn = self._thread_conn = self._engine.connect()
                    self._keep(conn)
                try:
                    self._apply(conn, conn.begin(), subs)
                except BaseException:
                    self._thread_conn = self._drop_if_broken(conn)
                    raise
            return [None] * len(subs)
        except Exception:
            if len(subs) == 1:
                log.exception("intake batch of 1 failed")
            else:
                log.warning("intake batch of %d failed; retrying one by one", len(subs))
        errors: list[BaseException | None] = []
        for sub in subs:
            try:
                alerts.ingest(self.ctx, [sub])
                errors.append(None)
            except FirelineError as exc:
                errors.append(exc)
            except Exception as exc:
                log.exception("intake submission failed")
                errors.append(CommitFailed(f"{type(exc).__name__}"))
        return errors

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """On a SQLite file, queue the processes' intake writers on an OS file lock.

        SQLite's own busy handler polls with sleeps of up to tens of milliseconds; a blocking
        `flock` wakes the next writer the moment the previous one commits. The database's own
        locking still guarantees correctness; this only removes the waiting.
        """
        fileno = self._lock_fileno() if self.inline else None  # PostgreSQL: `_drain` holds it
        if fileno is None:
            yield
            return
        fcntl.flock(fileno, fcntl.LOCK_EX)
        try:
            yield
        finally:
            self._unlock()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for conn in (self._conn, self._thread_conn):
            if conn is not None:
                self._release(conn)
        self._conn = self._thread_conn = None
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._wake_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._wake_fd)
            self._wake_fd = None
