"""Alert intake benchmark: Fireline as in production vs. a bare ASGI 202 endpoint (the ceiling).

    .venv/bin/python benchmarks/ingest_bench.py [--duration 20] [--ceiling-duration 10]
        [--concurrency 32] [--workers 2] [--backends sqlite,postgres]
        [--pg-url postgresql+psycopg://...]

For each backend (the previous one's database deleted and the disks synced first) it makes a
fresh database, creates a service (grouping mode `service`, so a
storm is one incident) with a PagerDuty and an Alertmanager integration (rate limit off),
starts `fireline serve --workers N` (as the README runs it in production), and drives it from a
separate client process: raw asyncio streams, `--concurrency` keep-alive connections over
loopback, each sending its next request as soon as the previous answer arrives. In the same
run a bare ASGI app that only answers 202 runs under the same server code, settings and process
model (`fireline.serving.serve`: a socket per process): the ceiling. It keeps running through
the whole run and is measured in slices (`--ceiling-duration`) before the first scenario,
between each two and after the last, each after the disks are synced; each scenario's ratio is
to the mean of the two slices on either side of it. The machine's speed drifts: the ceiling
alone moved by up to a fifth within one run, and measured only before and after all the
backends, minutes from most scenarios, that drift went into their ratios.

Scenarios: `new` (a trigger with a fresh dedup_key per request to /v2/enqueue), `repeat`
(triggers for 1,024 already open alerts: the dedup path), `am100` (Alertmanager webhooks of
100 new alerts each; reported per alert). The first second is warm-up and not counted.
It ends with issue 3's targets for the backends it ran, and whether this run met each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WARMUP = 1.0


# ---------------------------------------------------------------- the ceiling


async def noop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Bare ASGI: read the body, answer 202 with a small JSON body."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"status":"success","message":"Event processed","dedup_key":"x"}'
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------- client (separate process)


def _pd_body(key: str, dedup: str) -> bytes:
    return (
        f'{{"routing_key":"{key}","event_action":"trigger","dedup_key":"{dedup}","payload":'
        f'{{"summary":"bench alert {dedup}","source":"bench-host","severity":"error"}}}}'
    ).encode()


def _am_body(prefix: str, n: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "BenchDown",
                "instance": f"{prefix}-{i}",
                "service": "bench",
                "severity": "critical",
            },
            "annotations": {"summary": f"bench instance {prefix}-{i} down"},
            "startsAt": "2026-11-23T00:00:39.648Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "fingerprint": f"{prefix}-{i}",
        }
        for i in range(n)
    ]
    return json.dumps(
        {
            "receiver": "fireline",
            "status": "firing",
            "version": "4",
            "groupKey": "{}:{}",
            "truncatedAlerts": 0,
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://am",
            "alerts": alerts,
        }
    ).encode()


def _request(path: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _conn(
    host: str,
    port: int,
    make: Any,
    conn_id: int,
    stop_at: float,
    start_at: float,
    lat: list[float],
    counts: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            data = make(conn_id, i)
            i += 1
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            done = time.perf_counter()
            if now >= start_at:
                lat.append(done - now)
                counts["ok" if 200 <= status < 300 else "err"] += 1
    finally:
        writer.close()


async def _client(args: argparse.Namespace) -> dict[str, Any]:
    key = args.key
    if args.scenario == "am100":
        path = "/hooks/alertmanager"
        extra = f"Authorization: Bearer {key}\r\n"

        def make(c: int, i: int) -> bytes:
            return _request(path, _am_body(f"{args.tag}-{c}-{i}", 100), extra)
    elif args.scenario == "repeat":

        def make(c: int, i: int) -> bytes:
            return _request("/v2/enqueue", _pd_body(key, f"rep-{(c * 131 + i) % 1024}"))
    else:

        def make(c: int, i: int) -> bytes:
            return _request("/v2/enqueue", _pd_body(key, f"{args.tag}-{c}-{i}"))

    if args.scenario == "repeat" and args.prime:
        reader, writer = await asyncio.open_connection(args.host, args.port)
        for n in range(1024):
            writer.write(_request("/v2/enqueue", _pd_body(key, f"rep-{n}")))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(
                    ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")
                ).split(b":")[1]
            )
            await reader.readexactly(length)
        writer.close()
    lat: list[float] = []
    counts = {"ok": 0, "err": 0}
    start = time.perf_counter()
    start_at = start + WARMUP
    stop_at = start_at + args.duration
    await asyncio.gather(
        *(
            _conn(args.host, args.port, make, c, stop_at, start_at, lat, counts)
            for c in range(args.concurrency)
        )
    )
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "ok": counts["ok"],
        "errors": counts["err"],
        "rps": n / args.duration,
        "p50_ms": lat[n // 2] * 1000 if n else 0.0,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
    }


def client_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=["new", "repeat", "am100"], required=True)
    parser.add_argument("--key", default="x" * 32)
    parser.add_argument("--tag", default="b")
    parser.add_argument("--prime", action="store_true")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_client(args))))


def run_client(
    port: int,
    scenario: str,
    *,
    key: str,
    tag: str,
    duration: float,
    concurrency: int,
    prime: bool = False,
) -> dict[str, Any]:
    cmd = [
        PY,
        __file__,
        "client",
        "--port",
        str(port),
        "--scenario",
        scenario,
        "--key",
        key,
        "--tag",
        tag,
        "--duration",
        str(duration),
        "--concurrency",
        str(concurrency),
    ]
    if prime:
        cmd.append("--prime")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str = "/healthz", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except Exception as exc:
            if getattr(exc, "code", None):
                return
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} not ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_fireline(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    fireline = str(Path(PY).parent / "fireline")
    proc = subprocess.Popen(
        [fireline, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_ready(port)
    return proc


def start_noop(port: int, workers: int) -> subprocess.Popen[bytes]:
    """The ceiling: the no-op app under the same server code as `fireline serve`
    (`fireline.serving.serve`: the same uvicorn settings and process model)."""
    code = (
        "from fireline.serving import serve; "
        f"serve('ingest_bench:noop_app', host='127.0.0.1', port={port}, workers={workers}, "
        "log_level='warning')"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT / "src")]),
    }
    proc = subprocess.Popen(
        [PY, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_ready(port, "/")
    return proc


# ---------------------------------------------------------------- setup and counting


def prepare_db(url: str) -> tuple[str, str]:
    """Migrate, create the bench service and integrations; return (pd key, am key)."""
    sys.path.insert(0, str(ROOT / "src"))
    from fireline.clock import SystemClock
    from fireline.config import Settings
    from fireline.store import migrate
    from fireline.store.db import make_engine, make_session_factory
    from fireline.usecases import alert_settings, catalog, integrations
    from fireline.usecases.context import Context

    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789")
    engine = make_engine(settings)
    migrate.upgrade(engine)
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    catalog.create_service(ctx, name="bench")
    alert_settings.put(ctx, "bench", {"grouping": {"mode": "service"}})
    pd = integrations.create(
        ctx, type="pagerduty", service="bench", name="pd", config={"rate_limit_per_minute": 0}
    )
    am = integrations.create(
        ctx, type="alertmanager", service="bench", name="am", config={"rate_limit_per_minute": 0}
    )
    engine.dispose()
    return pd.key, am.key


def scratch_database(postgres_url: str | None, name: str) -> str:
    """For the in-process benchmarks: a SQLite file in a new temporary directory, or
    `postgres_url` with its public schema dropped and created again."""
    if not postgres_url:
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix=f'fireline-{name}-')) / f'{name}.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return postgres_url


def count(url: str, like: str) -> tuple[int, int]:
    """(alert rows, sum of occurrence counts) whose dedup key starts with `like`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows, total = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(occurrence_count), 0) FROM alerts "
                "WHERE dedup_key LIKE :p"
            ),
            {"p": like + "%"},
        ).one()
    engine.dispose()
    return int(rows), int(total)


