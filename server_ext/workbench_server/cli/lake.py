"""``workbench lake tables|versions|show|diff|optimize|vacuum|migrate|schedule``."""

from __future__ import annotations

from datetime import datetime

import click

from ..errors import InvalidInputError
from . import counted, home_option

lake_option = click.option(
    "--lake",
    "lake_name",
    default=None,
    metavar="CONNECTION",
    help="A lake connection instead of the workbench's own lake.",
)


def _lake(home: str | None, name: str | None):
    from ..lake import Lake
    from ..principal import local_principal
    from .connection import _workbench

    if name is None:  # the home's own lake: no metadata DB needed
        from ..settings import WorkbenchSettings

        settings = WorkbenchSettings.from_env(home)
        settings.workbench_home.prepare()
        return Lake.default(settings)
    return Lake.of(_workbench(home, "use lake connections"), local_principal(), name)


def _rows(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@click.group()
def lake() -> None:
    """The lake's Delta tables: versions, diffs, maintenance, migration from Parquet."""


@lake.command()
@home_option
@lake_option
def tables(home: str | None, lake_name: str | None) -> None:
    """Tables of the lake's layers, Delta or (not yet migrated) Parquet."""
    found = _lake(home, lake_name).tables()
    for info in found:
        version = "" if info.version is None else f"v{info.version}"
        click.echo(f"{info.table:48} {info.format:8} {version:>8} {info.location}")
    click.echo(counted(len(found), "table"), err=True)


@lake.command()
@home_option
@lake_option
@click.argument("table", metavar="LAYER.NAME")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def versions(home: str | None, lake_name: str | None, table: str, limit: int) -> None:
    """Versions of TABLE, newest first: when, operation, rows, who wrote it."""
    found = _lake(home, lake_name).versions(table, limit=limit)
    click.echo(
        f"{'version':>7}  {'when (UTC)':19}  {'operation':12} {'added':>9} "
        f"{'updated':>9} {'removed':>9}  writer"
    )
    for v in found:
        # The workbench's own word (a merge DuckDB made is a Delta WRITE), else Delta's.
        operation = (v.mode or v.operation).upper()
        click.echo(
            f"{v.version:>7}  {v.timestamp:%Y-%m-%d %H:%M:%S}  {operation:12} "
            f"{_rows(v.rows_added):>9} {_rows(v.rows_updated):>9} {_rows(v.rows_removed):>9}"
            f"  {v.writer_text or '-'}"
        )


@lake.command()
@home_option
@lake_option
@click.argument("table", metavar="LAYER.NAME")
@click.option("--version", "version", type=click.IntRange(0), default=None)
@click.option(
    "--as-of", "as_of", default=None, help="A time with its zone, e.g. 2026-11-30T18:00+00:00."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
def show(
    home: str | None,
    lake_name: str | None,
    table: str,
    version: int | None,
    as_of: str | None,
    limit: int,
) -> None:
    """Rows of TABLE, now or as of a version or a time."""
    when = None
    if as_of is not None:
        try:
            when = datetime.fromisoformat(as_of)
        except ValueError:
            raise InvalidInputError(f"--as-of {as_of!r}: not an ISO time") from None
    lake_ = _lake(home, lake_name)
    db = lake_.connect()
    from ..lake.reads import resolve_version

    resolved = resolve_version(lake_.location, table, version, when)
    # Through Arrow: DuckDB's own Python values need pytz for TIMESTAMPTZ.
    rows = db.execute(f"SELECT * FROM {lake_.scan_sql(table, resolved)} LIMIT {limit}")
    result = rows.to_arrow_table()
    click.echo("\t".join(result.column_names))
    for row in result.to_pylist():
        click.echo("\t".join("" if v is None else str(v) for v in row.values()))


@lake.command()
@home_option
@lake_option
@click.argument("table", metavar="LAYER.NAME")
@click.option("--from", "from_version", required=True, type=click.IntRange(0))
@click.option("--to", "to_version", required=True, type=click.IntRange(0))
@click.option(
    "--key", "keys", multiple=True, help="A key column (repeatable); default: the recorded keys."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
def diff(
    home: str | None,
    lake_name: str | None,
    table: str,
    from_version: int,
    to_version: int,
    keys: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Rows of TABLE added, removed and changed by key from one version to another."""
    found = _lake(home, lake_name).diff(table, from_version, to_version, list(keys), limit)
    if as_json:
        click.echo(found.model_dump_json(indent=2))
        return
    click.echo(
        f"{found.table} {found.from_version} -> {found.to_version} by {', '.join(found.keys)}: "
        f"{found.added} added, {found.removed} removed, {found.changed} changed"
    )
    for title, rows in (("added", found.added_rows), ("removed", found.removed_rows)):
        for row in rows:
            key = ", ".join(f"{k}={row[k]}" for k in found.keys)
            click.echo(f"  {title:8} {key}")
    for row in found.changed_rows:
        key = ", ".join(f"{k}={v}" for k, v in row.key.items())
        changes = "; ".join(f"{c}: {row.before[c]} -> {row.after[c]}" for c in row.after)
        click.echo(f"  changed  {key}: {changes}")
    if max(found.added, found.removed, found.changed) > limit:
        click.echo(f"(at most {limit} rows of each kind listed; --limit shows more)", err=True)


def _report(results) -> None:
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            click.echo(f"{r.table:40} {r.operation:9} failed: {r.error}")
        elif r.operation == "optimize":
            click.echo(
                f"{r.table:40} optimize  {counted(r.files_removed, 'file')} compacted into "
                f"{r.files_added} (version {r.version})"
            )
        else:
            click.echo(
                f"{r.table:40} vacuum    {counted(r.files_removed, 'file')} deleted "
                f"(keeps {r.retention_days:g} days)"
            )
    if failed:
        raise click.exceptions.Exit(1)


@lake.command()
@home_option
@lake_option
@click.argument("table", metavar="[LAYER.NAME]", required=False)
def optimize(home: str | None, lake_name: str | None, table: str | None) -> None:
    """Compact small files of TABLE (every Delta table by default)."""
    _report(_lake(home, lake_name).optimize(table))


@lake.command()
@home_option
@lake_option
@click.argument("table", metavar="[LAYER.NAME]", required=False)
def vacuum(home: str | None, lake_name: str | None, table: str | None) -> None:
    """Delete files older versions no longer need, keeping each layer's retention."""
    _report(_lake(home, lake_name).vacuum(table))


@lake.command()
@home_option
@lake_option
def migrate(home: str | None, lake_name: str | None) -> None:
    """Convert the layers' Parquet datasets into Delta tables, in place."""
    results = _lake(home, lake_name).migrate()
    for r in results:
        detail = f" ({counted(r.files, 'file')}, {r.message})" if r.status == "converted" else ""
        detail = f": {r.message}" if r.status == "failed" else detail
        click.echo(f"{r.table:40} {r.status.replace('_', ' ')}{detail}")
    if any(r.status == "failed" for r in results):
        raise click.exceptions.Exit(1)


@lake.command()
@home_option
@lake_option
@click.option("--cron", default=None, help='When to maintain, e.g. "0 3 * * *".')
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--off", is_flag=True, help="Stop scheduled maintenance.")
@click.option("--now", "run_now", is_flag=True, help="Run maintenance on the worker now.")
def schedule(
    home: str | None,
    lake_name: str | None,
    cron: str | None,
    timezone: str,
    off: bool,
    run_now: bool,
) -> None:
    """Optimize and vacuum the lake on a schedule, run by the pipeline worker (or show
    the schedule)."""
    import asyncio

    from ..lake.schedules import (
        delete_maintenance_schedule,
        get_maintenance_schedule,
        set_maintenance_schedule,
        start_maintenance,
    )
    from ..principal import local_principal
    from .connection import _workbench

    workbench = _workbench(home, "schedule lake maintenance")
    principal = local_principal()
    name = lake_name or "lake"

    async def go() -> None:
        if run_now:
            workflow_id = await start_maintenance(workbench, principal, lake_name)
            click.echo(f"{name}: maintenance started on the worker ({workflow_id})")
            return
        if off:
            await delete_maintenance_schedule(workbench, principal, lake_name)
            click.echo(f"{name}: scheduled maintenance stopped")
            return
        if cron is not None:
            shown = await set_maintenance_schedule(workbench, principal, lake_name, cron, timezone)
        else:
            shown = await get_maintenance_schedule(workbench, principal, lake_name)
        upcoming = ", ".join(f"{t:%Y-%m-%d %H:%M %Z}" for t in shown.next_runs) or "none"
        click.echo(f"{name}: maintenance at {shown.cron!r} ({shown.timezone}); next: {upcoming}")

    asyncio.run(go())
