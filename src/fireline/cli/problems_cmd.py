"""Client commands for problems and known errors, over HTTP like `fireline incident`.

    fireline problem list|show|create|link|unlink|transition|note|export
    fireline known-error list|show|create

Same server options, exit codes and `--json` as the incident commands (see `cli/client.py`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from rich.text import Text

from fireline.cli import output
from fireline.cli.client import (
    DEFAULT_URL,
    JsonOpt,
    LabelOpt,
    ServiceOpt,
    TokenOpt,
    UrlOpt,
    _labels,
    _text,
    _user,
    connect,
)
from fireline.cli.output import JsonObject
from fireline.clock import SystemClock
from fireline.domain.priority import Priority

app = typer.Typer(help="Problems: root causes behind incidents.", no_args_is_help=True)
known_error_app = typer.Typer(help="The known-error database.", no_args_is_help=True)

ProblemArg = Annotated[
    str, typer.Argument(metavar="PROBLEM", help="Problem reference (PRB-7) or id.")
]


def register(root: typer.Typer) -> None:
    """Add `problem` and `known-error` to the root `fireline` app."""
    root.add_typer(app, name="problem")
    root.add_typer(known_error_app, name="known-error")


def _path(ref: str, suffix: str = "") -> str:
    return f"/api/v1/problems/{quote(ref.strip(), safe='')}{suffix}"


# ---------------------------------------------------------------- problems


@app.command("list")
def list_problems(
    status: Annotated[list[str] | None, typer.Option("--status", help="Repeatable.")] = None,
    service: ServiceOpt = None,
    team: Annotated[
        list[str] | None, typer.Option("--team", help="Owner team; repeatable.")
    ] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Free text.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    every: Annotated[bool, typer.Option("--all", help="Follow the cursor to the end.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List problems, newest first."""
    params: dict[str, Any] = {
        "status": status or [],
        "service": service or [],
        "owner_team": team or [],
        "limit": limit,
    }
    if query:
        params["q"] = query
    items: list[JsonObject] = []
    cursor: int | None = None
    with connect(url, token) as api:
        while True:
            page = api.get(
                "/api/v1/problems", params={**params, "cursor": cursor} if cursor else params
            )
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if cursor is None or not every:
                break
    if as_json:
        output.print_json({"items": items, "next_cursor": cursor})
        return
    _problem_table(items)
    if cursor is not None:
        output.err.print("[dim]more problems: pass --all (or --limit up to 200)[/dim]")


