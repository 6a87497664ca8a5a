"""HMAC signing and verification for webhooks (pure: no I/O, `now` passed in).

Outbound: Standard Webhooks 1.0. The signed content is `{webhook-id}.{webhook-timestamp}.{body}`,
HMAC-SHA256 keyed with the base64-decoded part of a `whsec_…` secret, sent as
`webhook-signature: v1,<base64>`; several space-separated signatures are allowed while a secret
is rotated. Inbound: Slack's `v0=` signature for slash commands.

    Unauthenticated
     └── SignatureInvalid          missing/malformed headers or no matching signature
          └── SignatureExpired     timestamp further than `tolerance` seconds from now
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence
from datetime import datetime

from fireline.errors import InvalidField, Unauthenticated

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
DEFAULT_TOLERANCE = 300


class SignatureInvalid(Unauthenticated):
    code = "signature_invalid"


class SignatureExpired(SignatureInvalid):
    code = "signature_expired"


def generate_secret(nbytes: int = 32) -> str:
    """Return a new `whsec_<base64>` secret of `nbytes` random bytes (24 to 64)."""
    if not 24 <= nbytes <= 64:
        raise InvalidField("nbytes", "must be between 24 and 64")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField("secret", "must be whsec_ followed by base64") from None
    if not key:
        raise InvalidField("secret", "must not be empty")
    return key


def _unix(timestamp: datetime | int) -> int:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise InvalidField("timestamp", "must be timezone-aware")
        return int(timestamp.timestamp() // 1)
    return timestamp


def signature(secret: str, *, msg_id: str, timestamp: datetime | int, body: bytes) -> str:
    """Return `v1,<base64 HMAC-SHA256>` of `{msg_id}.{unix timestamp}.{body}`."""
    content = f"{msg_id}.{_unix(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(
    secret: str | Sequence[str], *, msg_id: str, timestamp: datetime | int, body: bytes
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for one delivery attempt.

    `msg_id` must stay the same across retries (it is the receiver's idempotency key);
    `timestamp` is this attempt's time (aware datetime or unix seconds). Pass several secrets
    during a rotation to get one signature per secret. Raises `InvalidField("secret")`.
    """
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise InvalidField("secret", "at least one secret is needed")
    if not msg_id or any(c.isspace() or c in ".," for c in msg_id):
        raise InvalidField("msg_id", "must be non-empty without spaces, dots or commas")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(_unix(timestamp)),
        "webhook-signature": " ".join(
            signature(key, msg_id=msg_id, timestamp=timestamp, body=body) for key in keys
        ),
    }


def _check_time(timestamp: str, now: datetime, tolerance: int) -> None:
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureInvalid("timestamp header is not unix seconds")
    sent = int(timestamp)
    if abs(now.timestamp() - sent) > tolerance:
        raise SignatureExpired("timestamp is outside the allowed tolerance")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Check a Standard Webhooks request; return None if any `v1` signature matches.

    Header names are case-insensitive. Raises `SignatureExpired` if the timestamp is more than
    `tolerance` seconds from the aware `now` (either way), `SignatureInvalid` for missing or
    malformed headers or no match. Comparison is constant-time.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures):
        raise SignatureInvalid("missing webhook-id, webhook-timestamp or webhook-signature")
    _check_time(timestamp, now, tolerance)
    expected = signature(secret, msg_id=msg_id, timestamp=int(timestamp), body=body).encode()
    matched = False
    for item in signatures.split():
        version, _, value = item.partition(",")
        if version == "v1" and hmac.compare_digest(expected, f"v1,{value}".encode()):
            matched = True
    if not matched:
        raise SignatureInvalid("no matching webhook signature")


def slack_signature(signing_secret: str, *, timestamp: str, body: bytes) -> str:
    """Return Slack's `v0=<hex HMAC-SHA256>` of `v0:{timestamp}:{raw body}`."""
    content = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), content, hashlib.sha256).hexdigest()


def verify_slack(
    signing_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Check `X-Slack-Signature` / `X-Slack-Request-Timestamp` against the **raw** body.

    Verify before form-decoding. Raises `SignatureExpired` when the timestamp is more than
    `tolerance` seconds from `now`, `SignatureInvalid` when headers are missing or differ.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    given = lowered.get("x-slack-signature", "")
    if not (timestamp and given):
        raise SignatureInvalid("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    _check_time(timestamp, now, tolerance)
    expected = slack_signature(signing_secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureInvalid("Slack signature does not match")
