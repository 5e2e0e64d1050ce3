"""``workbench publish layer.table --to SUPERSET``: a lake table as a Superset dataset."""

from __future__ import annotations

import click

from . import counted, home_option


@click.command()
@home_option
@click.argument("table", metavar="LAYER.TABLE")
@click.option("--to", "to", required=True, help="The superset connection to publish to.")
@click.option("--lake", default=None, help="A lake connection (default: the workbench's lake).")
@click.option(
    "--include-pii", is_flag=True, help="Publish pii-tagged columns too (left out by default)."
)
@click.option(
    "--overwrite", is_flag=True, help="Overwrite descriptions and labels edited in Superset."
)
def publish(
    home: str | None, table: str, to: str, lake: str | None, include_pii: bool, overwrite: bool
) -> None:
    """Publish lake TABLE to Superset as a dataset, with the catalog's descriptions, column
    labels, certification and owners (see docs/superset.md)."""
    from pydantic import ValidationError

    from ..errors import InvalidInputError
    from ..principal import local_principal
    from ..superset.publish import PublishRequest
    from ..superset.publish import publish as run
    from .connection import _workbench

    try:
        request = PublishRequest(
            table=table, to=to, lake=lake, include_pii=include_pii, overwrite=overwrite
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {first['msg']}") from None
    result = run(_workbench(home), local_principal(), request)
    verb = "created" if result.created else "updated"
    click.echo(
        f"{result.table}: dataset {result.dataset_id} {verb} in {to} "
        f"({counted(result.rows, 'row')}, version {result.version}, "
        f"{counted(len(result.columns), 'column')})"
    )
    if result.excluded_pii:
        click.echo(f"left out (pii): {', '.join(result.excluded_pii)}")
    if result.kept_edits:
        click.echo(f"kept as edited in Superset: {', '.join(result.kept_edits)}")
    click.echo(result.dataset_url)


@click.command()
@home_option
@click.argument("table", metavar="LAYER.TABLE")
@click.option("--to", "to", required=True, help="The superset connection it was published to.")
@click.option("--lake", default=None, help="A lake connection (default: the workbench's lake).")
@click.option("--force", is_flag=True, help="Delete the dataset even if charts use it.")
def unpublish(home: str | None, table: str, to: str, lake: str | None, force: bool) -> None:
    """Take lake TABLE out of Superset: its dataset deleted there and its copy out of the
    serving file. Refused while charts use the dataset, unless --force (they stop working)."""
    from pydantic import ValidationError

    from ..errors import InvalidInputError
    from ..principal import local_principal
    from ..superset.publish import UnpublishRequest
    from ..superset.publish import unpublish as run
    from .connection import _workbench

    try:
        request = UnpublishRequest(table=table, to=to, lake=lake, force=force)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {first['msg']}") from None
    result = run(_workbench(home), local_principal(), request)
    if result.dataset_id is not None:
        click.echo(f"{result.table}: dataset {result.dataset_id} deleted in {to}")
    else:
        click.echo(f"{result.table}: no dataset in {to}; taken out of the serving file")
    if result.broken_charts:
        click.echo(f"charts that used it (they now fail): {', '.join(result.broken_charts)}")


@click.command("superset-dashboard")
@home_option
@click.argument("title", required=False)
@click.argument("tables", nargs=-1, metavar="[LAYER.TABLE...]")
@click.option("--to", "to", required=True, help="The superset connection to publish to.")
@click.option("--lake", default=None, help="A lake connection (default: the workbench's lake).")
@click.option(
    "--company", "company_id", type=int, default=None, help="Finance dashboard: the company."
)
@click.option("--period", default=None, help="Finance dashboard: the month, YYYY-MM.")
def dashboard(
    home: str | None,
    title: str | None,
    tables: tuple[str, ...],
    to: str,
    lake: str | None,
    company_id: int | None,
    period: str | None,
) -> None:
    """A starter dashboard TITLE in Superset (default "Finance close").

    With no TABLES: the finance dashboard over the month-end close's gold tables (trial
    balance, AR/AP ageing as a bar chart, close checks) for the latest close, or the
    --company and --period given. With TABLES: each published (pii left out) with a table
    chart of its own. Made again, the same dashboard and charts are updated."""
    from pydantic import ValidationError

    from ..errors import InvalidInputError
    from ..principal import local_principal
    from ..superset.dashboard import DashboardRequest, starter_dashboard
    from .connection import _workbench

    given = {"title": title} if title is not None else {}
    try:
        request = DashboardRequest(
            **given, to=to, tables=list(tables), lake=lake, company_id=company_id, period=period
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {first['msg']}") from None
    made = starter_dashboard(_workbench(home), local_principal(), request)
    shown = f" for the close of {made.close}" if made.close else ""
    click.echo(f"dashboard {made.dashboard_id} with {len(made.charts)} chart(s){shown}")
    click.echo(made.dashboard_url)