@app.command("show")
def show_problem(
    ref: ProblemArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """A problem's fields, RCA, linked incidents and timeline."""
    with connect(url, token) as api:
        problem = api.get(_path(ref))
        events = api.get(_path(str(problem["ref"]), "/timeline"), params={"limit": 1000})["events"]
    if as_json:
        output.print_json({**problem, "timeline": events})
        return
    _problem_detail(problem, events)


@app.command("create")
def create_problem(
    title: Annotated[str, typer.Argument(help="The problem, in a line.")],
    description: Annotated[str, typer.Option(help="Details (Markdown).")] = "",
    priority: Annotated[Priority, typer.Option(case_sensitive=False)] = Priority.P3,
    service: ServiceOpt = None,
    incident: Annotated[
        list[str] | None, typer.Option("--incident", "-i", help="Incident to link; repeatable.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Owner team (name or id).")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner (email, id or `me`).")] = None,
    reactive: Annotated[
        bool, typer.Option("--reactive", help="Raised from incidents (default: proactive).")
    ] = False,
    watch_days: Annotated[int, typer.Option(min=1, max=365, help="Fix watch period.")] = 30,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a problem, optionally linking incidents at once."""
    body: JsonObject = {
        "title": title,
        "description": description,
        "priority": priority.value,
        "services": service or [],
        "incidents": incident or [],
        "origin": "reactive" if reactive or incident else "proactive",
        "watch_days": watch_days,
    }
    if team:
        body["owner_team"] = team
    with connect(url, token) as api:
        if owner:
            body["owner_user"] = _user(api, owner)
        problem = api.post("/api/v1/problems", body)
    if as_json:
        output.print_json(problem)
        return
    line = Text(f"{problem['ref']} ", style="bold")
    line.append("opened: ")
    line.append_text(output.priority_text(str(problem["priority"])))
    line.append(f" {problem['title']}")
    output.out.print(line, soft_wrap=True)


@app.command("link")
def link(
    ref: ProblemArg,
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident reference.")],
    reason: Annotated[str, typer.Option(help="Why they belong together.")] = "",
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link an incident to a problem (shown on both timelines)."""
    with connect(url, token) as api:
        problem = api.post(_path(ref, "/incidents"), {"incident": incident, "reason": reason})
    if as_json:
        output.print_json(problem)
    else:
        output.success(f"{incident.strip().upper()} linked to {problem['ref']}")


@app.command("unlink")
def unlink(
    ref: ProblemArg,
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident reference.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove an incident's link to a problem."""
    path = _path(ref, f"/incidents/{quote(incident.strip(), safe='')}")
    with connect(url, token) as api:
        problem = api.call("DELETE", path)[1]
    if as_json:
        output.print_json(problem)
    else:
        output.success(f"{incident.strip().upper()} unlinked from {problem['ref']}")


@app.command("transition")
def transition(
    ref: ProblemArg,
    action: Annotated[str, typer.Argument(help="investigate, resolve, close, reopen, ...")],
    root_cause: Annotated[str | None, typer.Option(help="Root-cause statement.")] = None,
    workaround: Annotated[str | None, typer.Option(help="Workaround (for a known error).")] = None,
    fix: Annotated[str | None, typer.Option(help="How it was fixed (for resolve).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (e.g. for reopen).")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a problem through its lifecycle; a refused action lists the allowed ones."""
    given = {
        "root_cause": root_cause,
        "workaround": workaround,
        "fix_description": fix,
        "reason": reason,
    }
    body: JsonObject = {"action": action, **{k: v for k, v in given.items() if v}}
    with connect(url, token) as api:
        problem = api.post(_path(ref, "/transitions"), body)
    if as_json:
        output.print_json(problem)
        return
    line = Text(f"{problem['ref']} is now ")
    line.append_text(output.status_text(str(problem["status"])))
    output.out.print(line, soft_wrap=True)
    if problem.get("allowed_actions"):
        output.err.print(f"[dim]next: {', '.join(problem['allowed_actions'])}[/dim]")


@app.command("note")
def note(
    ref: ProblemArg,
    text: Annotated[str, typer.Argument(help="Markdown text, or - to read standard input.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the problem's timeline."""
    body = _text(text, what="note")
    with connect(url, token) as api:
        event = api.post(_path(ref, "/notes"), {"body": body})
    if as_json:
        output.print_json(event)
    else:
        output.success(f"note {event['id']} added to {ref.strip().upper()}")


@app.command("export")
def export(ref: ProblemArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = None) -> None:
    """The problem with its RCA, linked incidents, changes and timeline, as JSON."""
    with connect(url, token) as api:
        data = api.get(_path(ref, "/export"))
    output.print_json(data)


def _problem_table(items: list[JsonObject]) -> None:
    if not items:
        output.err.print("no problems match")
        return
    now = SystemClock().now()
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("REF", "PRI", "STATUS", "AGE", "TITLE", "SERVICES", "INCIDENTS", "FIX"):
        table.add_column(name, overflow="fold", no_wrap=name in ("REF", "PRI", "STATUS", "AGE"))
    for item in items:
        table.add_row(
            Text(str(item["ref"]), style="bold"),
            output.priority_text(str(item["priority"])),
            Text(str(item["status"])),
            output.age(str(item["created_at"]), now=now),
            Text(str(item["title"])),
            Text(", ".join(s["name"] for s in item.get("services") or []) or "-"),
            str(item.get("incident_count", 0)),
            Text(str((item.get("verification") or {}).get("state", "-"))),
        )
    output.out.print(table)


def _problem_detail(problem: JsonObject, events: list[JsonObject]) -> None:
    header = Text.assemble((str(problem["ref"]), "bold"), "  ")
    header.append_text(output.priority_text(str(problem["priority"])))
    header.append(f"  {problem['status']}  {problem['title']}")
    output.out.print(header, soft_wrap=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    verification = problem.get("verification") or {}
    rows = [
        ("origin", problem.get("origin")),
        (
            "owner",
            (problem.get("owner_team") or {}).get("name")
            or (problem.get("owner_user") or {}).get("email"),
        ),
        ("services", ", ".join(s["name"] for s in problem.get("services") or [])),
        ("root cause", problem.get("root_cause")),
        ("workaround", problem.get("workaround")),
        ("known error", (problem.get("known_error") or {}).get("ref")),
        ("fix", ", ".join(c["change_ref"] for c in problem.get("changes") or [])),
        ("verification", verification.get("state")),
        ("watch until", verification.get("verify_until")),
        ("next actions", ", ".join(problem.get("allowed_actions") or [])),
    ]
    for name, value in rows:
        if value and value != "none":
            grid.add_row(name, Text(str(value)))
    output.out.print(grid)
    if problem.get("description"):
        output.out.print()
        output.out.print(Text(str(problem["description"])), soft_wrap=True)
    linked = problem.get("incidents") or []
    if linked:
        output.out.print()
        output.out.print(Text("Incidents", style="bold"))
        for inc in linked:
            output.out.print(
                Text(f"{inc['ref']}  {inc['priority']}  {inc['status']}  {inc['title']}"),
                soft_wrap=True,
            )
    output.out.print()
    output.out.print(Text("Timeline", style="bold"))
    for event in events:
        line = Text.assemble(
            (output.short_time(str(event["at"])), "dim"), "  ", (str(event["actor"]), "cyan"), "  "
        )
        data = event.get("data") or {}
        if event["kind"] == "linked" and data.get("link") == "incident":
            line.append(f"{data.get('action', 'linked')} {data.get('incident', '')}")
        else:
            line.append_text(output.timeline_text(event))
        output.out.print(line, soft_wrap=True)


# ---------------------------------------------------------------- known errors


@known_error_app.command("list")
def list_known_errors(
    service: Annotated[str | None, typer.Option("--service", "-s")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q")] = None,
    include_inactive: Annotated[bool, typer.Option("--all", help="Include retired ones.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List known errors, newest first."""
    params: dict[str, Any] = {"limit": 200}
    if not include_inactive:
        params["active"] = "true"
    if service:
        params["service"] = service
    if query:
        params["q"] = query
    with connect(url, token) as api:
        page = api.get("/api/v1/known-errors", params=params)
    if as_json:
        output.print_json(page)
        return
    if not page["items"]:
        output.err.print("no known errors match")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("REF", "TITLE", "SERVICES", "FIX", "PROBLEM", "WORKAROUND"):
        table.add_column(name, overflow="fold", no_wrap=name == "REF")
    for item in page["items"]:
        table.add_row(
            Text(str(item["ref"]), style="bold"),
            Text(str(item["title"])),
            Text(", ".join(s["name"] for s in item.get("services") or []) or "-"),
            str(item["fix_status"]),
            str(item.get("problem") or "-"),
            Text(str(item.get("workaround") or "")),
        )
    output.out.print(table)


@known_error_app.command("show")
def show_known_error(
    ref: Annotated[str, typer.Argument(metavar="KNOWN_ERROR", help="KE-12 or 12.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A known error: symptoms, root cause, workaround and how it is matched."""
    with connect(url, token) as api:
        item = api.get(f"/api/v1/known-errors/{quote(ref.strip(), safe='')}")
    if as_json:
        output.print_json(item)
        return
    output.out.print(
        Text.assemble((str(item["ref"]), "bold"), f"  {item['title']}"), soft_wrap=True
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in (
        ("symptoms", item.get("symptoms")),
        ("root cause", item.get("root_cause")),
        ("workaround", item.get("workaround")),
        ("fix status", item.get("fix_status")),
        ("services", ", ".join(s["name"] for s in item.get("services") or [])),
        ("labels", ", ".join(f"{k}={v}" for k, v in (item.get("labels") or {}).items())),
        ("keywords", ", ".join(item.get("keywords") or [])),
        ("problem", item.get("problem")),
        ("active", "yes" if item.get("active") else "no"),
    ):
        if value:
            grid.add_row(name, Text(str(value)))
    output.out.print(grid)


@known_error_app.command("create")
def create_known_error(
    title: Annotated[str, typer.Argument(help="The known error, in a line.")],
    workaround: Annotated[str, typer.Option(help="What responders can do right away.")] = "",
    symptoms: Annotated[str, typer.Option(help="How it shows.")] = "",
    root_cause: Annotated[str, typer.Option(help="Why it happens.")] = "",
    service: ServiceOpt = None,
    label: LabelOpt = None,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", "-k", help="Match word; repeatable.")
    ] = None,
    problem: Annotated[str | None, typer.Option(help="Problem reference (PRB-7).")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a known error; matching new incidents show its workaround at once."""
    body: JsonObject = {
        "title": title,
        "workaround": workaround,
        "symptoms": symptoms,
        "root_cause": root_cause,
        "services": service or [],
        "labels": _labels(label),
        "keywords": keyword or [],
    }
    if problem:
        body["problem"] = problem
    with connect(url, token) as api:
        item = api.post("/api/v1/known-errors", body)
    if as_json:
        output.print_json(item)
    else:
        output.success(f"{item['ref']} recorded: {item['title']}")
