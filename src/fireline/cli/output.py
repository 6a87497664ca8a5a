"""Rendering for the client commands: Rich tables for people, raw JSON for scripts.

Everything the client prints goes through here, so the look (priority colours, status
styles, ages, timeline lines) is decided in one place. Data goes to stdout; errors and hints
go to stderr, so `fireline incident list --json | jq` never sees a message meant for a person.
Times arrive as ISO 8601 strings from the API; `now` is passed in by the caller.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

JsonObject = dict[str, Any]

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

PRIORITY_STYLES = {"P1": "bold white on red", "P2": "bold red", "P3": "yellow", "P4": "blue"}
STATUS_STYLES = {
    "triggered": "bold red",
    "acknowledged": "yellow",
    "investigating": "magenta",
    "mitigated": "cyan",
    "resolved": "green",
    "closed": "dim",
    "cancelled": "dim strike",
}
# Lifecycle actions as the API names them -> the client command that performs them.
ACTION_COMMANDS = {
    "acknowledge": "ack",
    "investigate": "investigate",
    "mitigate": "mitigate",
    "resolve": "resolve",
    "close": "close",
    "reopen": "reopen",
    "cancel": "cancel",
}


def print_json(data: object) -> None:
    """Write `data` as indented JSON on stdout, unwrapped and uncoloured (safe to pipe)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def error(message: str, *, hint: str | None = None) -> None:
    """Print an error (and an optional hint on the next line) on stderr."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint:[/dim] {escape(hint)}", soft_wrap=True)


def success(message: str) -> None:
    out.print(message, soft_wrap=True)


def report(data: object, message: str, *, as_json: bool) -> None:
    """What a command did: the server's answer as JSON for scripts, else one line for people."""
    if as_json:
        print_json(data)
    else:
        success(message)


