"""Client commands for on-call: `fireline oncall …` and `fireline schedule …` over HTTP.

    fireline oncall now [--at TIME]          who is on call: per schedule, team and service
    fireline oncall page INC-7 --user bob@x  page a person, --schedule NAME or --team NAME now
    fireline oncall escalations INC-7        the incident's escalation state
    fireline oncall policies                 escalation policies and their levels
    fireline oncall feed [--schedule NAME]   a calendar subscription URL (yours by default)
    fireline schedule list | shifts NAME [--days 7] | override NAME --user U --start --end
    fireline schedule swap NAME FIRST SECOND

Schedules, teams and people are named by id or name (people also by e-mail or `me`). Times
are ISO 8601 with an offset (`2026-03-02T09:00+01:00`); `--json` prints the server's JSON.
Exit codes are those of `fireline incident` (1 refused, 2 usage, 3 unreachable).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from fireline.cli import output
from fireline.cli.client import DEFAULT_URL, Api, JsonOpt, TokenOpt, UrlOpt, connect, usage_error

oncall_app = typer.Typer(help="Who is on call, paging, escalation policies.", no_args_is_help=True)
schedule_app = typer.Typer(
    help="On-call schedules, shifts, overrides, swaps.", no_args_is_help=True
)

ScheduleArg = Annotated[str, typer.Argument(metavar="SCHEDULE", help="Schedule name or id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")
    app.add_typer(schedule_app, name="schedule")


def _when(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise usage_error(
            f"{option} {value!r}: use ISO 8601, e.g. 2026-03-02T09:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        raise usage_error(f"{option} {value!r}: add a UTC offset (e.g. +01:00 or Z)")
    return parsed


def _find(api: Api, path: str, value: str, what: str, keys: tuple[str, ...] = ("name",)) -> int:
    """The id of the item at `path` whose id or one of `keys` is `value` (case-insensitive)."""
    if value.isdigit():
        return int(value)
    wanted = value.strip().lower()
    for item in api.get(path):
        if any(str(item.get(k, "")).lower() == wanted for k in keys):
            return int(item["id"])
    raise usage_error(f"no {what} {value!r}", hint=f"list them with `fireline {what} list`")


def _user_id(api: Api, value: str) -> int:
    if value == "me":
        return int(api.get("/api/v1/me")["id"])
    return _find(api, "/api/v1/users", value, "user", ("email", "name"))


def _names(refs: list[dict[str, Any]]) -> str:
    return ", ".join(str(r["name"]) for r in refs) or "—"


@oncall_app.command("now")
def now(
    at: Annotated[str | None, typer.Option(help="ISO time instead of now.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is on call now (or --at): per schedule, per team and per service."""
    params = {} if at is None else {"at": _when(at, "--at").isoformat()}
    with connect(url, token) as api:
        found = api.get("/api/v1/oncall", params=params)
    if as_json:
        output.print_json(found)
        return
    table = Table(title=f"On call at {output.short_time(found['at'])}", title_justify="left")
    for column in ("Schedule", "Team", "On call"):
        table.add_column(column)
    for item in found["schedules"]:
        team = item["team"]["name"] if item["team"] else "—"
        table.add_row(item["schedule"]["name"], team, _names(item["users"]))
    output.out.print(table)
    if found["services"]:
        services = Table(title="Paged per service (level by level)", title_justify="left")
        for column in ("Service", "Policy", "Levels"):
            services.add_column(column)
        for item in found["services"]:
            levels = " → ".join(
                f"{i}. {_names(level)}" for i, level in enumerate(item["levels"], 1)
            )
            services.add_row(item["service"]["name"], item["policy"]["name"], levels)
        output.out.print(services)


