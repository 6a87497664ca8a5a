"""`fireline seed`: fill the configured database with realistic demo or benchmark data."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

err = Console(stderr=True)


def seed(
    incidents: Annotated[
        int, typer.Option("--incidents", min=0, help="How many incidents to add.")
    ] = 10_000,
    demo: Annotated[
        bool, typer.Option("--demo", help="A small demo data set (200 incidents).")
    ] = False,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same data.")
    ] = 42,
    months: Annotated[
        int | None, typer.Option(min=1, max=120, help="History length (default 18, demo 6).")
    ] = None,
) -> None:
    """Add teams, people, services and months of incidents (with timelines) for demos and
    benchmarks. Migrates first; on an empty database it also creates the first admin."""
    from fireline import seed as seeding
    from fireline.bootstrap import prepare
    from fireline.cli.admin import _settings
    from fireline.clock import SystemClock
    from fireline.store.db import make_engine, make_session_factory
    from fireline.usecases.context import Context

    count = seeding.DEMO_INCIDENTS if demo else incidents
    history = months or (6 if demo else 18)
    settings = _settings()
    engine = make_engine(settings)
    first = prepare(settings, engine)
    if first is not None:
        typer.echo("A first admin account was created (this is shown only once):")
        typer.echo(f"  email:    {first.email}")
        typer.echo(f"  password: {first.password}")
    ctx = Context(sessions=make_session_factory(engine), clock=SystemClock(), settings=settings)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]seeding incidents"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("incidents", total=count)
        result = seeding.seed(
            ctx,
            incidents=count,
            seed=seed_value,
            months=history,
            progress=lambda done: bar.advance(task, done),
        )
    engine.dispose()
    elapsed = time.perf_counter() - started
    refs = (
        f" (INC-{result.first_number}..INC-{result.last_number})"
        if result.first_number is not None
        else ""
    )
    typer.echo(
        f"added {result.incidents} incidents{refs}, {result.timeline_events} timeline events, "
        f"{result.teams} teams, {result.users} users, {result.services} services "
        f"in {elapsed:.1f}s"
    )
