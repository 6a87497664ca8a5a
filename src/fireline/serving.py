"""Run an ASGI app under uvicorn: one process, or several with a listening socket each.

uvicorn's own `workers=N` shares one listening socket between its processes. Whichever
process wakes first accepts every connection waiting in the queue, so a burst of keep-alive
clients (Alertmanager's pool, a load balancer, the intake benchmark's 32 connections) can all
land on one process while the others idle: measured here, one of two processes served all
32 connections and used a whole core while the other used none. With a socket per process,
bound with SO_REUSEPORT, the kernel spreads new connections over the processes by a hash of
their addresses, so every process gets its share.

`serve` does that on platforms with SO_REUSEPORT (Linux, the BSDs, macOS) whenever more than
one process is asked for (elsewhere it is `uvicorn.run`; one process is one uvicorn server).
The supervisor is deliberately small: it starts one process per socket, restarts a process that
dies (but stops everything if a process fails while starting, as the app or TLS files are then
broken), and on SIGINT/SIGTERM asks every process to shut down gracefully.

Once a process has started (the app imported, its startup done), it moves every object it
holds out of the cyclic garbage collector's sight (`gc.freeze`): the modules, ORM mappers and
API schemas are most of a process's objects and live as long as it does, yet each full
collection walked them all again. Measured with `benchmarks/ingest_bench.py`: Alertmanager
batches of 100 went from ~21,000 to ~28,000 alerts/s and their p99 latency from ~280 to
~140 ms; the plain requests did not change.

Before binding, `serve` checks that nothing else listens on the port (a plain bind without
SO_REUSEPORT), so an old instance still running is an error rather than a silent partner
sharing the port with the new one.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("fireline.serving")

RESTART_PAUSE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30.0


class PortInUse(OSError):
    """Something already listens on the address `serve` was asked to use."""


def serve(
    target: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    factory: bool = False,
    log_level: str = "info",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    """Serve `target` ("module:attribute") on host:port with `workers` processes."""
    options: dict[str, Any] = {
        "factory": factory,
        "host": host,
        "port": port,
        "log_level": log_level,
        # Below "info" no access line is ever written; uvicorn would still format each one.
        "access_log": log_level.lower() in ("trace", "debug", "info"),
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "proxy_headers": False,
    }
    if workers <= 1:
        server = _Server(uvicorn.Config(target, **options))
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            raise SystemExit(STARTUP_FAILURE)
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(target, workers=workers, **options)
        return
    config = uvicorn.Config(target, workers=workers, **options)
    sockets = reuseport_sockets(host, port, workers, backlog=config.backlog)
    code = Supervisor(config, sockets).run()
    if code:
        raise SystemExit(code)


def reuseport_sockets(host: str, port: int, count: int, *, backlog: int) -> list[socket.socket]:
    """`count` listening sockets on one address, each with SO_REUSEPORT (port 0: any port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:
        _check_free(family, host, port)
    sockets: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        port = sock.getsockname()[1]  # port 0: the others join the first one's port
        sock.listen(backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def _check_free(family: socket.AddressFamily, host: str, port: int) -> None:
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT only
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"{host}:{port} is already in use") from None
        raise
    finally:
        probe.close()


class _Server(uvicorn.Server):
    """uvicorn's server, freezing the heap once started (see the module's notes)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            gc.collect()
            gc.freeze()


def _child(config: uvicorn.Config, sock: socket.socket) -> None:
    """Entry point of one server process (spawned: it imports the app itself).

    Exits with uvicorn's STARTUP_FAILURE code when the server never started (the app failed
    to import or start, the TLS files are unreadable), so the supervisor stops instead of
    restarting it forever."""
    config.configure_logging()
    server = _Server(config)
    try:
        server.run(sockets=[sock])
    except Exception:
        if server.started:
            raise
        log.exception("server process failed to start")
        sys.exit(STARTUP_FAILURE)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class Supervisor:
    """Keeps one server process per socket running until SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.stopping = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")

    def _start(self, sock: socket.socket) -> BaseProcess:
        process = self._spawn.Process(target=_child, args=(self.config, sock), daemon=False)
        process.start()
        return process

    def run(self) -> int:
        """Supervise until asked to stop; return the exit code for the parent process."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        processes = [self._start(sock) for sock in self.sockets]
        code = 0
        while not self.stopping.wait(RESTART_PAUSE_SECONDS):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("server process %s failed to start; stopping", process.pid)
                    code = STARTUP_FAILURE
                    self.stopping.set()
                    break
                log.warning(
                    "server process %s exited with %s; starting a new one",
                    process.pid,
                    process.exitcode,
                )
                processes[index] = self._start(self.sockets[index])
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        for process in processes:
            process.join(STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()
        return code
