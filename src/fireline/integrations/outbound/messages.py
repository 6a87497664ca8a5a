"""Pure builders for outbound incident notifications (no I/O; senders live elsewhere).

One `IncidentNotice` renders to every channel:

    slack_message()  Slack incoming webhook: `text` fallback + header/section/context blocks
    teams_message()  Teams (Workflows) webhook: Adaptive Card in an `attachments` envelope
    webhook_event()  Standard Webhooks body `{"type", "timestamp", "data"}`; `encode_json()`
    email_message()  subject, plain text and HTML

User-supplied text (titles, service names) is escaped for each format: Slack mrkdwn `& < >`,
Teams markdown with backslashes, HTML with `html.escape`, and line breaks are removed from the
e-mail subject so it cannot inject headers. Links must be http(s) URLs.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fireline.domain.notification_rules import validate_url
from fireline.domain.timeline import JsonValue
from fireline.errors import InvalidField

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_TEAMS_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")
_SLACK_HEADER_MAX = 150
_SLACK_SECTION_MAX = 3000
_SUBJECT_MAX = 200


@dataclass(frozen=True, slots=True)
class IncidentNotice:
    """What happened to which incident, ready to render.

    `event_type` is dot-separated lower case (`incident.triggered`); `occurred_at` is aware and
    becomes the event timestamp; every URL must be absolute http(s). Raises `InvalidField`.
    """

    event_type: str
    ref: str
    title: str
    status: str
    url: str
    occurred_at: datetime
    priority: str | None = None
    service_names: tuple[str, ...] = field(default_factory=tuple)
    ack_url: str | None = None
    resolve_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "service_names", tuple(self.service_names))
        if not _EVENT_TYPE.match(self.event_type):
            raise InvalidField("event_type", "must look like incident.triggered")
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise InvalidField("occurred_at", "must be timezone-aware")
        validate_url(self.url, field="url")
        for name in ("ack_url", "resolve_url"):
            value = getattr(self, name)
            if value is not None:
                validate_url(value, field=name)

    @property
    def action(self) -> str:
        """The event type's last part in words: `incident.status_updated` → `status updated`."""
        return self.event_type.rsplit(".", 1)[1].replace("_", " ")

    @property
    def headline(self) -> str:
        """`P1 · INC-42 triggered` (plain text, unescaped)."""
        prefix = f"{self.priority} · " if self.priority else ""
        return f"{prefix}{self.ref} {self.action}"


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str
    html: str


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def slack_escape(text: str) -> str:
    """Escape `&`, `<` and `>` so Slack shows the text literally (no links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_fit(text: str, limit: int) -> str:
    """Escape `text` for mrkdwn, cutting it (never inside an entity) to at most `limit` chars."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 1  # room for the ellipsis
    for char in text:
        piece = slack_escape(char)
        if used + len(piece) > limit:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def _slack_url(url: str) -> str:
    return slack_escape(url).replace("|", "%7C")


