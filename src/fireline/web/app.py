"""Install the web UI on the FastAPI app: static files, page routes and the HTML error page."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fireline.web import errors, views
from fireline.web.rendering import STATIC, make_templates

# auth and incidents first (login and `/incidents/new` must win over later catch-alls), then
# every other page module in `web/views/`, so a new area only adds a module.
_FIRST = ("auth", "incidents")


def install(app: FastAPI) -> None:
    """Mount `/static`, the page routers and the HTML error handlers (called by create_app)."""
    app.state.web_templates = make_templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    found = sorted(m.name for m in pkgutil.iter_modules(views.__path__))
    for name in [*_FIRST, *(n for n in found if n not in _FIRST)]:
        module = importlib.import_module(f"{views.__name__}.{name}")
        app.include_router(module.router)
    errors.install(app)
