"""Client commands: incidents, services, teams and `whoami` on a running server, over HTTP.

The server is `--url` or FIRELINE_URL (default http://127.0.0.1:8000); the API token is
`--token` or FIRELINE_TOKEN (`fireline token create --email you@example.com` prints one).
Every command takes `--json` to print the server's JSON instead of a table, for scripts.

Exit codes, so scripts can tell what went wrong:
    0  done
    1  the server refused (4xx: the message names the field; 409 lists the allowed actions)
       or failed (5xx)
    2  usage or configuration (bad option, no token, bad URL)
    3  the server could not be reached (check FIRELINE_URL)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.text import Text

from fireline import __version__
from fireline.cli import output
from fireline.cli.output import JsonObject
from fireline.clock import SystemClock
from fireline.domain.incident_lifecycle import CancelReason, Status
from fireline.domain.priority import Level, Priority

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3

incident_app = typer.Typer(help="Incidents on the server.", no_args_is_help=True)
service_app = typer.Typer(help="Services in the catalog.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)

UrlOpt = Annotated[
    str, typer.Option("--url", envvar="FIRELINE_URL", help="Server URL.", show_envvar=True)
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="FIRELINE_TOKEN", help="API token.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]
RefArg = Annotated[str, typer.Argument(metavar="REF", help="Incident reference (INC-42) or id.")]
LabelOpt = Annotated[
    list[str] | None, typer.Option("--label", "-l", metavar="KEY=VALUE", help="Repeatable.")
]
ServiceOpt = Annotated[
    list[str] | None, typer.Option("--service", "-s", help="Name or id; repeatable.")
]
LevelOpt = Annotated[
    Level | None, typer.Option(case_sensitive=False, help="Default on open: medium.")
]
PriorityOpt = Annotated[
    Priority | None, typer.Option(case_sensitive=False, help="Override (needs --reason).")
]
ReasonOpt = Annotated[str | None, typer.Option(help="Why the priority is overridden.")]
PersonOpt = Annotated[str | None, typer.Option(help="Email, id, `me` (or `none` to clear).")]
NameOpt = Annotated[str | None, typer.Option(help="Name or id.")]


def register(app: typer.Typer) -> None:
    """Add the client commands to the root `fireline` app."""
    app.add_typer(incident_app, name="incident")
    app.add_typer(service_app, name="service")
    app.add_typer(team_app, name="team")
    app.command("whoami")(whoami)


def usage_error(message: str, *, hint: str | None = None) -> typer.Exit:
    """Report a usage or configuration problem; the caller raises the returned Exit (2)."""
    output.error(message, hint=hint)
    return typer.Exit(EXIT_USAGE)


class Api:
    """A thin httpx client that turns every failure into a message and an exit code."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self._http = http
        self.url = url

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", path, params=params)[1]

    def post(self, path: str, body: JsonObject, *, headers: Mapping[str, str] | None = None) -> Any:
        return self.call("POST", path, body=body, headers=headers)[1]

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: JsonObject | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, JSON) on 2xx, else print why and exit."""
        hint = "is the server running? Set FIRELINE_URL or pass --url (e.g. http://host:8000)"
        try:
            answer = self._http.request(
                method, path, params=params, json=body, headers=dict(headers or {})
            )
        except httpx.TimeoutException:
            output.error(f"the server at {self.url} did not answer in time", hint=hint)
            raise typer.Exit(EXIT_UNREACHABLE) from None
        except httpx.InvalidURL as exc:
            raise usage_error(f"bad server URL {self.url!r}: {exc}") from None
        except httpx.TransportError as exc:
            output.error(f"cannot reach the Fireline server at {self.url}: {exc}", hint=hint)
            raise typer.Exit(EXIT_UNREACHABLE) from None
        if answer.is_success:
            return answer.status_code, answer.json() if answer.content else None
        raise self._refused(answer)

    def _refused(self, answer: httpx.Response) -> typer.Exit:
        try:
            problem: JsonObject = answer.json()["error"]
            message = str(problem["message"])
        except (ValueError, KeyError, TypeError):
            output.error(f"the server answered HTTP {answer.status_code} ({answer.reason_phrase})")
            return typer.Exit(EXIT_REFUSED)
        status = answer.status_code
        if status == 401:
            output.error(
                f"the server refused the API token: {message}",
                hint="check FIRELINE_TOKEN or --token; "
                "`fireline token create --email EMAIL` issues a new one",
            )
        elif status == 403:
            output.error(message, hint="your role does not allow this")
        elif status == 409 and problem.get("allowed") is not None:
            allowed = [output.ACTION_COMMANDS.get(a, a) for a in problem["allowed"]]
            output.error(message)
            output.err.print(
                f"allowed actions: {', '.join(allowed)}" if allowed else "no actions are allowed"
            )
        else:
            output.error(message)
            details = problem.get("details") or []
            for detail in details[1:]:  # the first is already the message
                output.err.print(f"  {detail.get('field')}: {detail.get('message')}")
        return typer.Exit(EXIT_REFUSED)


@contextmanager
def connect(url: str, token: str | None) -> Iterator[Api]:
    """An Api for `url` authenticated with `token`; exit 2 when either is unusable."""
    if not token or not token.strip():
        raise usage_error(
            "no API token: set FIRELINE_TOKEN or pass --token",
            hint="`fireline token create --email EMAIL` on the server prints one",
        )
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise usage_error(
            f"bad server URL {url!r}: it must start with http:// or https://",
            hint=f"set FIRELINE_URL or pass --url (default {DEFAULT_URL})",
        )
    headers = {
        "Authorization": f"Bearer {token.strip()}",
        "User-Agent": f"fireline-cli/{__version__}",
    }
    try:
        http = httpx.Client(base_url=base, headers=headers, timeout=30)
    except httpx.InvalidURL as exc:
        raise usage_error(f"bad server URL {url!r}: {exc}") from None
    with http:
        yield Api(http, base)


def _path(ref: str, suffix: str = "") -> str:
    return f"/api/v1/incidents/{quote(ref.strip(), safe='')}{suffix}"


def _labels(values: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise usage_error(f"--label {item!r}: use KEY=VALUE")
        labels[key.strip()] = value.strip()
    return labels


def _text(value: str, *, what: str) -> str:
    """The argument, or standard input when it is `-`; refuse empty text."""
    text = sys.stdin.read() if value == "-" else value
    if not text.strip():
        raise usage_error(f"the {what} is empty")
    return text.strip()


def _user(api: Api, value: str) -> str | int | None:
    """A user reference as the API takes it: `me` is the caller, `none` clears the field."""
    if value.lower() == "none":
        return None
    if value.lower() == "me":
        return int(api.get("/api/v1/me")["id"])
    return value


def _now_showing(incident: JsonObject, *, as_json: bool) -> None:
    """After a transition: the incident's JSON, or its new status and the next actions."""
    if as_json:
        output.print_json(incident)
        return
    line = Text(f"{incident['ref']} is now ")
    line.append_text(output.status_text(str(incident["status"])))
    output.out.print(line, soft_wrap=True)
    nxt = [output.ACTION_COMMANDS.get(a, a) for a in incident.get("allowed_actions") or []]
    if nxt:
        output.err.print(f"[dim]next: {', '.join(nxt)}[/dim]")