def slack_message(notice: IncidentNotice) -> dict[str, JsonValue]:
    """Return a Slack incoming-webhook payload: mrkdwn `text` fallback plus blocks.

    The header is plain text (≤ 150 chars); the section links `REF: title` to the incident
    (≤ 3000 chars); the context line carries status, services and ack/resolve links. Long
    titles are cut with "…".
    """
    title = _one_line(notice.title)
    context = [f"Status: *{slack_escape(_one_line(notice.status))}*"]
    if notice.service_names:
        services = ", ".join(_one_line(name) for name in notice.service_names)
        context.append(f"Services: {_slack_fit(services, 1000)}")
    if notice.ack_url:
        context.append(f"<{_slack_url(notice.ack_url)}|Acknowledge>")
    if notice.resolve_url:
        context.append(f"<{_slack_url(notice.resolve_url)}|Resolve>")
    link_start = f"*<{_slack_url(notice.url)}|"
    label = _slack_fit(f"{notice.ref}: {title}", _SLACK_SECTION_MAX - len(link_start) - 2)
    headline = slack_escape(notice.headline)
    return {
        "text": headline + ": " + _slack_fit(title, _SLACK_SECTION_MAX - len(headline) - 2),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _truncate(_one_line(notice.headline), _SLACK_HEADER_MAX),
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{link_start}{label}>*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def teams_escape(text: str) -> str:
    """Backslash-escape the markdown that Adaptive Card text blocks interpret, on one line."""
    return _TEAMS_SPECIAL.sub(r"\\\1", _one_line(text))


def teams_message(notice: IncidentNotice) -> dict[str, JsonValue]:
    """Return a Teams webhook payload: one Adaptive Card (1.4) in a `message` envelope.

    Links are `Action.OpenUrl` buttons, so URLs never pass through markdown.
    """
    facts: list[JsonValue] = [{"title": "Status", "value": teams_escape(notice.status)}]
    if notice.priority:
        facts.append({"title": "Priority", "value": teams_escape(notice.priority)})
    if notice.service_names:
        services = ", ".join(notice.service_names)
        facts.append({"title": "Services", "value": teams_escape(services)})
    actions: list[JsonValue] = [{"type": "Action.OpenUrl", "title": "Open", "url": notice.url}]
    if notice.ack_url:
        actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": notice.ack_url})
    if notice.resolve_url:
        actions.append({"type": "Action.OpenUrl", "title": "Resolve", "url": notice.resolve_url})
    card: dict[str, JsonValue] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": teams_escape(notice.headline),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": teams_escape(notice.title), "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def rfc3339(moment: datetime) -> str:
    """Format an aware instant as UTC RFC 3339 with a `Z`, e.g. `2026-11-23T08:00:00Z`."""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def webhook_event(notice: IncidentNotice) -> dict[str, JsonValue]:
    """Return the Standard Webhooks body `{"type", "timestamp", "data": {...}}`.

    `timestamp` is `occurred_at` in RFC 3339 UTC; `data` holds the incident fields unescaped
    (JSON needs no markup escaping).
    """
    data: dict[str, JsonValue] = {
        "ref": notice.ref,
        "title": notice.title,
        "status": notice.status,
        "priority": notice.priority,
        "services": list(notice.service_names),
        "url": notice.url,
    }
    if notice.ack_url:
        data["ack_url"] = notice.ack_url
    if notice.resolve_url:
        data["resolve_url"] = notice.resolve_url
    return {"type": notice.event_type, "timestamp": rfc3339(notice.occurred_at), "data": data}


def encode_json(payload: dict[str, JsonValue]) -> bytes:
    """Serialise a payload compactly as UTF-8: these exact bytes are what gets signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def email_message(notice: IncidentNotice) -> EmailContent:
    """Return subject, plain-text and HTML bodies; the subject is one line (≤ 200 chars)."""
    title = _one_line(notice.title)
    subject = _truncate(_one_line(f"[Fireline] {notice.headline}: {title}"), _SUBJECT_MAX)
    lines = [f"{notice.headline}: {title}", "", f"Status: {notice.status}"]
    if notice.priority:
        lines.append(f"Priority: {notice.priority}")
    if notice.service_names:
        lines.append(f"Services: {', '.join(notice.service_names)}")
    lines += ["", f"Open: {notice.url}"]
    if notice.ack_url:
        lines.append(f"Acknowledge: {notice.ack_url}")
    if notice.resolve_url:
        lines.append(f"Resolve: {notice.resolve_url}")

    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    def link(url: str, label: str) -> str:
        return f'<a href="{esc(url)}">{esc(label)}</a>'

    rows = [("Status", notice.status)]
    if notice.priority:
        rows.append(("Priority", notice.priority))
    if notice.service_names:
        rows.append(("Services", ", ".join(notice.service_names)))
    links = [link(notice.url, "Open incident")]
    if notice.ack_url:
        links.append(link(notice.ack_url, "Acknowledge"))
    if notice.resolve_url:
        links.append(link(notice.resolve_url, "Resolve"))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{esc(subject)}</title></head><body>"
        f"<h1>{esc(notice.headline)}</h1><p>{esc(title)}</p>"
        f"<table>{body}</table><p>{' · '.join(links)}</p></body></html>"
    )
    return EmailContent(subject=subject, text="\n".join(lines) + "\n", html=page)
