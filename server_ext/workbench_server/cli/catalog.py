"""``workbench catalog sources|scan|tables|show|search|describe``."""

from __future__ import annotations

import click

from ..errors import InvalidInputError
from . import counted, home_option


def _service(home: str | None):
    from ..catalog import CatalogService
    from ..principal import local_principal
    from .connection import _workbench

    return CatalogService(_workbench(home), local_principal())


def _split(table: str) -> tuple[str, str]:
    schema, dot, name = table.rpartition(".")
    return (schema or "public", name) if dot else ("public", table)


@click.group()
def catalog() -> None:
    """Discover, search and describe the tables of your connections."""


@catalog.command()
@home_option
def sources(home: str | None) -> None:
    """Connections and the state of their catalog."""
    for source in _service(home).sources():
        scan = source.last_scan
        last = (
            f"{scan.status} {scan.started_at:%Y-%m-%d %H:%M}"
            + (f": {scan.error}" if scan.error else "")
            if scan
            else "never scanned"
        )
        tables = "table " if source.tables == 1 else "tables"
        click.echo(f"{source.connection:24} {source.kind:10} {source.tables:6} {tables}  {last}")


@catalog.command()
@home_option
@click.argument("connection")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds the scan may take.")
def scan(home: str | None, connection: str, timeout: float) -> None:
    """Discover CONNECTION now (tables, columns, keys; Odoo labels) and record changes."""
    result = _service(home).scan(connection, timeout)
    changes = ", ".join(f"{k} {v}" for k, v in sorted(result.stats["changes"].items()))
    click.echo(
        f"{connection}: {counted(result.stats['tables'], 'table')}, "
        f"{counted(result.stats['columns'], 'column')}"
        f"{' (Odoo)' if result.stats['odoo'] else ''}; changes: {changes or 'none'}"
    )


@catalog.command()
@home_option
@click.argument("connection")
@click.option("--schema", default=None)
@click.option("--dropped", is_flag=True, help="Include tables that have disappeared.")
def tables(home: str | None, connection: str, schema: str | None, dropped: bool) -> None:
    """Tables of CONNECTION in the catalog."""
    total, items = _service(home).tables(connection, schema, dropped, 0, 10_000)
    for t in items:
        flag = "  (dropped)" if t.dropped_at else ""
        click.echo(f"{t.schema_name}.{t.name:40} {t.kind:18} {t.label or ''}{flag}")
    click.echo(counted(total, "table"), err=True)


@catalog.command()
@home_option
@click.argument("connection")
@click.argument("table", metavar="[SCHEMA.]TABLE")
def show(home: str | None, connection: str, table: str) -> None:
    """A table: description, certification, columns (Odoo labels, keys, tags,
    descriptions) and history."""
    detail = _service(home).find(connection, *_split(table))
    title = f"{detail.connection}:{detail.schema_name}.{detail.name} ({detail.kind})"
    click.echo(title + (f" — {detail.label} [{detail.odoo_model}]" if detail.label else ""))
    for text in (detail.description, detail.comment):
        if text:
            click.echo(f"  {text}")
    if detail.certified or detail.steward:
        certified = "certified" if detail.certified else "not certified"
        click.echo(f"  {certified}" + (f"; steward: {detail.steward}" if detail.steward else ""))
    tags = sorted({*detail.tags, *detail.auto_tags})
    if tags:
        click.echo(f"  tags: {', '.join(tags)}")
    for c in detail.columns:
        if c.dropped_at:
            continue
        if c.company_dependent:  # a value per company, not a key to join on
            link = f"per company -> {c.relation}" if c.relation else "per company"
        else:
            link = f"-> {c.references}" if c.references else ""
        extras = ["PK" if c.primary_key else "", link, ",".join(sorted({*c.tags, *c.auto_tags}))]
        line = f"  {c.name:32} {c.data_type:28} {c.label or '':28} "
        click.echo((line + " ".join(e for e in extras if e)).rstrip())
        if c.description:
            click.echo(f"  {'':32} {c.description}")
    for h in detail.history:
        click.echo(f"  {h.at:%Y-%m-%d %H:%M} {h.change} {_change(h.column, h.old, h.new)}".rstrip())


