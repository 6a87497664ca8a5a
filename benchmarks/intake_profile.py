"""In-process profile of the alert intake: the ASGI app driven directly, no sockets.

    .venv/bin/python benchmarks/intake_profile.py [new|repeat|am100] [--requests 4000]
        [--concurrency 32] [--profile] [--db sqlite|postgres]

Builds a fresh database like `ingest_bench.py` (one service, grouping mode `service`), then sends
`--requests` requests from `--concurrency` coroutines to the app's ASGI callable and prints the
rate; with `--profile` it prints the top of a cProfile of the whole run (event loop and the
group committer's writer thread both). Use it to see where the time of one request goes.
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


async def _drive(
    app: Any, bodies: list[tuple[str, bytes, list[tuple[bytes, bytes]]]], conc: int
) -> int:
    errors = 0
    it = iter(bodies)

    async def one(path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)
        return status

    async def worker() -> None:
        nonlocal errors
        for path, body, headers in it:
            status = await one(path, body, headers)
            if not 200 <= status < 300:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(conc)))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["new", "repeat", "am100"])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument(
        "--direct", action="store_true", help="after warm-up, call the intake layer directly"
    )
    args = parser.parse_args()
    os.environ["FIRELINE_EMBEDDED_WORKER"] = "false"
    postgres = os.environ.get(
        "FIRELINE_BENCH_POSTGRES_URL",
        "postgresql+psycopg://fireline:fireline@127.0.0.1:5432/fireline",
    )
    url = ingest_bench.scratch_database(None if args.db == "sqlite" else postgres, "prof")
    pd_key, am_key = ingest_bench.prepare_db(url)
    from fireline.app import create_app
    from fireline.config import Settings

    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789")
    app = create_app(settings, start_worker=False)
    bodies: list[tuple[str, bytes, list[tuple[bytes, bytes]]]] = []
    n = args.requests
    if args.scenario == "new":
        bodies = [("/v2/enqueue", ingest_bench._pd_body(pd_key, f"new-{i}"), []) for i in range(n)]
    elif args.scenario == "repeat":
        bodies = [
            ("/v2/enqueue", ingest_bench._pd_body(pd_key, f"rep-{i % 1024}"), []) for i in range(n)
        ]
    else:
        auth = [(b"authorization", f"Bearer {am_key}".encode())]
        bodies = [
            ("/hooks/alertmanager", ingest_bench._am_body(f"am-{i}", 100), auth) for i in range(n)
        ]

    async def run() -> None:
        # warm up: build the middleware stack, caches, the writer thread
        warm = bodies[:1024] if args.scenario == "repeat" else bodies[:50]
        await _drive(app, warm, 1 if args.scenario == "repeat" else args.concurrency)
        rest = bodies[len(warm) :] if args.scenario != "repeat" else bodies
        target = app.state.intake if args.direct else app
        prof = cProfile.Profile() if args.profile else None
        writer = cProfile.Profile() if args.profile else None
        if prof and writer:
            from fireline.ingest.committer import GroupCommitter

            original = GroupCommitter._write

            def profiled(self: Any, subs: Any) -> Any:
                writer.enable()
                try:
                    return original(self, subs)
                finally:
                    writer.disable()

            GroupCommitter._write = profiled  # type: ignore[method-assign]
            prof.enable()
        start = time.perf_counter()
        errors = await _drive(target, rest, args.concurrency)
        took = time.perf_counter() - start
        if prof:
            prof.disable()
        unit = 100 if args.scenario == "am100" else 1
        print(
            f"{args.scenario}: {len(rest)} requests in {took:.2f}s = {len(rest) / took:,.0f} req/s"
            f" ({len(rest) * unit / took:,.0f} alerts/s), errors {errors}"
        )
        if prof and writer:
            print("==== event loop thread")
            pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
            print("==== writer thread")
            pstats.Stats(writer).sort_stats(args.sort).print_stats(args.top)

    asyncio.run(run())


if __name__ == "__main__":
    main()
