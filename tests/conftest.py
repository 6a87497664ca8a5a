"""Shared fixtures: settings, a migrated database per test (SQLite and PostgreSQL), a frozen
clock, the app, API clients per role, and a live server for CLI and browser tests.

PostgreSQL tests run against FIRELINE_TEST_POSTGRES_URL (default: the role `scripts/start-postgres`
creates). When it cannot be reached they are skipped locally, but with
FIRELINE_REQUIRE_POSTGRES=1 (set by CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fireline.app import create_app
from fireline.clock import FrozenClock
from fireline.config import Settings
from fireline.domain.roles import Role
from fireline.store import migrate
from fireline.store.db import make_engine, make_session_factory
from fireline.store.models import Base
from fireline.usecases import identity
from fireline.usecases.context import Actor, Context

PG_URL = os.environ.get(
    "FIRELINE_TEST_POSTGRES_URL", "postgresql+psycopg://fireline:fireline@127.0.0.1:5432/fireline"
)
REQUIRE_PG = os.environ.get("FIRELINE_REQUIRE_POSTGRES") == "1"
SECRET = "test-secret-key-0123456789"


def _worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (much faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}", secret_key=SECRET))
    migrate.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated PostgreSQL database for this test process (one per xdist worker)."""
    admin_url = make_url(PG_URL)
    # The pid keeps concurrent pytest runs (several engineers, one server) apart.
    name = f"fireline_test_{_worker_id(request)}_{os.getpid()}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        message = f"PostgreSQL unavailable at {admin_url.render_as_string()}: {exc}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url, secret_key=SECRET))
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# kept: the alert rules' version row only grows (a test's TRUNCATE of silences raises it), so
# the intake's kept rules work in PostgreSQL tests as in production
_SEED_TABLES = {"categories", "alembic_version", "alert_rules_version"}


def _reset_postgres(engine: Engine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in _SEED_TABLES]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text("DELETE FROM categories WHERE built_in = false"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    if backend == "sqlite":
        target = tmp_path / "fireline.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        embedded_worker=False,
        public_base_url="http://testserver",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def ctx(engine: Engine, clock: FrozenClock, settings: Settings) -> Context:
    """A use-case context acting as the system (admin rights)."""
    return Context(sessions=make_session_factory(engine), clock=clock, settings=settings)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, engine: Engine) -> Any:
    return create_app(settings, clock=clock, engine=engine, start_worker=False)


@dataclass
class Person:
    id: int
    email: str
    password: str
    token: str
    role: Role

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_person(ctx: Context) -> Callable[..., Person]:
    """Create a user with a role, a password and an API token."""
    counter = {"n": 0}

    def make(role: Role = Role.RESPONDER, email: str | None = None) -> Person:
        counter["n"] += 1
        address = email or f"{role.value}{counter['n']}@example.com"
        password = f"pw-{address}-long"
        user = identity.create_user(
            ctx, email=address, name=address.split("@")[0].title(), role=role, password=password
        )
        issued = identity.create_token(
            ctx.as_actor(Actor(user_id=user.id, label=address, role=role)), name="tests"
        )
        return Person(id=user.id, email=address, password=password, token=issued.secret, role=role)

    return make


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.ADMIN, "admin@example.com")


@pytest.fixture
def responder(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.RESPONDER, "responder@example.com")


@pytest.fixture
def viewer(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.VIEWER, "viewer@example.com")


# ---------------------------------------------------------------- live server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: Any
    ctx: Context


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # run in a thread: no signal handlers
        pass


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    """Fireline on a real port (SQLite copy, real clock, no embedded worker)."""
    target = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, target)
    settings = Settings(
        database_url=f"sqlite:///{target}", secret_key=SECRET, embedded_worker=False
    )
    port = free_port()
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, start_worker=False)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, ctx=app.state.context)
    server.should_exit = True
    thread.join(timeout=10)
