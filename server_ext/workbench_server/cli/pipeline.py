"""``workbench pipeline validate``: check pipeline files before they are deployed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import counted, home_option


@click.group()
def pipeline() -> None:
    """Notebook pipelines defined in YAML files."""


@pipeline.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--notebook-root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that notebook paths are relative to [default: the file's folder].",
)
def validate(file: Path, as_json: bool, notebook_root: Path | None) -> None:
    """Check FILE and print every problem as FILE:LINE:COLUMN: FIELD: MESSAGE.

    Exits with 1 when there is any problem, 0 when the pipeline is valid.
    """
    from workbench_pipelines.validate import check_file

    spec, errors = check_file(file, notebook_root=notebook_root)
    steps = len(spec.steps) if spec is not None else 0
    if as_json:
        result = {
            "file": str(file),
            "valid": not errors,
            "steps": steps,
            "errors": [error.model_dump() for error in errors],
        }
        click.echo(json.dumps(result, indent=2))
    elif errors:
        for error in errors:
            click.echo(str(error))
    else:
        click.echo(f"{file}: valid ({steps} step{'s' if steps != 1 else ''})")
    if errors:
        raise click.exceptions.Exit(1)


@pipeline.command()
def schema() -> None:
    """Print the JSON Schema of pipeline files, for editors.

    The shipped templates name it as ``../pipeline.schema.json``: beside a copy of the
    templates folder, ``workbench pipeline schema > pipeline.schema.json`` puts it there.
    """
    from workbench_pipelines.schema import render

    click.echo(render(), nl=False)


def _services(home: str | None):
    """Pipelines and runs: of this machine's home, or in a hub user's terminal, of the
    hub's workbench service as that user (see :mod:`.remote`)."""
    from .remote import RemoteRegistry, RemoteRuns, service_from_env

    client = service_from_env()
    if client is not None and home is None:
        return RemoteRegistry(client), RemoteRuns(client)
    from ..pipelines.registry import PipelineRegistry
    from ..pipelines.runs import RunService
    from ..principal import local_principal
    from .connection import _workbench

    workbench = _workbench(home, "work with pipelines")
    return PipelineRegistry(workbench, local_principal()), RunService(workbench, local_principal())


def _print_run(run) -> None:
    click.echo(f"run {run.id}  {run.pipeline} v{run.version}  {run.status}  ds={run.logical_date}")
    started = f"  {run.trigger} by {run.requested_by}"
    if run.repair_of:
        started += f", repair of {run.repair_of}"
        if run.repair_latest:
            started += " on the latest version"
    if run.cancelled_by:
        started += f"; cancelled by {run.cancelled_by}"
    if run.repaired_by:
        started += f"; repaired by {run.repaired_by}"
    click.echo(started)
    if run.error:
        click.echo(f"  error: {run.error}")
    for attempt in run.attempts:  # in the order the steps run
        line = f"  {attempt.step_id:24} #{attempt.attempt}  {attempt.status:15}"
        if attempt.duration_s is not None:
            line += f" {attempt.duration_s:7.1f}s"
        if attempt.error:
            line += f"  {attempt.error}"
        if attempt.reused_from is not None:
            line += f"  from run {attempt.reused_from.run_id} #{attempt.reused_from.attempt}"
        click.echo(line)
    for table in run.tables:  # lake table versions the steps read and wrote
        where = "" if table.lake == "lake" else f" (lake {table.lake})"
        line = f"  {table.step_id:24} #{table.attempt}  {table.access:5} "
        line += f"{table.table} v{table.version}"
        if table.access == "write" and table.rows_added is not None:
            line += f"  +{table.rows_added} ~{table.rows_updated or 0} -{table.rows_removed or 0}"
        click.echo(line + where)
    if run.sla_missed_at is not None:
        click.echo(f"  SLA missed: due {run.sla_deadline:%Y-%m-%d %H:%M:%S %Z}")
    for gate in run.approvals:  # who decided, how, when and why
        line = f"  approval {gate.step_id:15} {gate.status}"
        if gate.decided_by:
            line += f" by {gate.decided_by} ({gate.via})"
        if gate.decided_at is not None:
            line += f" {gate.decided_at:%Y-%m-%d %H:%M:%S %Z}"
        if gate.reason:
            line += f": {gate.reason}"
        click.echo(line)
    for notice in run.notifications:
        detail = f"  {notice.detail}" if notice.detail else ""
        click.echo(f"  notify {notice.event:8} {notice.target}: {notice.status}{detail}")


