"""`fireline serve` as a real subprocess on a SQLite file, the way production runs it."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.conftest import SECRET, free_port

from fireline.clock import SystemClock
from fireline.config import Settings
from fireline.store.db import make_engine, make_session_factory
from fireline.usecases import catalog, integrations
from fireline.usecases.context import Context

FIRELINE = str(Path(sys.executable).parent / "fireline")


@dataclass(frozen=True)
class Database:
    """A migrated SQLite copy with a `checkout` service and integration keys by type."""

    path: Path
    url: str
    keys: dict[str, str]

    def scalar(self, sql: str, **params: object) -> object:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        finally:
            engine.dispose()

    def column(self, sql: str, **params: object) -> list[object]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).scalars())
        finally:
            engine.dispose()


def database(template: Path, target: Path, *types: str) -> Database:
    """Copy the migrated template to `target`; add a service and one integration per type."""
    shutil.copyfile(template, target)
    url = f"sqlite:///{target}"
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = make_engine(settings)
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    catalog.create_service(ctx, name="checkout")
    keys = {
        kind: integrations.create(
            ctx,
            type=kind,
            service="checkout",
            name=f"{kind} source",
            config={"rate_limit_per_minute": 0},
        ).key
        for kind in types
    }
    engine.dispose()
    return Database(path=target, url=url, keys=keys)


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def serve(
    db: Database,
    log: Path,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    cafile: Path | None = None,
    log_level: str = "warning",
) -> Iterator[Server]:
    """Run `fireline serve` on `db` until the block ends (then SIGINT, or SIGKILL if stuck)."""
    server = start(db, log, certfile=certfile, keyfile=keyfile, cafile=cafile, log_level=log_level)
    try:
        yield server
    finally:
        stop(server)


def start(
    db: Database,
    log: Path,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    cafile: Path | None = None,
    new_session: bool = False,
    workers: int = 1,
    log_level: str = "warning",
) -> Server:
    """Start `fireline serve`; `new_session` puts it in its own process group (to kill it all)."""
    port = free_port()
    command = [FIRELINE, "serve", "--port", str(port), "--workers", str(workers)]
    if certfile and keyfile:
        command += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    env = {
        **os.environ,
        "FIRELINE_DATABASE_URL": db.url,
        "FIRELINE_SECRET_KEY": SECRET,
        "FIRELINE_LOG_LEVEL": log_level,
        "FIRELINE_EMBEDDED_WORKER": "false",
    }
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            command, env=env, stdout=sink, stderr=sink, start_new_session=new_session
        )
    scheme = "https" if certfile else "http"
    server = Server(proc=proc, url=f"{scheme}://127.0.0.1:{port}", log=log)
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"fireline serve exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=1, context=context):
                return server
        except OSError:
            if time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(f"fireline serve not ready: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
