"""Install the web UI on the FastAPI app: static files, page routes and the HTML error page."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fireline.web import errors
from fireline.web.rendering import STATIC, make_templates
from fireline.web.views import auth, catalog, incidents, profile


def install(app: FastAPI) -> None:
    """Mount `/static`, the page routers and the HTML error handlers (called by create_app)."""
    app.state.web_templates = make_templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, incidents, catalog, profile):
        app.include_router(module.router)
    errors.install(app)