@pipeline.command()
@home_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def deploy(home: str | None, file: Path) -> None:
    """Validate FILE and deploy it as a new immutable version (spec + notebooks)."""
    from workbench_pipelines.validate import PipelineSpecError

    registry, _ = _services(home)
    try:
        result = registry.deploy(file)
    except PipelineSpecError as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise click.exceptions.Exit(1) from None
    state = "deployed" if result.new_version else "unchanged"
    click.echo(f"{result.name}: {state}, version {result.version} ({result.content_hash[:12]})")
    workbench = getattr(registry, "workbench", None)  # the service syncs its own schedules
    if workbench is not None and workbench.settings.temporal_address:
        import asyncio

        from ..pipelines.schedules import sync_schedule

        spec = registry.spec(result.name)
        said = asyncio.run(sync_schedule(workbench, spec))
        click.echo(said + _when_next(workbench, spec) if spec.schedule else said)


def _span(interval: Any) -> str:
    """An interval as the YAML writes one: 15m, 2h, 1d, 90s."""
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _when_next(workbench: Any, spec: Any) -> str:
    """When a deployed schedule fires next, in its time zone and UTC (what a person checks
    after scheduling, say, the month-end close); paused, how to resume it."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ..pipelines.schedules import describe

    when = spec.schedule
    every = f"cron {when.cron!r}" if when.cron else f"every {_span(when.interval)}"
    zone = when.timezone
    state = asyncio.run(describe(workbench, spec.name))
    if state["paused"]:
        return (
            f": {every} in {zone}, paused (workbench pipeline schedule {spec.name} resume "
            "starts it)"
        )
    if not state["next_runs"]:
        return f": {every} in {zone}, no next run"
    at = datetime.fromisoformat(state["next_runs"][0])
    local = at.astimezone(ZoneInfo(zone))
    utc = "" if zone == "UTC" else f" ({at.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC)"
    return f": {every} in {zone}; next run {local:%Y-%m-%d %H:%M} {zone}{utc}"


@pipeline.command("list")
@home_option
def list_(home: str | None) -> None:
    """List deployed pipelines."""
    registry, _ = _services(home)
    for item in registry.list():
        click.echo(
            f"{item.name:30} v{item.current_version:<4} {item.owner:12} "
            f"{counted(len(item.steps), 'step')}"
        )


@pipeline.command()
@home_option
@click.argument("name")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE")
@click.option(
    "--date",
    "logical_date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Logical date of the run (ds) [default: today, UTC].",
)
@click.option("--wait", is_flag=True, help="Wait for the run to finish; exit 1 if it failed.")
def run(home: str | None, name: str, params: tuple[str, ...], logical_date, wait: bool) -> None:
    """Start a run of pipeline NAME."""
    from .connection import _parse_sets

    _, runs = _services(home)
    day = logical_date.date() if logical_date else None
    _start_and_follow(runs, lambda: runs.start(name, _parse_sets(params), day), "run", wait)


def _start_and_follow(service, start, what: str, wait: bool) -> None:
    """Start a run; with ``wait``, print its steps when it ends and exit 1 if it failed."""
    import asyncio

    async def go():
        started = await start()
        click.echo(f"started {what} {started.id}")
        return await service.wait(started.id) if wait else started

    result = asyncio.run(go())
    if wait:
        _print_run(result)
        raise click.exceptions.Exit(0 if result.status == "succeeded" else 1)


@pipeline.command()
@home_option
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True)
def runs(home: str | None, name: str | None, limit: int) -> None:
    """Recent runs (of pipeline NAME)."""
    _, service = _services(home)
    for item in service.list(name, limit):
        who = item.requested_by + (
            f", cancelled by {item.cancelled_by}" if item.cancelled_by else ""
        )
        click.echo(
            f"{item.id}  {item.pipeline:24} v{item.version:<3} {item.status:10} "
            f"{item.trigger:8} ds={item.logical_date}  {item.created_at:%Y-%m-%d %H:%M}  {who}"
        )


@pipeline.command()
@home_option
@click.argument("run_id")
def show(home: str | None, run_id: str) -> None:
    """One run with every step attempt."""
    _, service = _services(home)
    _print_run(service.status_blocking(run_id))


@pipeline.command()
@home_option
@click.argument("run_id")
@click.argument("step")
@click.option("--attempt", type=int, help="Attempt number (default: the last one).")
def logs(home: str | None, run_id: str, step: str, attempt: int | None) -> None:
    """What STEP's kernel printed (stdout and stderr) in run RUN_ID."""
    _, service = _services(home)
    if attempt is None:
        numbers = [a.attempt for a in service.get(run_id).attempts if a.step_id == step]
        attempt = max(numbers, default=1)
    click.echo(service.attempt_log(run_id, step, attempt), nl=False)


@pipeline.command()
@home_option
@click.argument("run_id")
def cancel(home: str | None, run_id: str) -> None:
    """Cancel a running run (its running steps' kernels are stopped)."""
    import asyncio

    _, service = _services(home)
    asyncio.run(service.cancel(run_id))
    click.echo(f"cancelling run {run_id}")


