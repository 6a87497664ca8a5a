"""`create_app(settings)` builds the whole HTTP application: API, intake, web UI, operations.

No globals are built at import time: tests create a fresh app per test with their own
settings, database and clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from fireline import __version__
from fireline.api import errors as api_errors
from fireline.api import ops
from fireline.api.limits import BodyLimit
from fireline.api.routes import incidents as incident_routes
from fireline.api.routes import people as people_routes
from fireline.clock import Clock, SystemClock
from fireline.config import Settings
from fireline.store.db import make_engine, make_session_factory
from fireline.usecases.context import Context

# Optional parts register themselves here: (module path, attribute that installs on the app).
# Each is imported if present so capabilities slot in without touching this file's logic.
_EXTENSIONS: tuple[tuple[str, str], ...] = (
    ("fireline.web.app", "install"),
    ("fireline.api.routes.alerts", "install"),
    ("fireline.api.intake", "install"),
    ("fireline.api.routes.oncall", "install"),
    ("fireline.api.routes.problems", "install"),
    ("fireline.api.routes.recurrence", "install"),
    ("fireline.api.routes.trends", "install"),
)


def _unique_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    start_worker: bool | None = None,
) -> Any:
    """Build the ASGI application (FastAPI wrapped in the body-size limit)."""
    engine = engine or make_engine(settings)
    ctx = Context(
        sessions=make_session_factory(engine),
        clock=clock or SystemClock(),
        settings=settings,
    )
    run_worker = settings.embedded_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop: Callable[[], Any] | None = None
        if run_worker:
            from fireline.worker.runner import start_embedded

            stop = start_embedded(ctx)
        try:
            yield
        finally:
            if stop is not None:
                await stop()
            intake = getattr(app.state, "intake", None)
            if intake is not None:
                intake.committer.close()  # its held connection, writer thread and lock file

    app = FastAPI(
        title="Fireline",
        version=__version__,
        description="Incident and problem management API. Authenticate with "
        "`Authorization: Bearer <API token>`. Errors share one shape: "
        '`{"error": {"code", "message", "field"}}`. Request bodies are limited to '
        f"{settings.max_body_bytes} bytes (413 above).",
        generate_unique_id_function=_unique_id,
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.engine = engine
    app.state.settings = settings
    api_errors.install(app)
    ops.install_metrics(app, ctx)
    app.include_router(ops.router)
    app.include_router(incident_routes.router)
    app.include_router(people_routes.router)
    for module_name, attr in _EXTENSIONS:
        try:
            module = __import__(module_name, fromlist=[attr])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        getattr(module, attr)(app)
    wrapped = BodyLimit(app, max_bytes=settings.max_body_bytes)
    wrapped.state = app.state  # type: ignore[attr-defined]
    wrapped.fastapi = app  # type: ignore[attr-defined]
    return wrapped
