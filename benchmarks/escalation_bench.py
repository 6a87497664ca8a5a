"""Escalation benchmark: 10,000 open incidents whose escalation timers fall due in one minute.

    .venv/bin/python benchmarks/escalation_bench.py [--incidents 10000] [--workers 1,2]
        [--spread 60] [--backends postgres,sqlite] [--pg-url postgresql+psycopg://...]

For each backend and worker count it makes a fresh migrated database with a service whose
policy pages responder A (level 0, 5 minutes) then responder B (level 1). B has a signed
webhook contact method pointing at a local HTTP receiver. It writes the incidents in bulk, each
with an active escalation that entered level 0 five minutes before its timer, and an
`escalation.step` job for level 1 due at a time spread evenly over `--spread` seconds (0: all
at the same instant), starting a few seconds after the `fireline worker` processes are up.

The workers then do the real work: claim the step, page B (a `notify.deliver` job), sign and
POST the webhook, record the attempt on the timeline. Reported per run:
- steps/s: escalation steps fired per second while the backlog lasted;
- step lag p50/p99/max: the step's timeline time minus its due time;
- send lag p50/p99/max: the webhook's arrival at the receiver minus the step's due time.
Target (issue 4): send lag p99 under 5 s at 10,000 due steps with one worker on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from fireline.clock import SystemClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.store import migrate
from fireline.store.db import make_engine, make_session_factory
from fireline.store.models import Incident, IncidentService, Job, TimelineEvent
from fireline.store.models.oncall import Escalation
from fireline.usecases import catalog, escalations, identity, notifications
from fireline.usecases.context import Actor, Context

SECRET = "bench-secret-key-0123456789abcdef"
LEAD = timedelta(seconds=8)  # workers start and go idle before the first timer is due


class _Receiver:
    """A webhook endpoint that notes when each page arrived (by Standard Webhooks id)."""

    def __init__(self) -> None:
        self.arrived: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                ref = body.split(b'"ref":"', 1)[1].split(b'"', 1)[0].decode()
                with receiver.lock:
                    receiver.arrived.setdefault(str(self.headers["webhook-id"]), (ref, at))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # A production endpoint's listen backlog (nginx: 511), not the stdlib's 5, which
            # resets connections when a worker opens its sender pool's connections at once.
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)


def _database(backend: str, pg_url: str, tmp: Path, tag: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'esc_{tag}.db'}"
    admin_url = make_url(pg_url)
    name = f"fireline_bench_esc_{tag}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def _drop(backend: str, pg_url: str, url: str) -> None:
    if backend != "postgres":
        return
    admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _prepare(
    ctx: Context, n: int, hook_url: str, *, first_due: datetime, spread: float
) -> dict[int, datetime]:
    """Set up people, policy and `n` escalating incidents; return incident id -> due time."""
    admin = identity.create_user(ctx, email="admin@bench.test", role=Role.ADMIN)
    a = identity.create_user(ctx, email="a@bench.test", role=Role.RESPONDER)
    b = identity.create_user(ctx, email="b@bench.test", role=Role.RESPONDER)
    as_b = ctx.as_actor(Actor(user_id=b.id, label=b.email, role=Role.RESPONDER))
    hook = notifications.add_method(as_b, b.id, kind="webhook", address=hook_url).method
    notifications.add_rule(as_b, b.id, contact_method_id=hook.id, delay_minutes=0)
    manager = ctx.as_actor(Actor(user_id=admin.id, label=admin.email, role=Role.ADMIN))
    service = catalog.create_service(manager, name="checkout")
    policy = escalations.create_policy(
        manager,
        escalations.PolicyInput(
            name="Primary",
            levels=[
                escalations.LevelInput([escalations.TargetInput("user", a.id)], 5),
                # Long enough that no later step falls due during the run.
                escalations.LevelInput([escalations.TargetInput("user", b.id)], 240),
            ],
        ),
    )
    escalations.set_service_policy(manager, service.id, policy.id)
    now = ctx.clock.now()
    dues = [first_due + timedelta(seconds=spread * i / n) for i in range(n)]
    with ctx.transaction() as session:
        session.execute(
            insert(Incident),
            [
                {
                    "id": i + 1,
                    "number": i + 1,
                    "title": f"Checkout outage {i + 1}",
                    "description": "",
                    "status": "triggered",
                    "impact": "high",
                    "urgency": "high",
                    "priority": "P1",
                    "priority_derived": "P1",
                    "source": "api",
                    "imported": False,
                    "search_text": "",
                    "version": 1,
                    "detected_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
        session.execute(
            insert(IncidentService),
            [{"incident_id": i + 1, "service_id": service.id} for i in range(n)],
        )
        session.execute(
            insert(Escalation),
            [
                {
                    "id": i + 1,
                    "incident_id": i + 1,
                    "policy_id": policy.id,
                    "state": "active",
                    "level": 0,
                    "round": 0,
                    "started_at": due - timedelta(minutes=5),
                    "level_entered_at": due - timedelta(minutes=5),
                    "next_due": due,
                }
                for i, due in enumerate(dues)
            ],
        )
        session.execute(
            insert(Job),
            [
                {
                    "kind": escalations.STEP_JOB,
                    "payload": {"escalation_id": i + 1, "round": 0, "level": 1},
                    "due_at": due,
                    "state": "pending",
                    "attempts": 0,
                    "max_attempts": 20,
                    "dedup_key": f"esc:{i + 1}:0:1",
                    "created_at": now,
                }
                for i, due in enumerate(dues)
            ],
        )
        if session.get_bind().dialect.name == "postgresql":
            for table in ("incidents", "escalations"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
                )
    return {i + 1: due for i, due in enumerate(dues)}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FIRELINE_DATABASE_URL": url,
        "FIRELINE_SECRET_KEY": SECRET,
        "FIRELINE_WORKER_POLL_SECONDS": "0.2",
        "FIRELINE_LOG_LEVEL": "warning",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "fireline", "worker"], env=env, stdout=out, stderr=out
        )


def bench(backend: str, workers: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = _database(backend, args.pg_url, tmp, f"{backend}_{workers}")
    settings = Settings(database_url=url, secret_key=SECRET, embedded_worker=False)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    receiver = _Receiver()
    started = time.monotonic()
    procs = [_worker(url, tmp / f"worker_{backend}_{workers}_{i}.log") for i in range(workers)]
    first_due = datetime.now(UTC) + LEAD + timedelta(seconds=args.incidents / 2000)
    dues = _prepare(ctx, args.incidents, receiver.url, first_due=first_due, spread=args.spread)
    setup = time.monotonic() - started
    if datetime.now(UTC) > first_due:
        raise SystemExit("set-up took longer than the lead time; lower --incidents")
    deadline = time.monotonic() + args.timeout
    try:
        while receiver.count() < args.incidents and time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise SystemExit(f"a worker exited with {proc.returncode}; see {tmp}")
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        receiver.server.shutdown()

    due_by_ref = {f"INC-{i}": due.timestamp() for i, due in dues.items()}
    with ctx.reading() as session:
        fired = [
            (incident_id, at)
            for incident_id, at, data in session.execute(
                select(TimelineEvent.record_id, TimelineEvent.at, TimelineEvent.data).where(
                    TimelineEvent.kind == "escalation"
                )
            )
            if data.get("action") == "level"
        ]
        dead = session.scalar(select(func.count()).select_from(Job).where(Job.state == "dead"))
    engine.dispose()
    step_lag = [at.timestamp() - dues[incident_id].timestamp() for incident_id, at in fired]
    fired_at = sorted(at.timestamp() for _, at in fired)
    arrived = list(receiver.arrived.values())
    send_lag = [at - due_by_ref[ref] for ref, at in arrived if ref in due_by_ref]
    busy = max(fired_at[-1] - min(d.timestamp() for d in dues.values()), 1e-9)
    _drop(backend, args.pg_url, url)
    return {
        "backend": backend,
        "workers": workers,
        "due": args.incidents,
        "fired": len(fired),
        "sent": len(arrived),
        "dead": dead,
        "setup_s": setup,
        "steps_per_s": len(fired) / busy,
        "step_p50": _pct(step_lag, 50),
        "step_p99": _pct(step_lag, 99),
        "step_max": max(step_lag),
        "send_p50": _pct(send_lag, 50),
        "send_p99": _pct(send_lag, 99),
        "send_max": max(send_lag),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--spread", type=float, default=60.0, help="seconds; 0 = one instant")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "FIRELINE_TEST_POSTGRES_URL",
            "postgresql+psycopg://fireline:fireline@127.0.0.1:5432/fireline",
        ),
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fireline-esc-bench-") as tmp:
        for backend in args.backends.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                row = bench(backend, workers, args, Path(tmp))
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(
        f"{args.incidents} steps due over {args.spread:g} s; lag = time after the due time, "
        "in seconds; target: send p99 < 5 s with one worker on PostgreSQL"
    )
    for row in rows:
        print(_line(row))
    by = {(r["backend"], r["workers"]): r for r in rows}
    for backend in args.backends.split(","):
        one, two = by.get((backend, 1)), by.get((backend, 2))
        if one and two:
            print(
                f"{backend}: two workers / one worker, steps/s = "
                f"{two['steps_per_s'] / one['steps_per_s']:.2f}x"
            )


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['backend']:8} workers={row['workers']} fired={row['fired']}/{row['due']} "
        f"sent={row['sent']} dead={row['dead']} steps/s={row['steps_per_s']:.0f} "
        f"step lag p50={row['step_p50']:.2f} p99={row['step_p99']:.2f} "
        f"max={row['step_max']:.2f}  send lag p50={row['send_p50']:.2f} "
        f"p99={row['send_p99']:.2f} max={row['send_max']:.2f}  (set-up {row['setup_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
