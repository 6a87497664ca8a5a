"""Templates: one autoescaping Jinja2 environment per app, filters, and security headers.

Everything is escaped by default; the only markup marked safe is `fireline.markdown.render`
output (the `markdown` filter), which is sanitised with an allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context as JinjaContext
from markupsafe import Markup

from fireline import __version__, markdown
from fireline.web.visitor import Visitor

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No inline scripts or styles anywhere, so the policy can be strict.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = _markdown
    env.filters["when"] = _when
    env.filters["ago"] = _ago
    env.filters["duration"] = _duration
    env.filters["humanise"] = _humanise
    env.globals["version"] = __version__
    return Jinja2Templates(env=env)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    visitor: Visitor | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render `name` with the common context (visitor, CSRF token, clock, time zone)."""
    templates: Jinja2Templates = request.app.state.web_templates
    now = request.app.state.context.clock.now()
    values: dict[str, Any] = {
        "visitor": visitor,
        "csrf_token": visitor.csrf_token if visitor else "",
        "now": now,
        "tz": _zone(visitor.user.timezone if visitor else "UTC"),
        "path": request.url.path,
        "errors": {},
        "form_values": {},
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    if headers:
        response.headers.update(headers)
    return response


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _markdown(text: str | None) -> Markup:
    return Markup(markdown.render(text or ""))  # noqa: S704 - sanitised by markdown.render


@pass_context
def _when(ctx: JinjaContext, value: datetime | None) -> str:
    """`2026-03-02 10:00 CET` in the visitor's time zone; '—' for no value."""
    if value is None:
        return "—"
    local = value.astimezone(ctx.get("tz") or UTC)
    return local.strftime("%Y-%m-%d %H:%M %Z")


@pass_context
def _ago(ctx: JinjaContext, value: datetime | None) -> str:
    """`4m ago`, `3h ago`, `2d ago` relative to the app clock."""
    if value is None:
        return "—"
    now: datetime = ctx.get("now") or datetime.now(UTC)
    seconds = int((now - value).total_seconds())
    if seconds < 0:
        return "just now"
    return f"{_span(seconds)} ago" if seconds >= 60 else "just now"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    return _span(max(0, int((end - start).total_seconds())))


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h {rest // 60}m" if rest >= 60 else f"{hours}h"
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if rest >= 3600 else f"{days}d"


def _humanise(value: Any) -> str:
    """A timeline value for people: lists joined, mappings as k=v, None as '—'."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return ", ".join(_humanise(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
