"""Admin commands that work directly on the configured database (for scripted set-up)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fireline.config import ConfigError, Settings, load_settings
from fireline.domain.roles import Role
from fireline.errors import FirelineError

if TYPE_CHECKING:
    from fireline.usecases.context import Context

err = Console(stderr=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users (local database).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (local database).", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _context() -> Context:
    from fireline.clock import SystemClock
    from fireline.store import migrate
    from fireline.store.db import make_engine, make_session_factory
    from fireline.usecases.context import Context

    settings = _settings()
    engine = make_engine(settings)
    migrate.upgrade(engine)
    return Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)


def _fail(exc: FirelineError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    from fireline.cli import seed_cmd

    app.command(name="seed")(seed_cmd.seed)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL or SQLite).")] = 1,
    certfile: Annotated[
        Path | None,
        typer.Option(help="TLS certificate (PEM) for https.", exists=True, dir_okay=False),
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option(help="TLS private key (PEM).", exists=True, dir_okay=False)
    ] = None,
    admin_email: Annotated[
        str, typer.Option(help="Email of the first admin.")
    ] = "admin@example.com",
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the background worker in-process.")
    ] = False,
) -> None:
    """Migrate the database and run API, web UI and worker on one port."""
    import os

    from fireline.bootstrap import prepare
    from fireline.serving import PortInUse
    from fireline.serving import serve as run_server
    from fireline.store.db import make_engine

    settings = _settings()
    if (certfile is None) != (keyfile is None):
        err.print("[red]error:[/red] --certfile and --keyfile go together")
        raise typer.Exit(2)
    engine = make_engine(settings)
    first = prepare(settings, engine, admin_email=admin_email)
    engine.dispose()
    scheme = "https" if certfile else "http"
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    url = f"{scheme}://{shown_host}:{port}"
    typer.echo(f"Fireline is starting on {url}")
    if first is not None:
        typer.echo("A first admin account was created (this is shown only once):")
        typer.echo(f"  email:    {first.email}")
        typer.echo(f"  password: {first.password}")
    if no_worker:
        os.environ["FIRELINE_EMBEDDED_WORKER"] = "false"
    sys.stdout.flush()
    try:
        run_server(
            "fireline.cli.admin:asgi_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            log_level=settings.log_level,
        )
    except PortInUse as exc:
        err.print(f"[red]error:[/red] {exc.strerror}")
        raise typer.Exit(1) from None


def asgi_app():  # type: ignore[no-untyped-def]
    """Factory used by `serve` (each server process builds its own app from the settings)."""
    from fireline.api.intake import front
    from fireline.app import create_app

    return front(create_app(load_settings()))


def worker() -> None:
    """Run the background worker alone (for multi-process deployments)."""
    from fireline.worker.runner import run_forever

    run_forever(_context())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "heads") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from fireline.store import migrate
    from fireline.store.db import make_engine

    engine = make_engine(_settings())
    migrate.upgrade(engine, revision)
    typer.echo(f"database at {migrate.current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and whether it is the newest."""
    from fireline.store import migrate
    from fireline.store.db import make_engine

    engine = make_engine(_settings())
    current = migrate.current_revision(engine)
    typer.echo(f"{current} ({'up to date' if migrate.is_current(engine) else 'behind'})")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (the login).")],
    role: Annotated[
        Role, typer.Option(help="viewer, responder, manager or admin.")
    ] = Role.RESPONDER,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user; the password comes from a prompt or --password-stdin."""
    from fireline.usecases import identity

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = identity.create_user(
            _context(), email=email, name=name, role=role, password=password
        )
    except FirelineError as exc:
        raise _fail(exc) from None
    typer.echo(f"created user {user.id} {user.email} ({user.role})")


@user_app.command("set-role")
def user_set_role(
    email: Annotated[str, typer.Option()], role: Annotated[Role, typer.Option()]
) -> None:
    """Change a user's role."""
    from sqlalchemy import select

    from fireline.store.models import User
    from fireline.usecases import identity

    ctx = _context()
    with ctx.reading() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        err.print(f"[red]error:[/red] no user {email}")
        raise typer.Exit(1)
    try:
        identity.update_user(ctx, user.id, {"role": role.value})
    except FirelineError as exc:
        raise _fail(exc) from None
    typer.echo(f"{user.email} is now {role.value}")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Print a new API token for a user on stdout (store it: it is shown once)."""
    from sqlalchemy import select

    from fireline.store.models import User
    from fireline.usecases import identity

    ctx = _context()
    with ctx.reading() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        err.print(f"[red]error:[/red] no user {email}")
        raise typer.Exit(1)
    try:
        issued = identity.create_token(ctx, user_id=user.id, name=name)
    except FirelineError as exc:
        raise _fail(exc) from None
    typer.echo(issued.secret)
