"""Client commands for alert intake: integrations, alerts, silences and maintenance windows.

    fireline integration list | create NAME --type T --service S | rotate ID | delete ID
    fireline alert list [--status S] [--service S] [--search TEXT] | show ID | noise ID --reason R
                   | noise-incident REF --reason R | noise-report
    fireline silence list | create --match NAME=VALUE ... --reason R --hours H | expire ID
    fireline maintenance list | start --service S --hours H | end ID

Same server, token, `--json` and exit codes as `fireline incident` (see `cli/client.py`).
An integration key is printed only by `create` and `rotate`: the server keeps a hash.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from fireline.cli import output
from fireline.cli.client import DEFAULT_URL, JsonOpt, TokenOpt, UrlOpt, connect, usage_error
from fireline.clock import SystemClock

integration_app = typer.Typer(help="Integrations: keys monitoring tools send with.")
alert_app = typer.Typer(help="Alerts received from monitoring.", no_args_is_help=True)
silence_app = typer.Typer(help="Silences: mute matching alerts for a while.")
maintenance_app = typer.Typer(help="Maintenance windows: no incidents for a service.")
for _sub in (integration_app, silence_app, maintenance_app):
    _sub.info.no_args_is_help = True

TYPES = ("pagerduty", "alertmanager", "grafana", "generic", "heartbeat")
HoursOpt = Annotated[float, typer.Option(min=0.01, max=24 * 366, help="How long, from now.")]


def register(app: typer.Typer) -> None:
    """Add `integration`, `alert`, `silence` and `maintenance` to the root `fireline` app."""
    app.add_typer(integration_app, name="integration")
    app.add_typer(alert_app, name="alert")
    app.add_typer(silence_app, name="silence")
    app.add_typer(maintenance_app, name="maintenance")


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    output.out.print(table)


def _until(hours: float) -> str:
    return (SystemClock().now() + timedelta(hours=hours)).isoformat()


# ---------------------------------------------------------------- integrations


@integration_app.command("list")
def integration_list(
    service: Annotated[int | None, typer.Option(help="Only this service id.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List live integrations (keys show only their first characters)."""
    with connect(url, token) as api:
        items = api.get("/api/v1/integrations", params={"service": service} if service else None)
    if as_json:
        output.print_json(items)
        return
    rows = [
        (i["id"], i["name"], i["type"], i["service_id"], i["key_prefix"] + "…", i["url"])
        for i in items
    ]
    _table("Integrations", ("id", "name", "type", "service", "key", "url"), rows)


