"""Client commands (`fireline incident …`, `service`, `team`, `whoami`) on a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer, free_port
from typer.testing import CliRunner, Result

from fireline.cli.main import app
from fireline.domain.roles import Role
from fireline.usecases import identity
from fireline.usecases.context import Actor

runner = CliRunner()


def _env(
    server: LiveServer, role: Role = Role.MANAGER, email: str = "cli@example.com"
) -> dict[str, str]:
    user = identity.create_user(
        server.ctx, email=email, name="Casey Cli", role=role, password="cli-password-123"
    )
    actor = Actor(user_id=user.id, label=user.email, role=role)
    token = identity.create_token(server.ctx.as_actor(actor), name="cli").secret
    return {"FIRELINE_URL": server.url, "FIRELINE_TOKEN": token}


@pytest.fixture
def env(live_server: LiveServer) -> dict[str, str]:
    return _env(live_server)


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), env=env, input=stdin)


def _ok(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    result = _run(env, *args, stdin=stdin)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def _json(env: dict[str, str], *args: str) -> Any:
    return json.loads(_ok(env, *args, "--json").stdout)


def _open(env: dict[str, str], title: str, *args: str) -> str:
    return str(_json(env, "incident", "open", title, *args)["ref"])


def test_incident_lifecycle_from_open_to_close_shows_on_the_timeline(
    env: dict[str, str],
) -> None:
    opened = _ok(env, "incident", "open", "Checkout returns 502", "--impact", "high")
    ref = opened.stdout.split()[0]
    assert ref.startswith("INC-")
    assert "opened" in opened.stdout and "P2" in opened.stdout

    table = _ok(env, "incident", "list").stdout
    assert ref in table and "Checkout returns 502" in table and "triggered" in table
    listed = _json(env, "incident", "list")
    assert [i["ref"] for i in listed["items"]] == [ref]
    assert listed["next_cursor"] is None

    assert f"{ref} is now acknowledged" in _ok(env, "incident", "ack", ref).stdout
    _ok(env, "incident", "note", ref, "Rolled back **deploy 42**")
    resolved = _ok(env, "incident", "resolve", ref, "--note", "Error rate back to normal")
    assert "resolved" in resolved.stdout

    refused = _run(env, "incident", "close", ref, "--summary", "Bad deploy rolled back")
    assert refused.exit_code == 2
    assert "--stable" in refused.stderr
    assert _json(env, "incident", "show", ref)["status"] == "resolved"

    closed = _json(env, "incident", "close", ref, "--summary", "Bad deploy rolled back", "--stable")
    assert closed["status"] == "closed"
    assert closed["resolution_summary"] == "Bad deploy rolled back"

    shown = _ok(env, "incident", "show", ref).stdout
    assert "Checkout returns 502" in shown
    assert "Bad deploy rolled back" in shown
    timeline = shown[shown.index("Timeline") :]
    lines = [
        f"declared {ref}",
        "status triggered → acknowledged",
        "note: Rolled back **deploy 42**",
        "status acknowledged → resolved",
        "note: Error rate back to normal",
        "status resolved → closed",
    ]
    positions = [timeline.index(line) for line in lines]
    assert positions == sorted(positions)
    as_json = _json(env, "incident", "show", ref)
    assert [e["kind"] for e in as_json["timeline"]][:2] == ["created", "status_changed"]


def test_open_with_the_same_idempotency_key_returns_the_same_incident(
    env: dict[str, str],
) -> None:
    args = ("incident", "open", "Disk full on db-7", "--idempotency-key", "page-123")
    first = json.loads(_ok(env, *args, "--json").stdout)
    again = _ok(env, *args)
    assert again.stdout.split()[0] == first["ref"]
    assert "already open" in again.stdout
    assert len(_json(env, "incident", "list")["items"]) == 1


def test_open_takes_services_labels_people_and_a_priority_override(
    env: dict[str, str],
) -> None:
    _ok(env, "service", "create", "payments", "--tier", "1", "--description", "Card payments")
    services = _ok(env, "service", "list").stdout
    assert "payments" in services and "Card payments" in services
    ref = _open(
        env,
        "Card payments failing",
        "--service",
        "payments",
        "--label",
        "region=eu",
        "--priority",
        "p1",
        "--reason",
        "Revenue impact",
        "--assignee",
        "me",
        "--commander",
        "cli@example.com",
        "--category",
        "infrastructure",
    )
    incident = _json(env, "incident", "show", ref)
    assert incident["priority"] == "P1"
    assert incident["services"][0]["name"] == "payments"
    assert incident["labels"] == {"region": "eu"}
    assert incident["assignee"]["email"] == "cli@example.com"
    assert "priority P3 → P1 (reason: Revenue impact)" in _ok(env, "incident", "show", ref).stdout

    no_reason = _run(env, "incident", "open", "Urgent", "--priority", "P1")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    unknown = _run(env, "incident", "open", "Search down", "--service", "search")
    assert unknown.exit_code == 1
    assert "services" in unknown.stderr and "search" in unknown.stderr


def test_list_filters_and_follows_cursors_with_all(env: dict[str, str]) -> None:
    first = _open(env, "Login slow", "--label", "env=prod")
    second = _open(env, "Queue backlog", "--impact", "high", "--urgency", "high")
    third = _open(env, "Cache misses", "--assignee", "me")
    _ok(env, "incident", "ack", second)

    paged = _json(env, "incident", "list", "--limit", "1")
    assert len(paged["items"]) == 1 and paged["next_cursor"] is not None
    every = _json(env, "incident", "list", "--limit", "1", "--all")
    assert [i["ref"] for i in every["items"]] == [third, second, first]
    assert every["next_cursor"] is None
    assert "more incidents" in _ok(env, "incident", "list", "--limit", "1").stderr

    def refs(*args: str) -> list[str]:
        return [i["ref"] for i in _json(env, "incident", "list", *args)["items"]]

    assert refs("--status", "acknowledged") == [second]
    assert refs("--priority", "P1") == [second]
    assert refs("--label", "env=prod") == [first]
    assert refs("-q", "backlog") == [second]
    assert refs("--mine") == [third]
    assert refs("--status", "triggered", "--status", "acknowledged") == [third, second, first]
    bad = _run(env, "incident", "list", "--status", "sleeping")
    assert bad.exit_code == 2


def test_update_status_update_and_cancel_as_duplicate(env: dict[str, str]) -> None:
    original = _open(env, "API latency")
    copy = _open(env, "API slow", "--label", "env=prod")
    updated = _ok(
        env, "incident", "update", copy, "--title", "API slow for EU", "--label", "region=eu"
    )
    assert "title" in updated.stdout and "labels" in updated.stdout
    incident = _json(env, "incident", "show", copy)
    assert incident["title"] == "API slow for EU"
    assert incident["labels"] == {"env": "prod", "region": "eu"}
    nothing = _run(env, "incident", "update", copy)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr

    posted = _ok(
        env, "incident", "status-update", copy, "-", "--stakeholders", stdin="Fix rolling out\n"
    )
    assert "stakeholders" in posted.stdout
    needs_ref = _run(env, "incident", "cancel", copy, "--reason", "duplicate")
    assert needs_ref.exit_code == 2 and "--duplicate-of" in needs_ref.stderr
    cancelled = _json(
        env, "incident", "cancel", copy, "--reason", "duplicate", "--duplicate-of", original
    )
    assert cancelled["status"] == "cancelled" and cancelled["duplicate_of"] == original
    shown = _ok(env, "incident", "show", copy).stdout
    assert "status update (stakeholders): Fix rolling out" in shown
    assert f"duplicate of: {original}" in shown


def test_a_refused_transition_lists_the_allowed_actions(env: dict[str, str]) -> None:
    ref = _open(env, "Backups failing")
    _ok(env, "incident", "ack", ref)
    again = _run(env, "incident", "ack", ref)
    assert again.exit_code == 1
    assert "cannot acknowledge an incident that is acknowledged" in again.stderr
    assert "allowed actions: investigate, mitigate, resolve, cancel" in again.stderr
    close = _run(env, "incident", "close", ref, "--summary", "x", "--stable")
    assert close.exit_code == 1 and "allowed actions:" in close.stderr


def test_an_unknown_reference_is_named_in_the_error(env: dict[str, str]) -> None:
    for args in (("show", "INC-999"), ("ack", "INC-999"), ("note", "INC-999", "hello")):
        result = _run(env, "incident", *args)
        assert result.exit_code == 1
        assert "INC-999" in result.stderr
        assert result.stdout == ""


def test_bad_or_missing_token_and_unreachable_server_exit_with_distinct_codes(
    live_server: LiveServer, env: dict[str, str]
) -> None:
    bad = _run({**env, "FIRELINE_TOKEN": "not-a-real-token"}, "incident", "list")
    assert bad.exit_code == 1
    assert "refused the API token" in bad.stderr and "FIRELINE_TOKEN" in bad.stderr

    missing = _run({"FIRELINE_URL": live_server.url, "FIRELINE_TOKEN": ""}, "whoami")
    assert missing.exit_code == 2
    assert "no API token" in missing.stderr

    down = f"http://127.0.0.1:{free_port()}"
    unreachable = _run({**env, "FIRELINE_URL": down}, "incident", "list")
    assert unreachable.exit_code == 3
    assert down in unreachable.stderr and "FIRELINE_URL" in unreachable.stderr

    bad_url = _run(env, "whoami", "--url", "ftp://example.com")
    assert bad_url.exit_code == 2 and "http://" in bad_url.stderr


def test_a_viewer_is_told_their_role_is_too_low(live_server: LiveServer) -> None:
    viewer = _env(live_server, Role.VIEWER, "viewer@example.com")
    result = _run(viewer, "incident", "open", "Looks broken")
    assert result.exit_code == 1 and "role" in result.stderr


def test_whoami_and_teams(env: dict[str, str]) -> None:
    me = _ok(env, "whoami").stdout
    assert "cli@example.com" in me and "manager" in me
    assert _json(env, "whoami")["email"] == "cli@example.com"
    _ok(env, "team", "create", "sre", "--lead", "cli@example.com")
    teams = _ok(env, "team", "list").stdout
    assert "sre" in teams and "cli@example.com (lead)" in teams
    assert _json(env, "team", "list")[0]["members"][0]["team_role"] == "lead"


def _fireline_command() -> list[str]:
    beside_python = shutil.which("fireline", path=str(Path(sys.executable).parent))
    return [beside_python] if beside_python else [sys.executable, "-m", "fireline"]


def test_the_installed_console_script_lists_incidents_as_json(
    live_server: LiveServer, env: dict[str, str]
) -> None:
    ref = _open(env, "Seen from a real process")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    done = subprocess.run(
        [*_fireline_command(), "incident", "list", "--json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)["items"]
    assert [(i["ref"], i["title"]) for i in items] == [(ref, "Seen from a real process")]
