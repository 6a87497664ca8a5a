"""Post incident notices to Slack and Microsoft Teams incoming webhooks.

Slack answers 200 `ok` on success and plain-text errors otherwise (410 `channel_is_archived`
means the webhook is gone); Teams Workflows webhooks answer 2xx (often 202). Both are plain
POSTs of the payloads built by `fireline.integrations.outbound.messages`.
"""

from __future__ import annotations

from fireline.integrations.outbound.messages import (
    IncidentNotice,
    encode_json,
    slack_message,
    teams_message,
)
from fireline.integrations.outbound.webhook import post_json


def send_slack(url: str, notice: IncidentNotice) -> int:
    """Post `notice` to a Slack incoming webhook; raise WebhookError on failure."""
    return post_json(url, encode_json(slack_message(notice)))


def send_teams(url: str, notice: IncidentNotice) -> int:
    """Post `notice` as an Adaptive Card to a Teams webhook; raise WebhookError on failure."""
    return post_json(url, encode_json(teams_message(notice)))
