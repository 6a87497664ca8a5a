"""`fireline import` brings past incidents in over the API, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LiveServer
from typer.testing import CliRunner

from fireline.cli.main import app
from fireline.domain.roles import Role
from fireline.usecases import identity
from fireline.usecases.context import Actor


def _token(server: LiveServer) -> str:
    user = identity.create_user(
        server.ctx, email="importer@example.com", role=Role.RESPONDER, password="importer-pw-123"
    )
    actor = Actor(user_id=user.id, label=user.email, role=Role.RESPONDER)
    return identity.create_token(server.ctx.as_actor(actor), name="import").secret


def test_import_jsonl_and_csv_then_rerun_creates_nothing_new(
    live_server: LiveServer, tmp_path: Path
) -> None:
    token = _token(live_server)
    env = {"FIRELINE_URL": live_server.url, "FIRELINE_TOKEN": token}
    jsonl = tmp_path / "history.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "title": "Payments API 502s",
                    "detected_at": "2026-02-01T10:00:00Z",
                    "resolved_at": "2026-02-01T10:40:00Z",
                    "labels": {"alertname": "Http5xx"},
                    "fingerprint": "fp-1",
                },
                {"title": "Search slow", "detected_at": "2026-02-03T08:00:00Z"},
                {"title": "", "detected_at": "2026-02-03T08:00:00Z"},
            ]
        )
        + "\nnot json\n"
    )
    runner = CliRunner()
    first = runner.invoke(app, ["import", str(jsonl)], env=env)
    assert first.exit_code == 1
    assert "imported 2 incidents, 0 already present, 2 failed" in first.stdout
    assert "line 3" in first.stderr and "title" in first.stderr
    assert "line 4" in first.stderr
    again = runner.invoke(app, ["import", str(jsonl)], env=env)
    assert "imported 0 incidents, 2 already present" in again.stdout

    csv_file = tmp_path / "history.csv"
    csv_file.write_text(
        "title,detected_at,resolved_at,closed_at,resolution_summary,labels\n"
        "Disk full on db-7,2026-01-05T01:00:00Z,2026-01-05T02:00:00Z,"
        "2026-01-05T03:00:00Z,Cleaned logs,env=prod;team=dba\n"
    )
    third = runner.invoke(app, ["import", str(csv_file)], env=env)
    assert third.exit_code == 0, third.stdout + third.stderr
    with live_server.ctx.reading() as session:
        from sqlalchemy import select

        from fireline.store.models import Incident

        rows = {i.title: i for i in session.scalars(select(Incident))}
    assert rows["Disk full on db-7"].status == "closed"
    assert rows["Payments API 502s"].status == "resolved"
    assert all(i.imported for i in rows.values())
