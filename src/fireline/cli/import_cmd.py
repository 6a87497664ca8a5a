"""`fireline import FILE`: bring past incidents in from JSON lines or CSV, over the API.

Each record becomes `POST /api/v1/incidents` with its past lifecycle (imported incidents
page no one). Every record is sent with an `Idempotency-Key` derived from its content, so
running the same import twice creates nothing new. Bad records are reported with their line
number and the server's message, and the rest continue.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

err = Console(stderr=True)

_LIST_FIELDS = ("services", "responders", "stakeholders")
_SCALARS = (
    "title",
    "description",
    "category",
    "impact",
    "urgency",
    "team",
    "commander",
    "assignee",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "resolution_summary",
    "fingerprint",
    "priority",
    "priority_reason",
)


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, record) or (line number, error message)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON: {exc.msg}"
                    continue
                if not isinstance(value, dict):
                    yield number, "each line must be a JSON object"
                    continue
                yield number, value
            return
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, _from_csv(row)


def _from_csv(row: dict[str, str | None]) -> dict[str, Any]:
    """CSV columns: the scalar fields by name; services etc. separated by `;`; labels as
    `k=v;k=v`."""
    record: dict[str, Any] = {}
    for name in _SCALARS:
        value = (row.get(name) or "").strip()
        if value:
            record[name] = value
    for name in _LIST_FIELDS:
        value = (row.get(name) or "").strip()
        if value:
            record[name] = [part.strip() for part in value.split(";") if part.strip()]
    labels = (row.get("labels") or "").strip()
    if labels:
        pairs = (item.partition("=") for item in labels.split(";") if item.strip())
        record["labels"] = {k.strip(): v.strip() for k, _, v in pairs}
    return record


def _prepare(record: dict[str, Any]) -> dict[str, Any]:
    body = dict(record)
    body.setdefault("source", "api")
    body["imported"] = True
    return body


def import_incidents(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL or CSV file.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the extension).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Server URL (default FIRELINE_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="API token (default FIRELINE_TOKEN).")] = None,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Requests in flight.")] = 4,
) -> None:
    """Import past incidents (detected/acknowledged/resolved/closed times, labels,
    fingerprints) so recurrence detection and trends work from day one."""
    chosen = (fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl")).lower()
    if chosen not in ("jsonl", "csv"):
        err.print("[red]error:[/red] --format must be jsonl or csv")
        raise typer.Exit(2)
    base = (url or os.environ.get("FIRELINE_URL") or "http://127.0.0.1:8000").rstrip("/")
    secret = token or os.environ.get("FIRELINE_TOKEN")
    if not secret:
        err.print("[red]error:[/red] no API token: set FIRELINE_TOKEN or pass --token")
        raise typer.Exit(2)
    records = list(_records(file, chosen))
    failures: list[tuple[int, str]] = []
    created = replayed = 0
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

        def send(item: tuple[int, dict[str, Any] | str]) -> tuple[int, str, str]:
            number, record = item
            if isinstance(record, str):
                return number, "error", record
            body = _prepare(record)
            key = (
                "import-"
                + hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:40]
            )
            try:
                answer = client.post(
                    "/api/v1/incidents", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError as exc:
                return number, "error", f"cannot reach {base}: {exc}"
            if answer.status_code == 201:
                return number, "created", answer.json()["ref"]
            if answer.status_code == 200:
                return number, "replayed", answer.json()["ref"]
            try:
                message = answer.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {answer.status_code}"
            return number, "error", message

        columns = (
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err) as progress, ThreadPoolExecutor(parallel) as pool:
            task = progress.add_task("import", total=len(records))
            for number, outcome, detail in pool.map(send, records):
                progress.advance(task)
                if outcome == "created":
                    created += 1
                elif outcome == "replayed":
                    replayed += 1
                else:
                    failures.append((number, detail))
    for number, message in failures[:50]:
        err.print(f"[yellow]line {number}:[/yellow] {message}")
    if len(failures) > 50:
        err.print(f"... and {len(failures) - 50} more")
    typer.echo(f"imported {created} incidents, {replayed} already present, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)