@pipeline.command()
@home_option
@click.argument("run_id")
@click.option(
    "--latest",
    is_flag=True,
    help="Run the pipeline's latest version (e.g. with a fixed notebook) instead of the "
    "run's own; steps changed since are re-run too.",
)
@click.option("--wait", is_flag=True, help="Wait for the repair to finish; exit 1 if it failed.")
def repair(home: str | None, run_id: str, latest: bool, wait: bool) -> None:
    """Re-run only the failed steps of RUN_ID and what depends on them (once per run)."""
    _, service = _services(home)
    _start_and_follow(service, lambda: service.repair(run_id, latest), "repair run", wait)


@pipeline.command()
@home_option
@click.argument("name")
@click.argument("action", type=click.Choice(["pause", "resume", "trigger", "backfill", "delete"]))
@click.option(
    "--from",
    "start",
    help="Backfill from this day (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM), inclusive, in "
    "the schedule's time zone.",
)
@click.option("--to", "end", help="Backfill to this day (the whole day) or time, inclusive.")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Start a backfill of many runs without asking (more than 100 are asked about).",
)
def schedule(home: str | None, name: str, action: str, start, end, yes: bool) -> None:
    """Pause, resume, trigger now, backfill a date range, or delete a pipeline's schedule.

    Pause and resume also apply to the pipeline's on_change trigger (runs on dataset
    changes), with or without a schedule: resuming runs once if anything changed. A
    backfill says how many runs it starts; above 100 it asks first (--yes to go ahead
    without asking, as a script must)."""
    import asyncio
    import sys

    from ..pipelines.schedules import (
        BACKFILL_CONFIRM_ABOVE,
        COUNT_AT_MOST,
        backfill_size,
        control,
        parse_backfill_bound,
    )

    registry, _ = _services(home)
    if not hasattr(registry, "workbench"):  # through the hub's service
        click.echo(registry.control(name, action))
        return
    registry.require_operate(name, f"{action} the schedule of")
    start = parse_backfill_bound("--from", start) if start else None
    end = parse_backfill_bound("--to", end) if end else None
    if action == "backfill":
        count, covered = asyncio.run(backfill_size(registry.workbench, name, start, end))
        if count > BACKFILL_CONFIRM_ABOVE and not yes:
            many = f"more than {count - 1}" if count >= COUNT_AT_MOST else str(count)
            question = f"backfill: this starts {many} runs of {name}, {covered}"
            if not sys.stdin.isatty():
                raise click.ClickException(
                    f"{question}; nothing was started. Run again with --yes to start them, "
                    "or give a shorter range"
                )
            if not click.confirm(f"{question}. Start them?", default=False):
                click.echo("backfill: nothing was started")
                return
        done = asyncio.run(control(registry.workbench, name, action, start, end))
        runs = f"{count} run" + ("" if count == 1 else "s")
        click.echo(done.replace("backfill: done,", f"backfill: done, {runs}:", 1))
        return
    click.echo(asyncio.run(control(registry.workbench, name, action, start, end)))


@pipeline.command()
@home_option
@click.option(
    "--status",
    type=click.Choice(["ok", "at_risk", "missed"]),
    default=None,
    help="Only the datasets with this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def freshness(home: str | None, status: str | None, as_json: bool) -> None:
    """Datasets with a freshness SLA (pipelines' freshness lists): age, status, deadline.

    Exits with 1 when one is missed, so a script or a cron job can act on it.
    """
    from pydantic import TypeAdapter

    from ..sla.freshness import DatasetSlaOut, visible_freshness
    from .remote import service_from_env

    client = service_from_env()
    if client is not None and home is None:
        found = TypeAdapter(list[DatasetSlaOut]).validate_python(
            client.call("GET", "sla/datasets", status=status)
        )
    else:
        from .connection import _workbench

        workbench = _workbench(home, "list dataset freshness")
        try:
            found = visible_freshness(workbench, None, status)  # type: ignore[arg-type]
        finally:
            workbench.close()
    if as_json:
        click.echo(TypeAdapter(list[DatasetSlaOut]).dump_json(found, indent=2).decode())
    for item in [] if as_json else found:
        age = (
            "never written" if item.age_seconds is None else f"{item.age_seconds / 3600:.1f} h old"
        )
        due = f"due {item.due:%Y-%m-%d %H:%M} UTC" if item.due else "no deadline"
        why = ""
        if item.status == "at_risk":
            why = f" ({item.reason}: {item.upstream or 'a pipeline you may not see'})"
        click.echo(
            f"{item.dataset:40} {item.status:8} {age:14} {due:26} {item.rule}  "
            f"[{item.pipeline}, {item.misses} missed]{why}"
        )
    if any(item.status == "missed" for item in found):
        raise click.exceptions.Exit(1)
