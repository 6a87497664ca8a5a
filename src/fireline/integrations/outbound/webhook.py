"""POST JSON to webhooks with httpx (the only HTTP client for outbound notifications).

`post_json` sends exact bytes with the given headers and a timeout over a shared keep-alive
connection pool, never follows redirects
(a 3xx is a failure, as Standard Webhooks says), and classifies the answer:

    2xx                      success
    410                      WebhookGone: the endpoint is gone for good (disable it)
    429 / 5xx / timeouts     WebhookError(retry_after=...): try again later
    other 4xx                WebhookError(permanent=True)
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping
from datetime import datetime

import httpx

from fireline.clock import SystemClock
from fireline.integrations.outbound.messages import encode_json
from fireline.integrations.signing import sign

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
USER_AGENT = "Fireline-Webhooks/1"
# Keep-alive connections kept per process (the worker's sender threads share them).
POOL_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=30)
_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()
_client: httpx.Client | None = None


def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~10-100 ms, far
    more than a webhook POST on a fast network, so it must not happen per delivery."""
    with _tls_lock:
        return _tls_context_unlocked()


def _shared_client() -> httpx.Client:
    """One connection-pooling client per process (thread-safe): a new client per POST meant
    a new TCP (and TLS) connection per page, most of a page's cost against a fast endpoint."""
    global _client
    with _tls_lock:
        if _client is None:
            _client = httpx.Client(
                timeout=TIMEOUT,
                follow_redirects=False,
                verify=_tls_context_unlocked(),
                limits=POOL_LIMITS,
            )
        return _client


def _tls_context_unlocked() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


class WebhookError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class WebhookGone(WebhookError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def post_json(
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout = TIMEOUT,
) -> int:
    """POST `body` as JSON; return the status code on 2xx, raise WebhookError otherwise."""
    all_headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    all_headers.update(headers or {})
    try:
        response = _shared_client().post(url, content=body, headers=all_headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WebhookError(f"{type(exc).__name__}: {exc}") from exc
    code = response.status_code
    if 200 <= code < 300:
        return code
    detail = f"HTTP {code}: {response.text[:200]}"
    if code == 410:
        raise WebhookGone(detail)
    if code == 429 or code >= 500 or code == 408:
        raise WebhookError(detail, retry_after=_retry_after(response.headers.get("retry-after")))
    raise WebhookError(detail, permanent=True)  # 3xx and other 4xx will not get better


def send_signed(
    url: str,
    payload: dict[str, object],
    *,
    secret: str,
    message_id: str,
    now: datetime | None = None,
) -> int:
    """POST a Standard Webhooks event: `webhook-id` (stable across retries),
    `webhook-timestamp` (this attempt) and `webhook-signature` (v1 HMAC-SHA256).

    The timestamp is the real wall-clock time unless `now` is given: receivers compare it
    with their own clock, so a test's frozen clock must not leak onto the wire.
    """
    body = encode_json(payload)  # type: ignore[arg-type]
    headers = sign(secret, msg_id=message_id, timestamp=now or SystemClock().now(), body=body)
    return post_json(url, body, headers=headers)
