from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.domain.timeline import JsonValue
from fireline.errors import InvalidField
from fireline.integrations.outbound.messages import (
    IncidentNotice,
    email_message,
    encode_json,
    rfc3339,
    slack_escape,
    slack_message,
    teams_escape,
    teams_message,
    webhook_event,
)

NOTICE = IncidentNotice(
    event_type="incident.triggered",
    ref="INC-42",
    title="checkout <down> & payments failing",
    status="triggered",
    url="https://fireline.example/incidents/INC-42",
    occurred_at=datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=1))),
    priority="P1",
    service_names=("checkout", "pay<ments>"),
    ack_url="https://fireline.example/incidents/INC-42/ack?t=a&u=b",
    resolve_url="https://fireline.example/incidents/INC-42/resolve",
)


def blocks(payload: dict[str, JsonValue]) -> list[dict[str, JsonValue]]:
    value = payload["blocks"]
    assert isinstance(value, list)
    return [b for b in value if isinstance(b, dict)]


def test_slack_message_has_fallback_text_header_section_link_and_context() -> None:
    payload = slack_message(NOTICE)
    assert payload["text"] == "P1 · INC-42 triggered: checkout &lt;down&gt; &amp; payments failing"
    header, section, context = blocks(payload)
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "P1 · INC-42 triggered"},
    }
    assert section["text"] == {
        "type": "mrkdwn",
        "text": "*<https://fireline.example/incidents/INC-42|INC-42: checkout &lt;down&gt; "
        "&amp; payments failing>*",
    }
    text = json.dumps(context)
    assert "pay&lt;ments&gt;" in text
    assert "<https://fireline.example/incidents/INC-42/ack?t=a&amp;u=b|Acknowledge>" in text
    json.dumps(payload)  # serialisable


def test_slack_cannot_be_tricked_into_mentions_or_links() -> None:
    evil = replace(NOTICE, title="<!channel> <https://evil.example|click> | *x*\nsecond line")
    section = blocks(slack_message(evil))[1]["text"]
    assert isinstance(section, dict)
    text = section["text"]
    assert isinstance(text, str)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "\n" not in text
    assert text.count("<") == 1 and text.count(">") == 1  # only our own link


def test_slack_limits_are_respected_without_cutting_entities() -> None:
    long = replace(NOTICE, title="&" * 5000)
    payload = slack_message(long)
    _, section, _ = blocks(payload)
    section_text = section["text"]
    assert isinstance(section_text, dict) and isinstance(section_text["text"], str)
    assert len(section_text["text"]) <= 3000
    assert section_text["text"].endswith("&amp;…>*")
    assert isinstance(payload["text"], str) and len(payload["text"]) <= 3000
    assert payload["text"].endswith("&amp;…")
    header_text = replace(NOTICE, ref="INC-" + "9" * 200)
    assert len(str(blocks(slack_message(header_text))[0]["text"])) < 200


def test_teams_message_is_an_adaptive_card_envelope_with_url_actions() -> None:
    payload = teams_message(NOTICE)
    assert payload["type"] == "message"
    attachments = payload["attachments"]
    assert isinstance(attachments, list) and len(attachments) == 1
    attachment = attachments[0]
    assert isinstance(attachment, dict)
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert isinstance(card, dict)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open", "url": NOTICE.url},
        {"type": "Action.OpenUrl", "title": "Acknowledge", "url": NOTICE.ack_url},
        {"type": "Action.OpenUrl", "title": "Resolve", "url": NOTICE.resolve_url},
    ]
    assert "checkout \\<down\\> & payments failing" in json.dumps(card["body"]).replace(
        "\\\\", "\\"
    )


def test_teams_escape_neutralises_markdown() -> None:
    assert teams_escape("[click](https://evil) **bold** _x_\n# h") == (
        "\\[click\\]\\(https://evil\\) \\*\\*bold\\*\\* \\_x\\_ \\# h"
    )


def test_webhook_event_follows_standard_webhooks_shape() -> None:
    event = webhook_event(NOTICE)
    assert event == {
        "type": "incident.triggered",
        "timestamp": "2026-11-23T08:00:00Z",
        "data": {
            "ref": "INC-42",
            "title": "checkout <down> & payments failing",
            "status": "triggered",
            "priority": "P1",
            "services": ["checkout", "pay<ments>"],
            "url": NOTICE.url,
            "ack_url": NOTICE.ack_url,
            "resolve_url": NOTICE.resolve_url,
        },
    }
    body = encode_json(event)
    assert json.loads(body) == event
    assert body.startswith(b'{"type":"incident.triggered","timestamp":"2026-11-23T08:00:00Z"')


def test_rfc3339_is_utc_with_z() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)) == "2026-01-02T03:04:05.600Z"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_email_has_one_line_subject_text_and_escaped_html() -> None:
    evil = replace(NOTICE, title='<script>alert("x")</script>\r\nBcc: victim@example.com')
    mail = email_message(evil)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject.startswith("[Fireline] P1 · INC-42 triggered: <script>")
    assert "Acknowledge: https://fireline.example/incidents/INC-42/ack?t=a&u=b" in mail.text
    parser = _Collector()
    parser.feed(mail.html)
    assert "script" not in parser.tags
    assert parser.hrefs == [NOTICE.url, NOTICE.ack_url, NOTICE.resolve_url]
    assert '<script>alert("x")</script> Bcc: victim@example.com' in "".join(parser.text)


def test_optional_fields_are_left_out() -> None:
    bare = IncidentNotice(
        event_type="incident.resolved",
        ref="INC-1",
        title="t",
        status="resolved",
        url="http://localhost:8000/incidents/INC-1",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert len(blocks(slack_message(bare))[2]["elements"]) == 1  # type: ignore[arg-type]
    assert "Acknowledge" not in email_message(bare).html
    assert webhook_event(bare)["data"] == {
        "ref": "INC-1",
        "title": "t",
        "status": "resolved",
        "priority": None,
        "services": [],
        "url": "http://localhost:8000/incidents/INC-1",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_type": "Incident Triggered"}, "event_type"),
        ({"event_type": "triggered"}, "event_type"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"ack_url": "ftp://x"}, "ack_url"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),
    ],
)
def test_bad_notices_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        replace(NOTICE, **changes)  # type: ignore[arg-type]
    assert caught.value.field == field


@given(st.text(max_size=200))
def test_slack_escape_leaves_no_control_characters(text: str) -> None:
    escaped = slack_escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").count("&") == 0
