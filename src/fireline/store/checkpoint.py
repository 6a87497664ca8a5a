"""WAL checkpoints of a SQLite file, mostly off the intake writers' critical path.

SQLite's automatic checkpoint runs in the commit that takes the write-ahead log past its mark:
it copies the log into the database file and syncs both files, and the log must reach the
disk first. Under the intake's load that commit held the lock the server processes take turns
on for ~13 ms (a 16 MB log to write out), once in about a hundred batches: measured with
`benchmarks/ingest_bench.py`, half the time spent committing and about an eighth of the time
the lock was held.

So the intake's connections do not checkpoint (`disable_auto`). A `Checkpointer` thread per
server process runs passive checkpoints while the intake writes: they copy what is committed
and sync it without blocking writers (SQLite releases the GIL meanwhile), so the heavy part
happens in parallel. A passive checkpoint cannot catch up with writers that keep appending,
and the log only starts over once a checkpoint has caught up; so when the log has grown past
`CATCH_UP_FRAMES` the thread asks the writers for a catch-up (`wanted`), and the next writer
runs one (`catch_up`) while it still holds the intake lock: it only copies and syncs the few
frames written since the thread's pass, and the next transaction then starts the log over.

Every other connection (web requests, the worker) keeps SQLite's automatic checkpoints, so the
log stays bounded whatever runs.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from fireline.store.db import WAL_AUTOCHECKPOINT_PAGES

log = logging.getLogger("fireline.store")

INTERVAL_SECONDS = 0.1  # between the thread's passes while there are new commits
IDLE_SECONDS = 60.0  # without commits for this long, the thread ends (the next commit restarts it)
# The log's length (frames of a page) past which it should start over: the mark at which the
# other connections checkpoint automatically.
CATCH_UP_FRAMES = WAL_AUTOCHECKPOINT_PAGES


def disable_auto(dbapi_connection: Any) -> None:
    """This connection's commits leave checkpoints to a `Checkpointer`."""
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def restore_auto(dbapi_connection: Any) -> None:
    """Undo `disable_auto` (before a connection goes back to the pool)."""
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")


def _passive(dbapi_connection: Any) -> tuple[bool, int, int]:
    """One passive checkpoint: (done, frames in the log, frames copied). Not done if another
    checkpoint was running or frames were left (readers still need them)."""
    busy, frames, copied = dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return busy == 0 and frames == copied, frames, copied


class Checkpointer:
    """Passive checkpoints of `path` in a daemon thread, after `poke` says there were commits;
    `catch_up` for the writer holding the intake lock."""

    def __init__(self, path: Path, interval: float | None = None) -> None:
        self.path = path
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.passes = 0
        self.catch_ups = 0
        self.wanted = False
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is running (it ends after `IDLE_SECONDS` without commits)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def poke(self) -> None:
        """There are new commits to copy (starts the thread on first use)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="fireline-checkpoint", daemon=True
            )
            self._thread.start()
        self._written.set()

    def catch_up(self, dbapi_connection: Any) -> None:
        """If the thread asked for it: checkpoint on `dbapi_connection`, whose caller holds
        the intake lock, so the log can start over at the next transaction."""
        if not self.wanted:
            return
        try:
            done, _, _ = _passive(dbapi_connection)
        except sqlite3.Error:
            log.warning("WAL checkpoint of %s failed", self.path, exc_info=True)
            return
        if done:
            self.wanted = False
            self.catch_ups += 1

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            while not self._stopping.is_set():
                if not self._written.wait(IDLE_SECONDS) or self._stopping.is_set():
                    break
                self._written.clear()
                try:
                    _, frames, _ = _passive(conn)
                    self.passes += 1
                    if frames >= CATCH_UP_FRAMES:
                        self.wanted = True
                except sqlite3.Error:
                    log.warning("WAL checkpoint of %s failed", self.path, exc_info=True)
                self._stopping.wait(self.interval)
        except Exception:
            log.exception("WAL checkpoint thread of %s stopped", self.path)
        finally:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            if self._thread is threading.current_thread():
                # Idle, or failed (logged): the next `poke` starts another thread.
                self._thread = None

    def close(self) -> None:
        """Stop the thread (what it has not copied stays in the log, as durable)."""
        self._stopping.set()
        self._written.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