@oncall_app.command("page")
def page(
    ref: Annotated[str, typer.Argument(metavar="REF", help="Incident (INC-42) or id.")],
    user: Annotated[str | None, typer.Option(help="Email, name, id or `me`.")] = None,
    schedule: Annotated[str | None, typer.Option(help="Whoever is on call in it.")] = None,
    team: Annotated[str | None, typer.Option(help="Every member of the team.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Page a person, a schedule's on-call or a whole team about an incident, now."""
    chosen = [(k, v) for k, v in (("user", user), ("schedule", schedule), ("team", team)) if v]
    if len(chosen) != 1:
        raise usage_error("give exactly one of --user, --schedule or --team")
    kind, value = chosen[0]
    with connect(url, token) as api:
        if kind == "user":
            ident = _user_id(api, value)
        elif kind == "schedule":
            ident = _find(api, "/api/v1/schedules", value, "schedule")
        else:
            ident = _find(api, "/api/v1/teams", value, "team")
        answer = api.post(
            f"/api/v1/incidents/{quote(ref.strip(), safe='')}/page",
            {"target": {"kind": kind, "id": ident}},
        )
        users = {u["id"]: u["name"] for u in api.get("/api/v1/users")}
    if as_json:
        output.print_json(answer)
        return
    names = ", ".join(users.get(u, f"user {u}") for u in answer["paged_user_ids"])
    output.success(f"paged {names} about {ref.strip().upper()}")


@oncall_app.command("escalations")
def escalations(
    ref: Annotated[str, typer.Argument(metavar="REF", help="Incident (INC-42) or id.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The incident's escalations: state, level, round and when the next step is due."""
    with connect(url, token) as api:
        rows = api.get(f"/api/v1/incidents/{quote(ref.strip(), safe='')}/escalations")
    if as_json:
        output.print_json(rows)
        return
    table = Table()
    for column in ("Id", "State", "Level", "Round", "Next step", "Stopped because"):
        table.add_column(column)
    for row in rows:
        level = "assignee" if row["level"] < 0 else str(row["level"] + 1)
        next_due = output.short_time(row["next_due"]) if row.get("next_due") else "—"
        table.add_row(
            str(row["id"]),
            row["state"],
            level,
            str(row["round"] + 1),
            next_due,
            row.get("stop_reason") or "—",
        )
    output.out.print(table)


@oncall_app.command("policies")
def policies(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Escalation policies: each level's targets and delay."""
    with connect(url, token) as api:
        found = api.get("/api/v1/escalation-policies")
    if as_json:
        output.print_json(found)
        return
    table = Table()
    for column in ("Id", "Name", "Levels", "Repeat"):
        table.add_column(column)
    for policy in found:
        levels = "; ".join(
            f"{i}. {', '.join(t['kind'] + ' ' + str(t['id']) for t in level['targets'])}"
            f" ({level['delay_minutes']} min)"
            for i, level in enumerate(policy["levels"], 1)
        )
        table.add_row(str(policy["id"]), policy["name"], levels, str(policy["repeat"]))
    output.out.print(table)


@oncall_app.command("feed")
def feed(
    schedule: Annotated[
        str | None, typer.Option(help="A schedule's feed instead of yours.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an iCalendar subscription URL (shown once; revocable)."""
    with connect(url, token) as api:
        if schedule:
            ident = _find(api, "/api/v1/schedules", schedule, "schedule")
            issued = api.post(f"/api/v1/schedules/{ident}/calendar-tokens", {})
        else:
            me = int(api.get("/api/v1/me")["id"])
            issued = api.post(f"/api/v1/users/{me}/calendar-tokens", {})
    if as_json:
        output.print_json(issued)
    else:
        output.out.print(issued["url"], soft_wrap=True)


# ---------------------------------------------------------------- schedules


@schedule_app.command("list")
def schedule_list(
    url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Schedules and their rotation layers."""
    with connect(url, token) as api:
        found = api.get("/api/v1/schedules")
    if as_json:
        output.print_json(found)
        return
    table = Table()
    for column in ("Id", "Name", "Time zone", "Layers"):
        table.add_column(column)
    for item in found:
        layers = "; ".join(
            f"{len(layer['users'])} people, every {layer['length']['count']} "
            f"{layer['length']['unit']}(s) from {layer['start']}"
            for layer in item["layers"]
        )
        table.add_row(str(item["id"]), item["name"], item["time_zone"], layers)
    output.out.print(table)


@schedule_app.command("shifts")
def shifts(
    schedule: ScheduleArg,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 7,
    start: Annotated[str | None, typer.Option(help="ISO start instead of now.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The final shifts (layers, restrictions and overrides applied) for the next --days."""
    begin = _when(start, "--start") if start else datetime.now(UTC)
    with connect(url, token) as api:
        ident = _find(api, "/api/v1/schedules", schedule, "schedule")
        found = api.get(
            f"/api/v1/schedules/{ident}/shifts",
            params={"start": begin.isoformat(), "end": (begin + timedelta(days=days)).isoformat()},
        )
    if as_json:
        output.print_json(found)
        return
    table = Table()
    for column in ("Who", "From", "Until"):
        table.add_column(column)
    for shift in found:
        table.add_row(
            shift["user"]["name"],
            output.short_time(shift["start"]),
            output.short_time(shift["end"]),
        )
    output.out.print(table)


@schedule_app.command("override")
def override(
    schedule: ScheduleArg,
    user: Annotated[str, typer.Option(help="Who covers: email, name, id or `me`.")],
    start: Annotated[str, typer.Option(help="ISO time with offset.")],
    end: Annotated[str, typer.Option(help="ISO time with offset.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put someone on call for a time range, whatever the rotation says."""
    begin, finish = _when(start, "--start"), _when(end, "--end")
    with connect(url, token) as api:
        ident = _find(api, "/api/v1/schedules", schedule, "schedule")
        created = api.post(
            f"/api/v1/schedules/{ident}/overrides",
            {
                "user": _user_id(api, user),
                "start": begin.isoformat(),
                "end": finish.isoformat(),
                "reason": reason,
            },
        )
    output.report(created, f"override {created['id']} added", as_json=as_json)


@schedule_app.command("swap")
def swap(
    schedule: ScheduleArg,
    first: Annotated[str, typer.Argument(help="A time inside the first shift.")],
    second: Annotated[str, typer.Argument(help="A time inside the other shift.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Swap the shifts running at FIRST and SECOND between their two people."""
    body = {
        "first": _when(first, "FIRST").isoformat(),
        "second": _when(second, "SECOND").isoformat(),
        "reason": reason,
    }
    with connect(url, token) as api:
        ident = _find(api, "/api/v1/schedules", schedule, "schedule")
        created = api.post(f"/api/v1/schedules/{ident}/swaps", body)
    output.report(created, f"swapped: {len(created)} overrides added", as_json=as_json)
