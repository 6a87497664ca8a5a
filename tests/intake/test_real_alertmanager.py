"""End to end with Debian's real Prometheus and Alertmanager: an always-firing rule, routed to
Fireline's Alertmanager hook with the key as a Bearer token, becomes an alert and an incident.

The binaries come from the `prometheus` and `prometheus-alertmanager` packages. Without them the
test is skipped locally, but with FIRELINE_REQUIRE_POSTGRES=1 (set by CI, which installs them)
it fails instead, like the PostgreSQL tests.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import REQUIRE_PG, free_port
from tests.intake import served

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _binaries() -> tuple[str, str]:
    if PROMETHEUS and ALERTMANAGER:
        return PROMETHEUS, ALERTMANAGER
    message = "prometheus and prometheus-alertmanager are not installed (apt-get install them)"
    if REQUIRE_PG:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def _running(command: list[str], log: Path, ready: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(ready, timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_prometheus_and_alertmanager_open_an_incident(
    tmp_path: Path, sqlite_template: Path
) -> None:
    prometheus, alertmanager = _binaries()
    db = served.database(sqlite_template, tmp_path / "am.db", "alertmanager")
    am_port, prom_port = free_port(), free_port()
    with served.serve(db, tmp_path / "serve.log") as fireline:
        (tmp_path / "alertmanager.yml").write_text(
            f"""
route:
  receiver: fireline
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1m
receivers:
  - name: fireline
    webhook_configs:
      - url: '{fireline.url}/hooks/alertmanager'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{db.keys["alertmanager"]}'
"""
        )
        (tmp_path / "rules.yml").write_text(
            """
groups:
  - name: fireline-test
    interval: 1s
    rules:
      - alert: CheckoutAlwaysFiring
        expr: vector(1) > 0
        labels: {severity: critical, team: payments}
        annotations:
          summary: "Checkout is on fire (value {{ $value }})"
          runbook_url: "https://runbooks.example/checkout"
"""
        )
        (tmp_path / "prometheus.yml").write_text(
            f"""
global:
  evaluation_interval: 1s
  external_labels: {{cluster: test}}
rule_files: ['{tmp_path / "rules.yml"}']
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]
"""
        )
        am = [
            alertmanager,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ]
        prom = [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--rules.alert.resend-delay=1s",
        ]
        am_ready = f"http://127.0.0.1:{am_port}/-/ready"
        prom_ready = f"http://127.0.0.1:{prom_port}/-/ready"
        with (
            _running(am, tmp_path / "alertmanager.log", am_ready),
            _running(prom, tmp_path / "prometheus.log", prom_ready),
        ):
            deadline = time.monotonic() + 30
            while not db.scalar("SELECT count(*) FROM alerts"):
                assert time.monotonic() < deadline, (tmp_path / "alertmanager.log").read_text()
                time.sleep(0.2)
            row = "SELECT {} FROM alerts"
            assert db.scalar(row.format("status")) == "firing"
            assert db.scalar(row.format("severity")) == "critical"
            assert db.scalar(row.format("summary")) == "Checkout is on fire (value 1)"
            assert db.scalar(row.format("source")) == "alertmanager"
            assert len(str(db.scalar(row.format("fingerprint")))) == 16
            labels = str(db.scalar(row.format("labels")))
            assert '"cluster": "test"' in labels or '"cluster":"test"' in labels
            assert db.scalar("SELECT count(*) FROM incidents") == 1
            assert db.scalar("SELECT count(*) FROM alerts") == 1  # repeats only bump the count