def bench_backend(
    name: str, url: str, args: argparse.Namespace, ceiling: Ceiling
) -> list[dict[str, Any]]:
    """The three scenarios against one backend, a slice of the ceiling before each (`main`
    adds their ratios to the ceiling)."""
    pd_key, am_key = prepare_db(url)
    env = {
        **os.environ,
        "FIRELINE_DATABASE_URL": url,
        "FIRELINE_LOG_LEVEL": "warning",
        "FIRELINE_SECRET_KEY": "bench-secret-key-0123456789",
    }
    port = free_port()
    proc = start_fireline(env, port, args.workers)
    rows: list[dict[str, Any]] = []

    def scenario(
        title: str, kind: str, key: str, tag: str, *, prime: bool = False
    ) -> dict[str, Any]:
        """A slice of the ceiling, then the scenario; its row (its `stored` still to fill)."""
        before = ceiling.measure()
        result = run_client(
            port,
            kind,
            key=key,
            tag=tag,
            duration=args.duration,
            concurrency=args.concurrency,
            prime=prime,
        )
        row = {"backend": name, "scenario": title, **result, "unit": "ev/s", "slice": before}
        rows.append(row)
        return row

    try:
        new = scenario("new alerts /v2/enqueue", "new", pd_key, "new")
        new["stored"], _ = count(url, "new-")
        repeats = scenario("repeats (dedup)", "repeat", pd_key, "rep", prime=True)
        _, occurrences = count(url, "rep-")
        repeats["stored"] = occurrences - 1024
        am = scenario("AM batches of 100", "am100", am_key, "am")
        am["stored"], _ = count(url, "am-")
        am.update(unit="alerts/s", alerts_per_s=am["rps"] * 100)
    finally:
        stop(proc)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if "Traceback" in err:
            print(err[-3000:], file=sys.stderr)
    return rows


