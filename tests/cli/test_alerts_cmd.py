"""`fireline integration|alert|silence|maintenance` against a live server."""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.cli.test_client import _env
from tests.conftest import LiveServer
from typer.testing import CliRunner, Result

from fireline.cli.main import app
from fireline.domain.roles import Role
from fireline.usecases import catalog

runner = CliRunner()


def _ok(env: dict[str, str], *args: str) -> Result:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def _json(env: dict[str, str], *args: str) -> Any:
    return json.loads(_ok(env, *args, "--json").stdout)


def _am(server: LiveServer, key: str, fingerprint: str, **labels: str) -> int:
    alert = {
        "status": "firing",
        "labels": {"alertname": "DiskFull", **labels},
        "annotations": {"summary": f"disk full {fingerprint}"},
        "fingerprint": fingerprint,
    }
    body = {"version": "4", "status": "firing", "alerts": [alert]}
    return httpx.post(f"{server.url}/hooks/alertmanager/{key}", json=body).status_code


def test_integration_key_is_printed_once_rotated_and_revoked(live_server: LiveServer) -> None:
    catalog.create_service(live_server.ctx, name="checkout")
    env = _env(live_server, Role.ADMIN)
    created = _ok(
        env, "integration", "create", "prom", "--type", "alertmanager", "--service", "checkout"
    )
    key = next(line[5:] for line in created.stdout.splitlines() if line.startswith("key: "))
    assert len(key) == 32 and "shown only now" in created.stderr
    [listed] = _json(env, "integration", "list")
    assert listed["key_prefix"] == key[:6] and key not in json.dumps(listed)
    assert _am(live_server, key, "fp1") == 202

    rotated = _json(env, "integration", "rotate", str(listed["id"]))
    assert _am(live_server, key, "fp2") == 401
    assert _am(live_server, rotated["key"], "fp2") == 202
    _ok(env, "integration", "delete", str(listed["id"]))
    assert _am(live_server, rotated["key"], "fp3") == 401
    assert _json(env, "integration", "list") == []

    refused = runner.invoke(
        app, ["integration", "create", "x", "--type", "nagios", "--service", "checkout"], env=env
    )
    assert refused.exit_code == 2 and "--type 'nagios'" in refused.stderr


def test_alerts_are_listed_shown_and_marked_as_noise(live_server: LiveServer) -> None:
    catalog.create_service(live_server.ctx, name="checkout")
    env = _env(live_server, Role.ADMIN)
    key = _json(env, "integration", "create", "prom", "--type", "alertmanager", "--service", "1")[
        "key"
    ]
    _am(live_server, key, "fp-a", team="storage")
    _am(live_server, key, "fp-b")
    table = _ok(env, "alert", "list").stdout
    assert "disk full fp-a" in table and "disk full fp-b" in table
    [found] = _json(env, "alert", "list", "--search", "fp-a")["items"]
    shown = _ok(env, "alert", "show", str(found["id"]), "--raw").stdout
    assert "storage" in shown and '"fingerprint":"fp-a"' in shown
    _ok(env, "alert", "noise", str(found["id"]), "--reason", "not actionable")
    [noisy] = _json(env, "alert", "list", "--noise")["items"]
    assert noisy["id"] == found["id"] and noisy["noise"] is True
    incident = str(found["incident_id"])
    assert (
        "2 alert(s)"
        in _ok(env, "alert", "noise-incident", incident, "--reason", "all noise").stdout
    )
    [row] = _json(env, "alert", "noise-report")
    assert (row["rule"], row["alerts"], row["noise"]) == ("DiskFull", 2, 2)
    missing = runner.invoke(app, ["alert", "show", "99999"], env=env)
    assert missing.exit_code == 1 and "no alert 99999" in missing.stderr


def test_silence_and_maintenance_commands_suppress_alerts(live_server: LiveServer) -> None:
    catalog.create_service(live_server.ctx, name="checkout")
    env = _env(live_server, Role.ADMIN)
    key = _json(env, "integration", "create", "p", "--type", "alertmanager", "--service", "1")[
        "key"
    ]
    silence = _json(
        env, "silence", "create", "--match", "env=~stag.*", "--reason", "flaky", "--hours", "1"
    )
    assert silence["matchers"] == {"env": "~stag.*"}
    _am(live_server, key, "s1", env="staging")
    [alert] = _json(env, "alert", "list")["items"]
    assert alert["suppressed"] is True
    _ok(env, "silence", "expire", str(silence["id"]))
    assert _json(env, "silence", "list", "--active") == []
    bad = runner.invoke(app, ["silence", "create", "--match", "env", "--reason", "x"], env=env)
    assert bad.exit_code == 2

    window = _json(env, "maintenance", "start", "--service", "checkout", "--reason", "db")
    _am(live_server, key, "m1")
    assert _json(env, "alert", "list", "--search", "m1")["items"][0]["suppressed"] is True
    _ok(env, "maintenance", "end", str(window["id"]))
    _am(live_server, key, "m2")
    assert _json(env, "alert", "list", "--search", "m2")["items"][0]["suppressed"] is False
    assert "db" in _ok(env, "maintenance", "list").stdout
