"""CPU per request of the two halves of the intake, measured apart, single-threaded.

    .venv/bin/python benchmarks/intake_stages.py [new|repeat|am100] [--requests 4000]
        [--batch 16] [--alternate] [--profile] [--sort tottime] [--top 40]
        (FIRELINE_BENCH_POSTGRES_URL=postgresql+psycopg://... for PostgreSQL; its schema is
        dropped)

First the event-loop half: each request goes through the intake layer (parse, key lookup,
routing) with the group committer replaced by a list, so nothing is written. Then the writer
half: the captured submissions are written in batches of `--batch` on one kept connection,
each in its own transaction, the way the group committer's writers do (`--alternate`: on two
connections in turn, as two server processes write under load). Both report wall time and
this thread's CPU time (`time.thread_time`), which stays meaningful when other work loads the
machine, unlike the wall-clock rates of `ingest_bench.py`. `--profile` adds a cProfile of each
half on CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_bench


def _report(label: str, wall: float, cpu: float, count: int, unit: str) -> None:
    print(f"{label}: {wall / count * 1e6:.1f} us/{unit} wall, {cpu / count * 1e6:.1f} us cpu")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["new", "repeat", "am100"])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--alternate", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    os.environ["FIRELINE_EMBEDDED_WORKER"] = "false"
    url = ingest_bench.scratch_database(os.environ.get("FIRELINE_BENCH_POSTGRES_URL"), "stages")
    pd_key, am_key = ingest_bench.prepare_db(url)
    from fireline.app import create_app
    from fireline.config import Settings
    from fireline.usecases import alerts
    from fireline.usecases.submissions import Submission

    app = create_app(
        Settings(database_url=url, secret_key="bench-secret-key-0123456789"), start_worker=False
    )
    inner = getattr(app, "fastapi", app)
    inner.middleware_stack = inner.build_middleware_stack()
    intake = inner.state.intake
    captured: list[Submission] = []

    async def capture(sub: Submission) -> None:
        captured.append(sub)

    intake.committer.submit = capture
    n = args.requests
    headers: list[tuple[bytes, bytes]] = []
    if args.scenario == "am100":
        path = "/hooks/alertmanager"
        headers = [(b"authorization", f"Bearer {am_key}".encode())]
        bodies = [ingest_bench._am_body(f"am-{i}", 100) for i in range(n)]
    else:
        path = "/v2/enqueue"
        keys = [f"new-{i}" if args.scenario == "new" else f"rep-{i % 1024}" for i in range(n)]
        bodies = [ingest_bench._pd_body(pd_key, key) for key in keys]

    async def one(body: bytes) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
        await intake.serve(scope, receive, send)

    async def loop_half() -> None:
        await one(bodies[0])  # warm the key cache
        captured.clear()
        prof = cProfile.Profile(time.thread_time) if args.profile else None
        wall, cpu = time.perf_counter(), time.thread_time()
        if prof:
            prof.enable()
        for body in bodies:
            await one(body)
        if prof:
            prof.disable()
        _report("event loop", time.perf_counter() - wall, time.thread_time() - cpu, n, "request")
        if prof:
            pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)

    asyncio.run(loop_half())
    if args.scenario == "repeat":
        alerts.ingest(intake.ctx, captured[:1024])  # open the alerts that are then repeated
    prof = cProfile.Profile(time.thread_time) if args.profile else None
    wall, cpu = time.perf_counter(), time.thread_time()
    if prof:
        prof.enable()
    committer = intake.committer
    # Kept across batches, as the committer's writers do; two (alternating) with --alternate,
    # as two server processes write under load (each batch then finds its cache stale).
    conns = [committer._engine.connect() for _ in range(2 if args.alternate else 1)]
    for number, start in enumerate(range(0, len(captured), args.batch)):
        conn = conns[number % len(conns)]
        committer._apply(conn, conn.begin(), captured[start : start + args.batch])
    if prof:
        prof.disable()
    count = sum(len(sub.alerts) for sub in captured)
    took, used = time.perf_counter() - wall, time.thread_time() - cpu
    _report(f"writer, batches of {args.batch}", took, used, count, "alert")
    if prof:
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
