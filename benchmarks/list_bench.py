"""Incident list benchmark: the list API and the list page with 100,000 incidents.

    .venv/bin/python benchmarks/list_bench.py [--backend sqlite|postgres|both]
        [--incidents 100000] [--requests 200] [--reseed] [--pg-url postgresql+psycopg://...]

For each backend it makes sure a database holds `--incidents` incidents, seeding it with the
shipped `fireline seed` command when it has fewer (kept between runs; `--reseed` starts
over): a SQLite file under benchmarks/results/ and the PostgreSQL database `fireline_bench`.
It creates a benchmark user with a password and an API token, starts Fireline as production
runs it (`fireline serve --no-worker` on a free loopback port: uvicorn, one process), logs in
through the web form for a session cookie, and then times `--requests` sequential requests
per case over one keep-alive connection (after a few warm-up requests):

    api  first page            GET /api/v1/incidents
    api  filter                GET /api/v1/incidents?status=resolved&priority=P2
    api  filter service        GET /api/v1/incidents?service=checkout-api&status=closed
    api  search common         GET /api/v1/incidents?q=latency
    api  search rare           GET /api/v1/incidents?q=firmware
    page ...                   GET /incidents with the same cases (the page lists open
                               incidents by default and shows 100 rows)

It prints p50, p95 and max latency (ms) per case and PASS/FAIL for the API target
(p95 < 50 ms), and writes the numbers to benchmarks/results/list_bench.json.
Exit status 1 when an API case misses the target.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from fireline.clock import SystemClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.store import migrate
from fireline.store.db import make_engine, make_session_factory
from fireline.store.models import Incident, User
from fireline.usecases import identity
from fireline.usecases.context import Context

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PY = sys.executable
SECRET = "list-bench-secret-key-0123456789"
EMAIL = "list-bench@example.com"
PASSWORD = "list-bench-password"  # a throwaway local account
TARGET_MS = 50.0
WARMUP = 10
DEFAULT_PG = "postgresql+psycopg://fireline:fireline@127.0.0.1:5432/fireline"

CASES: tuple[tuple[str, str, str], ...] = (
    ("api", "first page", "/api/v1/incidents"),
    ("api", "filter", "/api/v1/incidents?status=resolved&priority=P2"),
    ("api", "filter service", "/api/v1/incidents?service=checkout-api&status=closed"),
    ("api", "search common", "/api/v1/incidents?q=latency"),
    ("api", "search rare", "/api/v1/incidents?q=firmware"),
    ("page", "first page", "/incidents"),
    ("page", "filter", "/incidents?status=resolved&priority=P2"),
    ("page", "filter service", "/incidents?status=closed&service=checkout-api"),
    ("page", "search common", "/incidents?status=all&q=latency"),
    ("page", "search rare", "/incidents?status=all&q=firmware"),
)


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    kind: str
    case: str
    path: str
    p50: float
    p95: float
    max: float
    items: int | None

    @property
    def verdict(self) -> str:
        if self.kind != "api":
            return "-"
        return "PASS" if self.p95 < TARGET_MS else "FAIL"


# ---------------------------------------------------------------- databases


def sqlite_url(reseed: bool) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "list_bench.db"
    if reseed:
        for suffix in ("", "-wal", "-shm", ".secret"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def postgres_url(admin_url: str, reseed: bool) -> str:
    admin = make_url(admin_url)
    name = "fireline_bench"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if reseed:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(
        FIRELINE_DATABASE_URL=url,
        FIRELINE_SECRET_KEY=SECRET,
        FIRELINE_EMBEDDED_WORKER="false",
        FIRELINE_LOG_LEVEL="warning",
    )
    return env


def ensure_seeded(url: str, wanted: int, workdir: Path) -> int:
    """Top the database up to `wanted` incidents with `fireline seed`; return the count."""
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        have = int(conn.scalar(select(func.count()).select_from(Incident)) or 0)
    engine.dispose()
    if have < wanted:
        print(f"  seeding {wanted - have} incidents (have {have})", flush=True)
        cmd = [PY, "-m", "fireline", "seed", "--incidents", str(wanted - have)]
        subprocess.run(cmd, env=environment(url), cwd=workdir, check=True)
        have = wanted
    else:
        print(f"  reusing {have} incidents (--reseed to start over)", flush=True)
    return have


def bench_user(url: str) -> str:
    """Create (or reset) the benchmark user; return a new API token."""
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = make_engine(settings)
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    with ctx.reading() as session:
        user = session.scalar(select(User).where(User.email == EMAIL))
    if user is None:
        user = identity.create_user(
            ctx, email=EMAIL, name="List Bench", role=Role.RESPONDER, password=PASSWORD
        )
    else:
        user = identity.update_user(ctx, user.id, {"password": PASSWORD, "is_active": True})
    issued = identity.create_token(ctx.as_actor(identity.actor_for(user)), name="list-bench")
    engine.dispose()
    return issued.secret


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, workdir: Path) -> Iterator[str]:
    """`fireline serve --no-worker` on a free loopback port, stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "fireline", "serve", "--port", str(port), "--no-worker"],
        env=environment(url),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"fireline serve exited: {stderr[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fireline serve did not become ready")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def web_login(client: httpx.Client) -> str | None:
    """Sign in through the login form; return None, or why the page cases are skipped."""
    if importlib.util.find_spec("fireline.web") is None:
        return "the web UI (fireline.web) is not installed"
    form = client.get("/login")
    if form.status_code == 404:
        return "this build serves no /login page"
    token = client.cookies.get("fireline_login_csrf", path="/login")
    response = client.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token or "", "next": "/"},
        follow_redirects=False,
    )
    if response.status_code != 303 or "fireline_session" not in client.cookies:
        return f"web login failed with HTTP {response.status_code}"
    return None


