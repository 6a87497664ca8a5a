"""Admin commands (`db upgrade`, `user create`, `token create`) run as real processes on a
fresh SQLite file, and the token they print works against the API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from fireline.app import create_app
from fireline.config import Settings


def _fireline(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    found = shutil.which("fireline", path=str(Path(sys.executable).parent))
    command = [found] if found else [sys.executable, "-m", "fireline"]
    return subprocess.run(
        [*command, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    return {**clean, "FIRELINE_DATABASE_URL": database_url, "COLUMNS": "200"}


def test_db_upgrade_user_create_and_token_create_give_a_working_token(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'admin.db'}"
    env = _env(database_url)

    upgraded = _fireline("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.startswith("database at ")
    current = _fireline("db", "current", env=env, cwd=tmp_path)
    assert "up to date" in current.stdout

    created = _fireline(
        "user",
        "create",
        "--email",
        "Ops@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        cwd=tmp_path,
        stdin="a-long-enough-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "ops@example.com (admin)" in created.stdout

    issued = _fireline("token", "create", "--email", "ops@example.com", env=env, cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token and "\n" not in token

    app = create_app(Settings(database_url=database_url), start_worker=False)
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "ops@example.com"
        assert me.json()["role"] == "admin"
        refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
        assert refused.status_code == 401


def test_user_create_refuses_a_short_password_and_token_create_an_unknown_user(
    tmp_path: Path,
) -> None:
    env = _env(f"sqlite:///{tmp_path / 'admin.db'}")
    short = _fireline(
        "user",
        "create",
        "--email",
        "dev@example.com",
        "--password-stdin",
        env=env,
        cwd=tmp_path,
        stdin="short\n",
    )
    assert short.returncode == 1
    assert "password: must be at least 10 characters" in short.stderr
    nobody = _fireline("token", "create", "--email", "dev@example.com", env=env, cwd=tmp_path)
    assert nobody.returncode == 1
    assert "no user dev@example.com" in nobody.stderr
    assert nobody.stdout == ""


def test_a_bad_setting_is_a_configuration_error(tmp_path: Path) -> None:
    env = {**_env(f"sqlite:///{tmp_path / 'admin.db'}"), "FIRELINE_SECRET_KEY": "short"}
    result = _fireline("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "secret_key" in result.stderr.lower()