def priority_text(priority: str) -> Text:
    return Text(priority, style=PRIORITY_STYLES.get(priority, ""))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def age(since: str, *, now: datetime) -> str:
    """A short age such as `45s`, `12m`, `3h`, `2d` (never negative)."""
    seconds = max(0, int((now - parse_time(since)).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def short_time(value: str) -> str:
    """`2026-03-02 09:00:05Z` (UTC, the way the API stores it)."""
    return parse_time(value).strftime("%Y-%m-%d %H:%M:%SZ")


def _person(ref: Mapping[str, Any] | None) -> str:
    return str(ref["email"]) if ref else "-"


def _names(refs: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(r["name"]) for r in refs) or "-"


def incident_table(items: Sequence[JsonObject], *, now: datetime) -> None:
    """One row per incident: reference, priority, status, age, title, services, assignee."""
    if not items:
        err.print("no incidents match")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("REF", no_wrap=True, style="bold")
    table.add_column("PRI", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("AGE", no_wrap=True, justify="right")
    table.add_column("TITLE", overflow="fold")
    table.add_column("SERVICES", overflow="fold")
    table.add_column("ASSIGNEE", overflow="fold")
    for item in items:
        table.add_row(
            str(item["ref"]),
            priority_text(str(item["priority"])),
            status_text(str(item["status"])),
            age(str(item["created_at"]), now=now),
            Text(str(item["title"])),
            Text(_names(item.get("services") or [])),
            Text(_person(item.get("assignee"))),
        )
    out.print(table)


def incident_detail(incident: JsonObject, events: Sequence[JsonObject], *, now: datetime) -> None:
    """The incident's fields, then its timeline oldest first."""
    header = Text.assemble(
        (str(incident["ref"]), "bold"), "  ", priority_text(str(incident["priority"])), "  "
    )
    header.append_text(status_text(str(incident["status"])))
    header.append(f"  {incident['title']}")
    out.print(header, soft_wrap=True)
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column(overflow="fold")
    priority = str(incident["priority"])
    if incident.get("priority_override_reason"):
        priority += (
            f" (overridden from {incident['priority_derived']}: "
            f"{incident['priority_override_reason']})"
        )
    rows: list[tuple[str, str | None]] = [
        ("priority", f"{priority}  impact {incident['impact']}, urgency {incident['urgency']}"),
        (
            "opened",
            f"{short_time(str(incident['created_at']))} "
            f"({age(str(incident['created_at']), now=now)} ago)",
        ),
        ("services", _names(incident.get("services") or [])),
        ("team", (incident.get("team") or {}).get("name")),
        ("category", incident.get("category")),
        ("commander", _person(incident.get("commander"))),
        ("assignee", _person(incident.get("assignee"))),
        ("reporter", _person(incident.get("reporter"))),
        ("labels", ", ".join(f"{k}={v}" for k, v in (incident.get("labels") or {}).items())),
        ("acknowledged", _maybe_time(incident.get("acknowledged_at"))),
        ("resolved", _maybe_time(incident.get("resolved_at"))),
        ("closed", _maybe_time(incident.get("closed_at"))),
        ("summary", incident.get("resolution_summary")),
        ("cancelled", incident.get("cancel_reason")),
        ("duplicate of", incident.get("duplicate_of")),
        ("next actions", _actions(incident.get("allowed_actions") or [])),
    ]
    for name, value in rows:
        if value:
            fields.add_row(name, Text(value))
    out.print(fields)
    if incident.get("description"):
        out.print()
        out.print(Text(str(incident["description"])), soft_wrap=True)
    out.print()
    out.print(Text("Timeline", style="bold"))
    for event in events:
        line = Text.assemble(
            (short_time(str(event["at"])), "dim"), "  ", (str(event["actor"]), "cyan"), "  "
        )
        indent = "\n" + " " * (len(line) - len(str(event["actor"])) - 2)
        text = timeline_text(event)
        line.append_text(Text(indent).join(text.split("\n")))
        out.print(line, soft_wrap=True)


def _maybe_time(value: str | None) -> str | None:
    return short_time(value) if value else None


def _actions(actions: Sequence[str]) -> str:
    return ", ".join(ACTION_COMMANDS.get(a, a) for a in actions)


def timeline_text(event: Mapping[str, Any]) -> Text:
    """One timeline event as a sentence (the kinds the API records; others shown as data)."""
    kind = str(event["kind"])
    data: Mapping[str, Any] = event.get("data") or {}
    body = str(event.get("body") or "")
    if kind == "created":
        text = Text(f"declared {data.get('ref', '')} ")
        text.append_text(priority_text(str(data.get("priority", ""))))
        text.append(f" {data.get('title', '')}")
        return text
    if kind == "status_changed":
        text = Text("status ")
        text.append_text(status_text(str(data.get("from", "?"))))
        text.append(" → ")
        text.append_text(status_text(str(data.get("to", "?"))))
        for key in ("resolution_summary", "cancel_reason", "duplicate_of"):
            if data.get(key):
                text.append(f"  {key.replace('_', ' ')}: {data[key]}")
        return text
    if kind == "field_changed":
        return Text(
            f"{data.get('field')}: {_brief(data.get('before'))} → {_brief(data.get('after'))}"
        )
    if kind == "priority_overridden":
        return Text(
            f"priority {data.get('derived')} → {data.get('priority')} "
            f"(reason: {data.get('reason')})"
        )
    if kind == "note":
        return Text(f"note: {body}")
    if kind == "status_update":
        return Text(f"status update ({data.get('audience', 'internal')}): {body}")
    if kind == "linked":
        return Text(f"linked {data.get('link', '')} {data.get('incident', '')}")
    detail = body or ", ".join(f"{k}={_brief(v)}" for k, v in data.items())
    return Text(f"{kind.replace('_', ' ')}: {detail}" if detail else kind.replace("_", " "))


def _brief(value: object) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def service_table(items: Sequence[JsonObject]) -> None:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("ID", "NAME", "TIER", "TEAM", "DEPENDS ON", "DESCRIPTION"):
        table.add_column(name, overflow="fold", no_wrap=name in ("ID", "TIER"))
    for item in items:
        table.add_row(
            str(item["id"]),
            Text(str(item["name"]), style="bold"),
            str(item["tier"]),
            Text((item.get("team") or {}).get("name") or "-"),
            Text(_names(item.get("depends_on") or [])),
            Text(str(item.get("description") or "")),
        )
    out.print(table)


def team_table(items: Sequence[JsonObject]) -> None:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("ID", "NAME", "MEMBERS", "DESCRIPTION"):
        table.add_column(name, overflow="fold", no_wrap=name == "ID")
    for item in items:
        members = ", ".join(
            f"{m['email']}" + (f" ({m['team_role']})" if m["team_role"] != "member" else "")
            for m in item.get("members") or []
        )
        table.add_row(
            str(item["id"]),
            Text(str(item["name"]), style="bold"),
            Text(members or "-"),
            Text(str(item.get("description") or "")),
        )
    out.print(table)


def user_detail(user: Mapping[str, Any], *, url: str) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for name in ("email", "name", "role", "timezone", "id"):
        grid.add_row(name, Text(str(user.get(name, ""))))
    grid.add_row("server", Text(url))
    out.print(grid)
