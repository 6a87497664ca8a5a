from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fireline.errors import InvalidField, Unauthenticated
from fireline.integrations.signing import (
    SignatureExpired,
    SignatureInvalid,
    generate_secret,
    sign,
    signature,
    slack_signature,
    verify,
    verify_slack,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BODY = b'{"type":"incident.triggered","data":{"ref":"INC-42"}}'
# The example secret from the Standard Webhooks reference test suite.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_generated_secret_is_whsec_and_base64_of_32_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret
    with pytest.raises(InvalidField):
        generate_secret(8)


def test_sign_matches_the_reference_library_signature() -> None:
    headers = sign(SPEC_SECRET, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=NOW, body=BODY)
    expected = Webhook(SPEC_SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", NOW, BODY.decode())
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": expected,
    }


def test_reference_library_verifies_our_headers() -> None:
    # standardwebhooks reads the real clock, so this cross-check signs "now".
    secret = generate_secret()
    real_now = datetime.now(UTC)
    headers = sign(secret, msg_id="msg_1", timestamp=real_now, body=BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "incident.triggered",
        "data": {"ref": "INC-42"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_we_verify_reference_library_signatures() -> None:
    sig = Webhook(SPEC_SECRET).sign("msg_2", NOW, BODY.decode())
    headers = {
        "Webhook-Id": "msg_2",
        "Webhook-Timestamp": str(int(NOW.timestamp())),
        "Webhook-Signature": sig,
    }
    verify(SPEC_SECRET, headers, BODY, now=NOW + timedelta(seconds=299))


def test_rotation_signs_with_every_secret_and_either_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = sign([new, old], msg_id="msg_3", timestamp=NOW, body=BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, BODY, now=NOW)
    verify(new, headers, BODY, now=NOW)
    with pytest.raises(SignatureInvalid):
        verify(generate_secret(), headers, BODY, now=NOW)


def test_unknown_versions_and_garbage_items_are_ignored_not_crashing() -> None:
    headers = sign(SPEC_SECRET, msg_id="msg_4", timestamp=NOW, body=BODY)
    headers["webhook-signature"] = "v1a,abc garbage v2,xyz " + headers["webhook-signature"]
    verify(SPEC_SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda h: h | {"webhook-signature": "v1," + "A" * 44}, SignatureInvalid),
        (lambda h: h | {"webhook-signature": "nonsense"}, SignatureInvalid),
        (lambda h: h | {"webhook-id": "msg_other"}, SignatureInvalid),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, SignatureInvalid),
        (lambda h: h | {"webhook-timestamp": "1e9"}, SignatureInvalid),
        (lambda h: h | {"webhook-timestamp": str(int(NOW.timestamp()) - 301)}, SignatureExpired),
        (lambda h: h | {"webhook-timestamp": str(int(NOW.timestamp()) + 301)}, SignatureExpired),
    ],
)
def test_tampered_or_stale_requests_are_refused(
    change: object, error: type[SignatureInvalid]
) -> None:
    headers = sign(SPEC_SECRET, msg_id="msg_5", timestamp=NOW, body=BODY)
    with pytest.raises(error) as caught:
        verify(SPEC_SECRET, change(headers), BODY, now=NOW)  # type: ignore[operator]
    assert isinstance(caught.value, Unauthenticated) and caught.value.status == 401


def test_changed_body_is_refused() -> None:
    headers = sign(SPEC_SECRET, msg_id="msg_6", timestamp=NOW, body=BODY)
    with pytest.raises(SignatureInvalid):
        verify(SPEC_SECRET, headers, BODY + b" ", now=NOW)


def test_bad_secret_and_msg_id_are_refused() -> None:
    with pytest.raises(InvalidField):
        sign("whsec_!!!not base64", msg_id="m", timestamp=NOW, body=BODY)
    with pytest.raises(InvalidField):
        sign(SPEC_SECRET, msg_id="a b", timestamp=NOW, body=BODY)
    with pytest.raises(InvalidField):
        sign([], msg_id="m", timestamp=NOW, body=BODY)


@given(body=st.binary(max_size=256), msg_id=st.from_regex(r"\Amsg_[A-Za-z0-9]{1,24}\Z"))
def test_signature_equals_the_reference_for_any_body(body: bytes, msg_id: str) -> None:
    ours = signature(SPEC_SECRET, msg_id=msg_id, timestamp=NOW, body=body)
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    content = f"{msg_id}.{int(NOW.timestamp())}.".encode() + body
    assert (
        ours == "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    )


# --- Slack v0 ----------------------------------------------------------------------------------

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_headers(body: bytes, ts: int) -> dict[str, str]:
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": "v0=" + digest.hexdigest()}


def test_slack_signature_verifies_raw_body() -> None:
    body = b"token=x&team_id=T1&command=%2Ffireline&text=ack+INC-42"
    ts = int(NOW.timestamp())
    headers = slack_headers(body, ts)
    assert (
        slack_signature(SLACK_SECRET, timestamp=str(ts), body=body) == headers["X-Slack-Signature"]
    )
    verify_slack(SLACK_SECRET, headers, body, now=NOW)
    with pytest.raises(SignatureInvalid):
        verify_slack(SLACK_SECRET, headers, body + b"x", now=NOW)
    with pytest.raises(SignatureInvalid):
        verify_slack(SLACK_SECRET, {}, body, now=NOW)
    with pytest.raises(SignatureExpired):
        verify_slack(SLACK_SECRET, headers, body, now=NOW + timedelta(seconds=301))
