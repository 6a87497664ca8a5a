"""The intake's writers leave WAL checkpoints to a thread; the log must still stay bounded."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from fireline.store import checkpoint

PAGE = 4096


def _writer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
    checkpoint.disable_auto(conn)
    return conn


def _write(conn: sqlite3.Connection, commits: int, after_commit: Any) -> None:
    """Commit a page-sized row per transaction (each writes two pages or more to the log)."""
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (b"x" * PAGE,))
        conn.execute("COMMIT")
        after_commit()


def _started(tmp_path: Path) -> tuple[Path, sqlite3.Connection, checkpoint.Checkpointer]:
    """A database, a writer that never checkpoints, and a checkpointer with a short interval."""
    path = tmp_path / "fireline.db"
    return path, _writer(path), checkpoint.Checkpointer(path, interval=0.001)


def _wal_bytes(path: Path) -> int:
    return Path(str(path) + "-wal").stat().st_size


def test_the_log_starts_over_while_writers_that_never_checkpoint_keep_writing(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(checkpoint, "CATCH_UP_FRAMES", 100)
    path, conn, checkpointer = _started(tmp_path)

    def after_commit() -> None:
        checkpointer.poke()
        checkpointer.catch_up(conn)

    commits = 3000
    try:
        _write(conn, commits, after_commit)
    finally:
        checkpointer.close()
    # Without starting over, the log would hold every page written (the control below);
    # measured here it stays near 0.5 MB.
    assert checkpointer.catch_ups > 0
    assert _wal_bytes(path) < commits * PAGE / 4
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (commits,)
    conn.close()
    # Nothing was lost: another connection reads every row from the database file.
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (commits,)
    reader.close()


def test_without_the_catch_up_the_log_only_grows(tmp_path: Path) -> None:
    """The control for the test above: passive checkpoints alone do not let it start over."""
    path, conn, checkpointer = _started(tmp_path)
    commits = 1500
    try:
        _write(conn, commits, checkpointer.poke)
    finally:
        checkpointer.close()
    assert checkpointer.passes > 0
    assert _wal_bytes(path) >= commits * PAGE
    conn.close()


def test_a_connection_handed_back_checkpoints_again(tmp_path: Path) -> None:
    conn = _writer(tmp_path / "fireline.db")
    checkpoint.restore_auto(conn)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (4000,)
    conn.close()


def test_the_thread_ends_when_idle_and_returns_with_the_next_commit(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(checkpoint, "IDLE_SECONDS", 0.05)
    _, conn, checkpointer = _started(tmp_path)
    try:
        _write(conn, 10, checkpointer.poke)
        deadline = time.monotonic() + 5
        while checkpointer.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not checkpointer.running, "the idle checkpoint thread is still running"
        passes = checkpointer.passes
        _write(conn, 10, checkpointer.poke)
        deadline = time.monotonic() + 5
        while checkpointer.passes == passes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.passes > passes
    finally:
        checkpointer.close()
        conn.close()
