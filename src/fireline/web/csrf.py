"""Cross-site request forgery protection for browser writes.

Every POST from a signed-in browser must carry the session's CSRF token, either as the
`csrf_token` form field (plain forms) or as the `X-CSRF-Token` header (HTMX requests, which
get it from `hx-headers` on <body>). The token is compared in constant time.

The login form has no session yet, so it uses a double-submit cookie: a random value is set
in `fireline_login_csrf` when the form is shown and must come back in the form.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

from fireline import security

FIELD = "csrf_token"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "fireline_login_csrf"


def new_token() -> str:
    """A fresh random token (for the login form's double-submit cookie)."""
    return secrets.token_urlsafe(32)


def matches(sent: str | None, expected: str | None) -> bool:
    """True when both tokens are present and equal; constant time in their content."""
    if not sent or not expected:
        return False
    return security.same(sent, expected)


async def submitted(request: Request) -> str | None:
    """The token the browser sent: the header if present, else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None