class Ceiling:
    """The no-op app, started once and kept running; measured in slices with the scenarios'
    client settings (the Fireline server is idle meanwhile, as this one is during scenarios)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = free_port()
        self.proc = start_noop(self.port, args.workers)
        self.slices: list[dict[str, Any]] = []

    def measure(self) -> int:
        """Sync the disks (a scenario's writes back so they slow neither this slice nor the
        next scenario), measure a slice now; return its index."""
        os.sync()
        self.slices.append(
            run_client(
                self.port,
                "new",
                key="x" * 32,
                tag="noop",
                duration=self.args.ceiling_duration,
                concurrency=self.args.concurrency,
            )
        )
        return len(self.slices) - 1

    def around(self, index: int) -> float:
        """The mean req/s of slice `index` and the next: the ceiling around one scenario."""
        return float(self.slices[index]["rps"] + self.slices[index + 1]["rps"]) / 2

    def close(self) -> None:
        stop(self.proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--ceiling-duration", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "FIRELINE_BENCH_POSTGRES_URL",
            "postgresql+psycopg://fireline:fireline@127.0.0.1:5432/fireline",
        ),
    )
    args = parser.parse_args()

    ceiling = Ceiling(args)
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="fireline-bench-"))
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                from sqlalchemy import create_engine, text
                from sqlalchemy.engine import make_url

                admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
                db = f"fireline_bench_{os.getpid()}"
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{db}"'))
                url = make_url(args.pg_url).set(database=db).render_as_string(hide_password=False)
            try:
                rows += bench_backend(backend, url, args, ceiling)
            finally:
                if backend == "sqlite":
                    for leftover in tmp.glob("bench.db*"):
                        leftover.unlink()
                else:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                    admin.dispose()
                # The run leaves hundreds of MB of dirty pages (SQLite does not sync every
                # commit); written back while the next backend runs, they slowed PostgreSQL's
                # commit syncs (new alerts: 5,700/s right after SQLite, 7,100/s on its own).
                os.sync()
        ceiling.measure()  # after the last scenario
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        ceiling.close()
    slices = ceiling.slices
    rates = [c["rps"] for c in slices]
    results = [
        {
            "backend": "-",
            "scenario": "ceiling: bare ASGI 202",
            "rps": sum(rates) / len(rates),
            **{key: sum(c[key] for c in slices) / len(slices) for key in ("p50_ms", "p99_ms")},
            **{key: sum(c[key] for c in slices) for key in ("requests", "ok", "errors")},
            "stored": None,
            "ratio": 1.0,
            "unit": "req/s",
            "slices": rates,
        }
    ]
    for row in rows:
        row["ceiling"] = ceiling.around(row["slice"])
        row["ratio"] = row["rps"] / row["ceiling"]
    results += rows

    print(
        f"\n{args.concurrency} keep-alive clients, {args.duration:.0f} s per scenario, "
        f"fireline serve --workers {args.workers} (a socket per process), loopback\n"
        f"ceiling: {len(rates)} slices of {args.ceiling_duration:.0f} s, one before each "
        f"scenario and one after the last: {min(rates):.0f}-{max(rates):.0f} req/s "
        f"({', '.join(f'{r:.0f}' for r in rates)}); each ratio is to the mean of the two "
        "slices around its scenario (column 'ceiling')\n"
    )
    header = (
        f"{'backend':8} {'scenario':26} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'2xx':>8} {'stored':>8} {'ceiling':>8} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        events = r.get("alerts_per_s", r["rps"])
        stored = "-" if r["stored"] is None else str(r["stored"])
        around = f"{r['ceiling']:.0f}" if "ceiling" in r else "-"
        print(
            f"{r['backend']:8} {r['scenario']:26} {r['rps']:8.0f} {events:9.0f} "
            f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['errors']:6d} {r['ok']:8d} {stored:>8} "
            f"{around:>8} {r['ratio']:6.1%}"
        )
    print(
        "\nratio = requests/s relative to the ceiling around the scenario; 'stored' = events "
        "found in the database "
        "(AM: alerts; repeats: occurrence-count increments)."
    )
    print_targets(rows)
    print(json.dumps(results), file=sys.stderr)


# (backend, scenario, what is compared, at least / below) from issue 3
TARGETS = [
    ("sqlite", "new alerts /v2/enqueue", "ratio", 0.25),
    ("sqlite", "repeats (dedup)", "ratio", 0.35),
    ("postgres", "new alerts /v2/enqueue", "ratio", 0.15),
    ("sqlite", "AM batches of 100", "alerts_per_s", 20_000),
]


def print_targets(rows: list[dict[str, Any]]) -> None:
    """Each target of the measured backends, its figure, and whether this run met it."""
    found = {(r["backend"], r["scenario"]): r for r in rows}
    print("\ntargets:")
    for backend, scenario, key, least in TARGETS:
        row = found.get((backend, scenario))
        if row is None:
            continue
        value = row[key]
        shown = (
            f"{value:.1%} (>= {least:.0%})" if key == "ratio" else f"{value:,.0f} (>= {least:,})"
        )
        print(f"  {backend:8} {scenario:26} {shown:24} {'met' if value >= least else 'NOT met'}")
    new = found.get(("sqlite", "new alerts /v2/enqueue"))
    if new is not None:
        p99 = new["p99_ms"]
        verdict = "met" if p99 < 50 else "NOT met"
        print(f"  {'sqlite':8} {'new alerts p99':26} {f'{p99:.1f} ms (< 50 ms)':24} {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main(sys.argv[2:])
    else:
        main()
