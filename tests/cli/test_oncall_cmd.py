"""On-call client commands (`fireline oncall …`, `fireline schedule …`) against a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.cli.test_client import _env
from tests.conftest import LiveServer
from typer.testing import CliRunner, Result

from fireline.cli.main import app
from fireline.domain.roles import Role
from fireline.usecases import identity

runner = CliRunner()


def _run(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def _json(env: dict[str, str], *args: str) -> Any:
    result = _run(env, *args, "--json")
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def _api(env: dict[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=env["FIRELINE_URL"],
        headers={"Authorization": f"Bearer {env['FIRELINE_TOKEN']}"},
        timeout=30,
    )


def test_schedule_shifts_override_and_who_is_on_call(live_server: LiveServer) -> None:
    env = _env(live_server)
    dana = identity.create_user(live_server.ctx, email="dana@example.com", name="Dana Day")
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    with _api(env) as api:
        created = api.post(
            "/api/v1/schedules",
            json={
                "name": "Payments",
                "time_zone": "UTC",
                "layers": [
                    {
                        "users": [dana.id],
                        "time_zone": "UTC",
                        "start": start.replace(tzinfo=None, microsecond=0).isoformat(),
                        "length": {"unit": "day", "count": 1},
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
    listed = _run(env, "schedule", "list")
    assert listed.exit_code == 0 and "Payments" in listed.stdout
    now = _json(env, "oncall", "now")
    assert [u["name"] for u in now["schedules"][0]["users"]] == ["Dana Day"]
    table = _run(env, "oncall", "now")
    assert "Payments" in table.stdout and "Dana Day" in table.stdout

    cover_from = datetime.now(UTC) + timedelta(hours=1)
    cover_to = cover_from + timedelta(hours=2)
    added = _run(
        env, "schedule", "override", "payments", "--user", "me",
        "--start", cover_from.isoformat(), "--end", cover_to.isoformat(), "--reason", "swap day",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    shifts = _json(env, "schedule", "shifts", "Payments", "--days", "1")
    covered = [s for s in shifts if s["user"]["name"] == "Casey Cli"]
    assert len(covered) == 1
    assert abs(datetime.fromisoformat(covered[0]["start"]) - cover_from) < timedelta(seconds=1)
    backwards = _run(
        env, "schedule", "override", "Payments", "--user", "me",
        "--start", cover_to.isoformat(), "--end", cover_from.isoformat(),
    )  # fmt: skip
    assert backwards.exit_code == 1 and "end" in backwards.stderr
    naive = _run(env, "schedule", "shifts", "Payments", "--start", "2026-03-02T09:00")
    assert naive.exit_code == 2 and "offset" in naive.stderr
    unknown = _run(env, "schedule", "shifts", "Nope")
    assert unknown.exit_code == 2 and "no schedule 'Nope'" in unknown.stderr

    feed = _run(env, "oncall", "feed", "--schedule", "Payments")
    assert feed.exit_code == 0
    calendar = httpx.get(feed.stdout.strip(), timeout=30)
    assert calendar.status_code == 200 and "BEGIN:VCALENDAR" in calendar.text


def test_page_someone_about_an_incident_and_see_escalations(live_server: LiveServer) -> None:
    env = _env(live_server, Role.RESPONDER)
    erin = identity.create_user(live_server.ctx, email="erin@example.com", name="Erin Early")
    opened = _json(env, "incident", "open", "Disk full on db-1")
    paged = _run(env, "oncall", "page", opened["ref"], "--user", "erin@example.com")
    assert paged.exit_code == 0, paged.stderr
    assert f"paged Erin Early about {opened['ref']}" in paged.stdout
    with _api(env) as api:
        events = api.get(f"/api/v1/incidents/{opened['ref']}/timeline").json()["events"]
    pages = [e["data"] for e in events if e["kind"] == "escalation"]
    assert [(p["action"], p["user_ids"]) for p in pages] == [("paged", [erin.id])]
    assert _json(env, "oncall", "escalations", opened["ref"]) == []
    both = _run(env, "oncall", "page", opened["ref"], "--user", "me", "--team", "x")
    assert both.exit_code == 2 and "exactly one" in both.stderr
