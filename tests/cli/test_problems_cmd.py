"""`fireline problem …` and `fireline known-error …` against a live server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.conftest import LiveServer
from typer.testing import CliRunner, Result

from fireline.cli.main import app
from fireline.domain.roles import Role
from fireline.usecases import catalog, identity
from fireline.usecases.context import Actor

runner = CliRunner()


@pytest.fixture
def env(live_server: LiveServer) -> dict[str, str]:
    user = identity.create_user(
        live_server.ctx,
        email="prb@example.com",
        name="Pat Problem",
        role=Role.RESPONDER,
        password="cli-password-123",
    )
    actor = Actor(user_id=user.id, label=user.email, role=Role.RESPONDER)
    token = identity.create_token(live_server.ctx.as_actor(actor), name="cli").secret
    catalog.create_service(live_server.ctx, name="checkout")
    return {"FIRELINE_URL": live_server.url, "FIRELINE_TOKEN": token, "COLUMNS": "200"}


def _run(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def _ok(env: dict[str, str], *args: str) -> Result:
    result = _run(env, *args)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def _json(env: dict[str, str], *args: str) -> Any:
    return json.loads(_ok(env, *args, "--json").stdout)


def test_create_link_show_and_list_problems(env: dict[str, str]) -> None:
    incident = _json(env, "incident", "open", "Checkout 500s", "--service", "checkout")["ref"]
    created = _ok(env, "problem", "create", "DB pool exhausts", "--priority", "P2",
                  "--service", "checkout")  # fmt: skip
    assert "PRB-1 opened" in created.stdout
    linked = _ok(env, "problem", "link", "PRB-1", incident, "--reason", "same errors")
    assert f"{incident} linked to PRB-1" in linked.stdout

    shown = _json(env, "problem", "show", "prb-1")
    assert shown["ref"] == "PRB-1"
    assert [i["ref"] for i in shown["incidents"]] == [incident]
    assert [e["kind"] for e in shown["timeline"]] == ["created", "linked"]
    text = _ok(env, "problem", "show", "PRB-1").stdout
    assert "DB pool exhausts" in text and incident in text and "checkout" in text

    exported = json.loads(_ok(env, "problem", "export", "PRB-1").stdout)
    assert exported["ref"] == "PRB-1"
    assert [e["kind"] for e in exported["timeline"]] == ["created", "linked"]

    listing = _ok(env, "problem", "list").stdout
    assert "PRB-1" in listing and "DB pool exhausts" in listing
    assert _json(env, "problem", "list", "--status", "closed")["items"] == []


def test_transition_and_bad_input_exit_with_the_named_field(env: dict[str, str]) -> None:
    _ok(env, "problem", "create", "Index lag")
    refused = _run(env, "problem", "transition", "PRB-1", "close")
    assert refused.exit_code != 0
    assert "investigate" in refused.stdout + refused.stderr  # the allowed actions are listed
    moved = _ok(env, "problem", "transition", "PRB-1", "investigate")
    assert "investigating" in moved.stdout
    twice = _json(env, "incident", "open", "Lagging search")["ref"]
    _ok(env, "problem", "link", "PRB-1", twice)
    again = _run(env, "problem", "link", "PRB-1", twice)
    assert again.exit_code != 0
    assert "already linked" in again.stdout + again.stderr
    unknown = _run(env, "problem", "show", "PRB-42")
    assert unknown.exit_code != 0
    assert "PRB-42" in unknown.stdout + unknown.stderr


def test_known_error_create_and_list(env: dict[str, str]) -> None:
    created = _ok(env, "known-error", "create", "Pool exhausted", "--workaround",
                  "Restart pods", "--service", "checkout", "--keyword", "pool")  # fmt: skip
    assert "KE-1 recorded" in created.stdout
    items = _json(env, "known-error", "list")["items"]
    assert [(k["ref"], k["workaround"]) for k in items] == [("KE-1", "Restart pods")]