# ---------------------------------------------------------------- incidents


@incident_app.command("open")
def open_incident(
    title: Annotated[str, typer.Argument(help="What is wrong, in a line.")],
    description: Annotated[str, typer.Option(help="Details (Markdown).")] = "",
    service: ServiceOpt = None,
    impact: LevelOpt = None,
    urgency: LevelOpt = None,
    priority: PriorityOpt = None,
    reason: ReasonOpt = None,
    category: NameOpt = None,
    label: LabelOpt = None,
    commander: PersonOpt = None,
    assignee: PersonOpt = None,
    team: NameOpt = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Retry-safe: the same key returns the same incident.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an incident; its priority follows from impact and urgency unless overridden."""
    if priority is not None and not (reason and reason.strip()):
        raise usage_error("--priority overrides the derived priority and needs --reason")
    given = {"impact": impact, "urgency": urgency, "priority": priority, "priority_reason": reason}
    body: JsonObject = {
        "title": title,
        "description": description,
        "services": service or [],
        "labels": _labels(label),
        "source": "manual",
        **{k: v for k, v in {**given, "category": category, "team": team}.items() if v},
    }
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with connect(url, token) as api:
        for name, value in (("commander", commander), ("assignee", assignee)):
            if value is not None:
                body[name] = _user(api, value)
        status, incident = api.call("POST", "/api/v1/incidents", body=body, headers=headers)
    if as_json:
        output.print_json(incident)
        return
    line = Text(f"{incident['ref']} ", style="bold")
    line.append("already open for this idempotency key: " if status == 200 else "opened: ")
    line.append_text(output.priority_text(str(incident["priority"])))
    line.append(f" {incident['title']}")
    output.out.print(line, soft_wrap=True)


@incident_app.command("list")
def list_incidents(
    status: Annotated[
        list[Status] | None, typer.Option("--status", case_sensitive=False, help="Repeatable.")
    ] = None,
    priority: Annotated[
        list[Priority] | None,
        typer.Option("--priority", "-p", case_sensitive=False, help="Repeatable."),
    ] = None,
    service: Annotated[list[str] | None, typer.Option("--service", "-s")] = None,
    team: Annotated[list[str] | None, typer.Option("--team")] = None,
    category: Annotated[list[str] | None, typer.Option("--category")] = None,
    label: LabelOpt = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Free text.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only incidents assigned to me.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Incidents per page.")] = 50,
    every: Annotated[bool, typer.Option("--all", help="Follow the cursor to the last page.")] = (
        False
    ),
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    labels = _labels(label)
    params: dict[str, Any] = {
        "status": [s.value for s in status or []],
        "priority": [p.value for p in priority or []],
        "service": service or [],
        "team": team or [],
        "category": category or [],
        "label": [f"{k}={v}" for k, v in labels.items()],
        "limit": limit,
    }
    if query:
        params["q"] = query
    if mine:
        params["assignee"] = "me"
    items: list[JsonObject] = []
    cursor: int | None = None
    with connect(url, token) as api:
        while True:
            page = api.get(
                "/api/v1/incidents", params={**params, "cursor": cursor} if cursor else params
            )
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if cursor is None or not every:
                break
    if as_json:
        output.print_json({"items": items, "next_cursor": cursor})
        return
    output.incident_table(items, now=SystemClock().now())
    if cursor is not None:
        output.err.print("[dim]more incidents: pass --all (or --limit up to 200)[/dim]")


@incident_app.command("show")
def show_incident(
    ref: RefArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """An incident's fields and its timeline (`--json`: the incident plus `timeline`)."""
    with connect(url, token) as api:
        incident = api.get(_path(ref))
        events = api.get(_path(str(incident["ref"]), "/timeline"), params={"limit": 1000})["events"]
    if as_json:
        output.print_json({**incident, "timeline": events})
        return
    output.incident_detail(incident, events, now=SystemClock().now())


def _transition(ref: str, action: str, *, url: str, token: str | None, **given: Any) -> JsonObject:
    """Apply a lifecycle action; a refused one (409) prints the allowed actions and exits."""
    body: JsonObject = {"action": action, **{k: v for k, v in given.items() if v is not None}}
    with connect(url, token) as api:
        incident: JsonObject = api.post(_path(ref, "/transitions"), body)
    return incident


def _lifecycle_command(action: str, doc: str) -> Callable[..., None]:
    """A command that applies one lifecycle action taking no input."""

    def command(
        ref: RefArg, url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False
    ) -> None:
        _now_showing(_transition(ref, action, url=url, token=token), as_json=as_json)

    command.__doc__ = doc
    return command


for _name, _action, _doc in (
    ("ack", "acknowledge", "Acknowledge: someone is on it (stops escalation)."),
    ("investigate", "investigate", "Mark the incident as under investigation."),
    ("mitigate", "mitigate", "Mark the impact as mitigated (the cause may remain)."),
    ("reopen", "reopen", "Reopen a resolved or closed incident (it is triggered again)."),
):
    incident_app.command(_name)(_lifecycle_command(_action, _doc))


@incident_app.command("resolve")
def resolve(
    ref: RefArg,
    note: Annotated[str | None, typer.Option(help="Add this note to the timeline too.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve: service is restored."""
    text = _text(note, what="note") if note is not None else None
    incident = _transition(ref, "resolve", url=url, token=token)
    if text is not None:
        with connect(url, token) as api:
            api.post(_path(str(incident["ref"]), "/notes"), {"body": text})
    _now_showing(incident, as_json=as_json)


@incident_app.command("close")
def close(
    ref: RefArg,
    summary: Annotated[str, typer.Option(help="Resolution summary: cause and fix.")],
    stable: Annotated[
        bool, typer.Option("--stable", help="Confirm service has been stable since the fix.")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a resolved incident with a resolution summary."""
    if not stable:
        raise usage_error(
            "closing needs --stable: confirm that service has been stable since the fix",
            hint="the incident stays resolved until then",
        )
    incident = _transition(
        ref,
        "close",
        url=url,
        token=token,
        resolution_summary=_text(summary, what="summary"),
        service_stable=True,
    )
    _now_showing(incident, as_json=as_json)


@incident_app.command("cancel")
def cancel(
    ref: RefArg,
    reason: Annotated[CancelReason, typer.Option(case_sensitive=False, help="error or duplicate.")],
    duplicate_of: Annotated[
        str | None, typer.Option(help="The incident this one duplicates.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel an open incident declared in error or as a duplicate."""
    if reason is CancelReason.DUPLICATE and not duplicate_of:
        raise usage_error("--reason duplicate needs --duplicate-of REF")
    if reason is CancelReason.ERROR and duplicate_of:
        raise usage_error("--duplicate-of goes with --reason duplicate")
    incident = _transition(
        ref,
        "cancel",
        url=url,
        token=token,
        cancel_reason=reason.value,
        duplicate_of=duplicate_of,
    )
    _now_showing(incident, as_json=as_json)


@incident_app.command("note")
def note(
    ref: RefArg,
    text: Annotated[str, typer.Argument(help="Markdown text, or - to read standard input.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the incident's timeline."""
    body = _text(text, what="note")
    with connect(url, token) as api:
        event = api.post(_path(ref, "/notes"), {"body": body})
    output.report(event, f"note {event['id']} added to {ref.strip().upper()}", as_json=as_json)


@incident_app.command("status-update")
def status_update(
    ref: RefArg,
    text: Annotated[str, typer.Argument(help="Markdown text, or - to read standard input.")],
    stakeholders: Annotated[
        bool, typer.Option("--stakeholders", help="Send to stakeholders (default: internal).")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post a status update, internal or for stakeholders (who are notified)."""
    audience = "stakeholders" if stakeholders else "internal"
    body = {"body": _text(text, what="status update"), "audience": audience}
    with connect(url, token) as api:
        event = api.post(_path(ref, "/status-updates"), body)
    output.report(
        event, f"{audience} status update posted on {ref.strip().upper()}", as_json=as_json
    )


@incident_app.command("update")
def update(
    ref: RefArg,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    service: ServiceOpt = None,
    impact: LevelOpt = None,
    urgency: LevelOpt = None,
    priority: PriorityOpt = None,
    reason: ReasonOpt = None,
    category: NameOpt = None,
    label: LabelOpt = None,
    commander: PersonOpt = None,
    assignee: PersonOpt = None,
    team: NameOpt = None,
    version: Annotated[
        int | None, typer.Option(min=1, help="Refuse if the incident changed since this version.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an incident's fields; only the options given change (--service replaces the
    services, --label sets those labels and keeps the others)."""
    changes: JsonObject = {
        "title": title,
        "description": description,
        "services": service or None,
        "impact": impact,
        "urgency": urgency,
        "priority": priority,
        "priority_reason": reason,
        "category": category,
        "team": team,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    labels = _labels(label)
    if not changes and not labels and commander is None and assignee is None:
        raise usage_error("nothing to change: pass at least one option such as --title")
    with connect(url, token) as api:
        for name, value in (("commander", commander), ("assignee", assignee)):
            if value is not None:
                changes[name] = _user(api, value)
        if labels:
            current = api.get(_path(ref))
            changes["labels"] = {**current["labels"], **labels}
        if version is not None:
            changes["version"] = version
        incident = api.call("PATCH", _path(ref), body=changes)[1]
    if as_json:
        output.print_json(incident)
        return
    names = ", ".join(k for k in changes if k != "version")
    output.success(f"{incident['ref']} updated: {names} (version {incident['version']})")


# ---------------------------------------------------------------- catalog and identity


@service_app.command("list")
def service_list(
    url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """List services."""
    with connect(url, token) as api:
        services = api.get("/api/v1/services")
    if as_json:
        output.print_json(services)
    else:
        output.service_table(services)


@service_app.command("create")
def service_create(
    name: Annotated[str, typer.Argument()],
    description: Annotated[str, typer.Option()] = "",
    team: NameOpt = None,
    tier: Annotated[int, typer.Option(min=1, max=4, help="1 (most critical) to 4.")] = 3,
    depends_on: Annotated[
        list[str] | None, typer.Option("--depends-on", help="Service it needs; repeatable.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a service (manager)."""
    body: JsonObject = {
        "name": name,
        "description": description,
        "tier": tier,
        "depends_on": depends_on or [],
    }
    if team is not None:
        body["team"] = team
    with connect(url, token) as api:
        service = api.post("/api/v1/services", body)
    output.report(service, f"created service {service['id']} {service['name']}", as_json=as_json)


@team_app.command("list")
def team_list(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List teams and their members."""
    with connect(url, token) as api:
        teams = api.get("/api/v1/teams")
    if as_json:
        output.print_json(teams)
    else:
        output.team_table(teams)


@team_app.command("create")
def team_create(
    name: Annotated[str, typer.Argument()],
    description: Annotated[str, typer.Option()] = "",
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="Email or id; repeatable.")
    ] = None,
    lead: Annotated[list[str] | None, typer.Option("--lead", help="Email or id; repeatable.")] = (
        None
    ),
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a team (manager)."""
    members = [{"user": m, "team_role": "member"} for m in member or []]
    members += [{"user": m, "team_role": "lead"} for m in lead or []]
    body: JsonObject = {"name": name, "description": description, "members": members}
    with connect(url, token) as api:
        team = api.post("/api/v1/teams", body)
    output.report(team, f"created team {team['id']} {team['name']}", as_json=as_json)


def whoami(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Show the user the token acts as, and the server."""
    with connect(url, token) as api:
        user = api.get("/api/v1/me")
    if as_json:
        output.print_json(user)
    else:
        output.user_detail(user, url=api.url)
