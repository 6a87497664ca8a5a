"""`fireline serve --workers N`: a listening socket per process, supervised."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import free_port

from fireline.serving import PortInUse, reuseport_sockets

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def _served(port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    code = (
        "from fireline.serving import serve; "
        f"serve('tests.serving_pid_app:app', host='127.0.0.1', port={port}, "
        f"workers={workers}, log_level='warning')"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _pids(port, 1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pids(port: int, connections: int) -> list[int]:
    """Open `connections` keep-alive connections in one burst (as a client's pool does when it
    starts); then each asks which process serves it."""
    socks = [socket.socket() for _ in range(connections)]
    conns = []
    try:
        for sock in socks:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        for sock in socks:
            select.select([], [sock], [], 5)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                raise ConnectionRefusedError(f"127.0.0.1:{port}")
            sock.setblocking(True)
            sock.settimeout(5)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.sock = sock
            conns.append(conn)
        pids = []
        for conn in conns:
            conn.request("GET", "/")
            pids.append(int(conn.getresponse().read()))
        return pids
    finally:
        for sock in socks:
            sock.close()


def test_connections_are_spread_over_the_processes_and_a_dead_one_is_replaced() -> None:
    port = free_port()
    with _served(port, workers=2) as proc:
        pids = _pids(port, 24)
        assert len(set(pids)) == 2, f"one process served every connection: {set(pids)}"
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            now_serving = set(_pids(port, 24))
            if len(now_serving) == 2 and victim not in now_serving:
                break
            assert time.monotonic() < deadline, f"no replacement for {victim}: {now_serving}"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    with pytest.raises(OSError):
        _pids(port, 1)  # nothing listens any more: the processes went with their supervisor


def test_a_process_that_cannot_start_stops_the_server_instead_of_restarting_forever() -> None:
    code = (
        "from fireline.serving import serve; "
        f"serve('tests.no_such_module:app', host='127.0.0.1', port={free_port()}, "
        "workers=2, log_level='critical')"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]  # uvicorn's STARTUP_FAILURE


def test_a_port_already_in_use_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is already in use"):
            reuseport_sockets("127.0.0.1", port, 2, backlog=16)


def test_the_sockets_share_one_port() -> None:
    sockets = reuseport_sockets("127.0.0.1", 0, 3, backlog=16)
    try:
        assert len({s.getsockname()[1] for s in sockets}) == 1
        assert len({s.fileno() for s in sockets}) == 3
    finally:
        for sock in sockets:
            sock.close()