def _change(column: str | None, old: str | None, new: str | None) -> str:
    """What a history entry changed: ``old -> new``, or what was added, or what was."""
    if old is not None and new is not None:
        what = f"{old} -> {new}"
    elif old is not None:
        what = f"(was {old})"
    else:
        what = new or ""
    return " ".join(x for x in (column, what) if x)


@catalog.command()
@home_option
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True)
def search(home: str | None, query: tuple[str, ...], limit: int) -> None:
    """Find tables by name, Odoo label, description, tag or column."""
    page = _service(home).search(" ".join(query), None, 0, limit)
    for hit in page.hits:
        t = hit.table
        cols = f"  columns: {', '.join(hit.matched_columns)}" if hit.matched_columns else ""
        click.echo(f"{t.connection}:{t.schema_name}.{t.name:36} {t.label or '':24}{cols}")
    click.echo(counted(page.total, "match"), err=True)


@catalog.command()
@home_option
@click.argument("connection")
@click.argument("table", metavar="[SCHEMA.]TABLE")
@click.option("--column", default=None, help="Describe this column instead of the table.")
@click.option("--description", default=None)
@click.option("--tag", "tags", multiple=True, help="Set the tags (repeatable).")
@click.option("--certify/--uncertify", default=None)
def describe(
    home: str | None,
    connection: str,
    table: str,
    column: str | None,
    description: str | None,
    tags: tuple[str, ...],
    certify: bool | None,
) -> None:
    """Set a description, tags or certification; kept across re-scans."""
    from ..catalog import ColumnPatch, TablePatch

    service = _service(home)
    detail = service.find(connection, *_split(table))
    changes: dict[str, object] = {}
    if description is not None:
        changes["description"] = description
    if tags:
        changes["tags"] = list(tags)
    if column is not None:
        if certify is not None:
            raise InvalidInputError("--certify applies to tables, not columns")
        service.edit_column(detail.id, column, ColumnPatch(**changes))
    else:
        if certify is not None:
            changes["certified"] = certify
        service.edit_table(detail.id, TablePatch(**changes))
    click.echo(
        f"{connection}:{detail.schema_name}.{detail.name}{'.' + column if column else ''}: updated"
    )


@catalog.command()
@home_option
@click.argument("connection")
@click.argument("table", metavar="[SCHEMA.]TABLE")
@click.option("--limit", default=20, show_default=True)
def preview(home: str | None, connection: str, table: str, limit: int) -> None:
    """The first rows of a table (read-only, bounded; pii masked unless you may see it)."""
    service = _service(home)
    shown = service.preview(service.find(connection, *_split(table)).id, limit)
    click.echo("\t".join(c.name for c in shown.columns))
    for row in shown.rows:
        click.echo("\t".join("" if v is None else str(v) for v in row))
    for note in shown.notes:
        click.echo(f"({note})", err=True)


@catalog.command()
@home_option
@click.argument("connection")
@click.option("--cron", default=None, help='When to scan, e.g. "0 3 * * *".')
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--off", is_flag=True, help="Stop scheduled scans.")
def schedule(home: str | None, connection: str, cron: str | None, timezone: str, off: bool) -> None:
    """Scan CONNECTION on a schedule, run by the pipeline worker (or show the schedule)."""
    import asyncio

    from ..catalog.schedules import delete_scan_schedule, get_scan_schedule, set_scan_schedule
    from ..principal import local_principal
    from .connection import _workbench

    workbench = _workbench(home)
    principal = local_principal()

    async def go() -> None:
        if off:
            await delete_scan_schedule(workbench, principal, connection)
            click.echo(f"{connection}: scheduled scans stopped")
            return
        if cron is not None:
            shown = await set_scan_schedule(workbench, principal, connection, cron, timezone)
        else:
            shown = await get_scan_schedule(workbench, principal, connection)
        upcoming = ", ".join(f"{t:%Y-%m-%d %H:%M %Z}" for t in shown.next_runs) or "none"
        click.echo(f"{connection}: scans at {shown.cron!r} ({shown.timezone}); next: {upcoming}")

    asyncio.run(go())
