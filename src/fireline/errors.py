"""Errors raised by the domain and the use cases.

Interfaces map them to protocol answers in exactly one place each
(`api/errors.py` for HTTP, the web error page for HTML, the CLI for exit codes).

    FirelineError                 code, message, field
     ├── InvalidField             422  a value is wrong; `field` names it
     ├── NotFound                 404  an id or reference does not exist
     ├── Conflict                 409  the request clashes with current state
     │    ├── InvalidTransition   409  lifecycle action not allowed; lists the allowed ones
     │    └── StaleUpdate         409  the record changed since the caller read it
     ├── Unauthenticated          401  no or bad credentials
     ├── Forbidden                403  authenticated, but the role is too low
     ├── TooManyRequests          429  throttled; `retry_after` seconds
     └── PayloadTooLarge          413  body over the documented limit
"""

from __future__ import annotations

from collections.abc import Sequence


class FirelineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


class InvalidField(FirelineError):
    status = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class NotFound(FirelineError):
    status = 404
    code = "not_found"


class Conflict(FirelineError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, message: str, *, allowed: Sequence[str]) -> None:
        super().__init__(message, field="action")
        self.allowed = list(allowed)


class StaleUpdate(Conflict):
    code = "stale_update"


class Unauthenticated(FirelineError):
    status = 401
    code = "unauthenticated"


class Forbidden(FirelineError):
    status = 403
    code = "forbidden"


class TooManyRequests(FirelineError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(FirelineError):
    status = 413
    code = "payload_too_large"
