"""Typer root: registers the admin commands (local database) and client commands (HTTP)."""

from __future__ import annotations

import typer

from fireline import __version__
from fireline.cli import admin, alerts_cmd, import_cmd, oncall_cmd, problems_cmd

app = typer.Typer(
    name="fireline",
    help="Fireline: incident and problem management. Admin commands use the configured "
    "database; client commands talk to a server (FIRELINE_URL, FIRELINE_TOKEN).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin.register(app)
app.command(name="import")(import_cmd.import_incidents)
problems_cmd.register(app)
alerts_cmd.register(app)
oncall_cmd.register(app)

try:  # client commands arrive with the client module
    from fireline.cli import client
except ImportError:  # pragma: no cover - during bootstrap only
    client = None  # type: ignore[assignment]
if client is not None:
    client.register(app)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