def _issued(found: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        output.print_json(found)
        return
    output.success(f"{verb} integration {found['id']} ({found['type']}) “{found['name']}”")
    output.out.print(f"key: {found['key']}")
    output.out.print(f"url: {found['url']}")
    output.err.print("The key is shown only now; store it where the sender is configured.")


@integration_app.command("create")
def integration_create(
    name: Annotated[str, typer.Argument(help="A name people recognise.")],
    kind: Annotated[str, typer.Option("--type", help=f"One of {', '.join(TYPES)}.")],
    service: Annotated[str, typer.Option(help="Service name or id.")],
    interval_minutes: Annotated[
        int | None, typer.Option(help="Heartbeat: expected ping interval.")
    ] = None,
    rate_limit: Annotated[int | None, typer.Option(help="Events per minute; 0 = off.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an integration on a service and print its key (admin)."""
    if kind not in TYPES:
        raise usage_error(f"--type {kind!r}: use one of {', '.join(TYPES)}")
    config: dict[str, Any] = {}
    if interval_minutes is not None:
        config["interval_minutes"] = interval_minutes
    if rate_limit is not None:
        config["rate_limit_per_minute"] = rate_limit
    body = {"type": kind, "service": service, "name": name, "config": config}
    with connect(url, token) as api:
        found = api.post("/api/v1/integrations", body)
    _issued(found, as_json, "created")


@integration_app.command("rotate")
def integration_rotate(
    integration_id: Annotated[int, typer.Argument(metavar="ID")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new key; the old one stops working at once (admin)."""
    with connect(url, token) as api:
        found = api.post(f"/api/v1/integrations/{integration_id}/rotate", {})
    _issued(found, as_json, "rotated")


@integration_app.command("delete")
def integration_delete(
    integration_id: Annotated[int, typer.Argument(metavar="ID")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an integration: its key stops working, its alerts stay (admin)."""
    with connect(url, token) as api:
        _, found = api.call("DELETE", f"/api/v1/integrations/{integration_id}")
    output.report(
        found, f"integration {integration_id} deleted; its key no longer works", as_json=as_json
    )


# ---------------------------------------------------------------- alerts


@alert_app.command("list")
def alert_list(
    status: Annotated[
        list[str] | None, typer.Option(help="firing, acknowledged, resolved.")
    ] = None,
    service: Annotated[list[str] | None, typer.Option(help="Name or id; repeatable.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in summary or dedup key.")] = None,
    noise: Annotated[bool | None, typer.Option("--noise/--no-noise", help="Noise only.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List alerts, newest first."""
    params: dict[str, Any] = {"status": status or [], "service": service or [], "limit": limit}
    if search:
        params["q"] = search
    if noise is not None:
        params["noise"] = str(noise).lower()
    with connect(url, token) as api:
        page = api.get("/api/v1/alerts", params=params)
    if as_json:
        output.print_json(page)
        return
    rows = [
        (
            a["id"],
            a["status"],
            a["severity"],
            a["summary"],
            a["service_id"],
            a["incident_id"] or "—",
            a["occurrence_count"],
            "suppressed" if a["suppressed"] else ("noise" if a["noise"] else ""),
        )
        for a in page["items"]
    ]
    columns = ("id", "status", "severity", "summary", "service", "incident", "seen", "")
    _table("Alerts", columns, rows)


@alert_app.command("show")
def alert_show(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    raw: Annotated[bool, typer.Option("--raw", help="Also print the raw payload.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One alert: its facts, labels, annotations and links."""
    with connect(url, token) as api:
        alert = api.get(f"/api/v1/alerts/{alert_id}")
    if as_json:
        output.print_json(alert)
        return
    output.out.print(f"[bold]{alert['summary']}[/bold]", markup=False)
    facts = ("status", "severity", "source", "dedup_key", "incident_id", "occurrence_count")
    _table(f"Alert {alert_id}", ("field", "value"), [(f, alert.get(f)) for f in facts])
    _table("Labels", ("label", "value"), sorted(alert["labels"].items()))
    _table("Annotations", ("annotation", "value"), sorted(alert["annotations"].items()))
    for link in alert["links"]:
        output.out.print(f"link: {link.get('text') or ''} {link.get('href')}")
    if raw:
        output.out.print(alert["raw"] or "", markup=False)


@alert_app.command("noise")
def alert_noise(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why it should not have paged.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark an alert as noise; it shows in the noise report for its integration and rule."""
    with connect(url, token) as api:
        found = api.post(f"/api/v1/alerts/{alert_id}/noise", {"reason": reason})
    output.report(found, f"alert {alert_id} marked as noise", as_json=as_json)


@alert_app.command("noise-incident")
def alert_noise_incident(
    ref: Annotated[str, typer.Argument(metavar="REF", help="Incident reference (INC-42) or id.")],
    reason: Annotated[str, typer.Option(help="Why its alerts should not have paged.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark every alert of an incident as noise."""
    with connect(url, token) as api:
        found = api.post(
            f"/api/v1/incidents/{quote(ref.strip(), safe='')}/noise", {"reason": reason}
        )
    output.report(found, f"{found['alerts']} alert(s) of {ref} marked as noise", as_json=as_json)


@alert_app.command("noise-report")
def alert_noise_report(
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Alerts per integration and rule, most marked-as-noise first: what to tune."""
    with connect(url, token) as api:
        rows = api.get("/api/v1/noise/report")
    if as_json:
        output.print_json(rows)
        return
    columns = ("integration", "service", "rule", "alerts", "noise", "flapping", "suppressed")
    keys = ("name", "service_id", "rule", "alerts", "noise", "flapping", "suppressed")
    _table("Noise report", columns, [tuple(r[k] for k in keys) for r in rows])


# ---------------------------------------------------------------- silences


@silence_app.command("list")
def silence_list(
    active: Annotated[bool, typer.Option("--active", help="Only unexpired ones.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List silences, newest first."""
    with connect(url, token) as api:
        items = api.get("/api/v1/silences", params={"active": str(active).lower()})
    if as_json:
        output.print_json(items)
        return
    rows = [
        (
            s["id"],
            " ".join(f"{k}={v}" for k, v in sorted(s["matchers"].items())),
            s["reason"],
            s["service_id"] or "all",
            output.short_time(s["ends_at"]),
        )
        for s in items
    ]
    _table("Silences", ("id", "matchers", "reason", "service", "until"), rows)


@silence_app.command("create")
def silence_create(
    match: Annotated[
        list[str],
        typer.Option(help="NAME=VALUE, NAME=~REGEX, NAME=!VALUE; repeatable (all must match)."),
    ],
    reason: Annotated[str, typer.Option(help="Why (shown to responders).")],
    hours: HoursOpt = 2.0,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence matching new alerts: recorded as suppressed, no incident, no page."""
    matchers: dict[str, str] = {}
    for item in match:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise usage_error(f"--match {item!r}: use NAME=VALUE (or =~REGEX, =!VALUE)")
        matchers[name.strip()] = value.strip()
    body: dict[str, Any] = {"matchers": matchers, "reason": reason, "ends_at": _until(hours)}
    if service:
        body["service"] = service
    with connect(url, token) as api:
        found = api.post("/api/v1/silences", body)
    output.report(
        found,
        f"silence {found['id']} active until {output.short_time(found['ends_at'])}",
        as_json=as_json,
    )


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(metavar="ID")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a silence now (it stays in the list for the record)."""
    with connect(url, token) as api:
        _, found = api.call("DELETE", f"/api/v1/silences/{silence_id}")
    output.report(found, f"silence {silence_id} expired", as_json=as_json)


# ---------------------------------------------------------------- maintenance windows


@maintenance_app.command("list")
def maintenance_list(
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List maintenance windows, newest first."""
    with connect(url, token) as api:
        items = api.get("/api/v1/maintenance-windows")
    if as_json:
        output.print_json(items)
        return
    rows = [
        (
            w["id"],
            w["service_id"],
            w["reason"],
            output.short_time(w["starts_at"]),
            output.short_time(w["ends_at"]),
        )
        for w in items
    ]
    _table("Maintenance windows", ("id", "service", "reason", "from", "until"), rows)


@maintenance_app.command("start")
def maintenance_start(
    service: Annotated[str, typer.Option(help="Service name or id.")],
    hours: HoursOpt = 2.0,
    reason: Annotated[str, typer.Option(help="What is being done.")] = "",
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a maintenance window now: the service's alerts are recorded but open no incident."""
    body = {"service": service, "ends_at": _until(hours), "reason": reason}
    with connect(url, token) as api:
        found = api.post("/api/v1/maintenance-windows", body)
    output.report(
        found,
        f"maintenance window {found['id']} until {output.short_time(found['ends_at'])}",
        as_json=as_json,
    )


@maintenance_app.command("end")
def maintenance_end(
    window_id: Annotated[int, typer.Argument(metavar="ID")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a maintenance window now."""
    with connect(url, token) as api:
        _, found = api.call("DELETE", f"/api/v1/maintenance-windows/{window_id}")
    output.report(found, f"maintenance window {window_id} ended", as_json=as_json)