# ---------------------------------------------------------------- timing


def time_case(client: httpx.Client, path: str, count: int, headers: dict[str, str]) -> list[float]:
    for _ in range(WARMUP):
        check(client.get(path, headers=headers), path)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        _ = response.content
        samples.append((time.perf_counter() - started) * 1000)
        check(response, path)
    return samples


def check(response: httpx.Response, path: str) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.text[:300]}")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_backend(name: str, url: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    print(f"[{name}] preparing the database", flush=True)
    ensure_seeded(url, args.incidents, workdir)
    token = bench_user(url)
    api_headers = {"Authorization": f"Bearer {token}"}
    results: list[Result] = []
    with server(url, workdir) as base, httpx.Client(base_url=base, timeout=30) as client:
        skipped = web_login(client)
        if skipped:
            print(f"[{name}] page cases skipped: {skipped}", flush=True)
        for kind, case, path in CASES:
            if kind == "page" and skipped:
                continue
            headers = api_headers if kind == "api" else {}
            samples = time_case(client, path, args.requests, headers)
            items = None
            if kind == "api":
                items = len(client.get(path, headers=headers).json()["items"])
            results.append(
                Result(
                    backend=name,
                    kind=kind,
                    case=case,
                    path=path,
                    p50=statistics.median(samples),
                    p95=percentile(samples, 0.95),
                    max=max(samples),
                    items=items,
                )
            )
            print(f"[{name}] {kind} {case}: p95 {results[-1].p95:.1f} ms", flush=True)
    return results


def table(results: list[Result], incidents: int, requests: int) -> str:
    lines = [
        f"incident list, {incidents} incidents, {requests} sequential requests per case "
        f"(target: API p95 < {TARGET_MS:.0f} ms)",
        f"{'backend':<9} {'case':<21} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'rows':>5}  result",
    ]
    for r in results:
        rows = "" if r.items is None else str(r.items)
        lines.append(
            f"{r.backend:<9} {r.kind + ' ' + r.case:<21} {r.p50:7.1f} {r.p95:7.1f} {r.max:7.1f} "
            f"{rows:>5}  {r.verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true", help="drop the data and seed again")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FIRELINE_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="a role allowed to create databases (fireline_bench is created)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="list-bench-"))  # no stray fireline.toml applies
    results: list[Result] = []
    try:
        for name in backends:
            url = (
                sqlite_url(args.reseed)
                if name == "sqlite"
                else postgres_url(args.pg_url, args.reseed)
            )
            results += run_backend(name, url, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = table(results, args.incidents, args.requests)
    print()
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "list_bench.json").write_text(
        json.dumps([asdict(r) | {"verdict": r.verdict} for r in results], indent=2) + "\n"
    )
    sys.exit(1 if any(r.verdict == "FAIL" for r in results) else 0)


if __name__ == "__main__":
    main()
