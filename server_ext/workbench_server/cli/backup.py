"""``workbench backup`` / ``workbench restore``: the metadata DB, the key and the files the
metadata points to, in one archive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ..settings import WorkbenchSettings
from . import home_option


@click.command()
@home_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Archive to write [default: HOME/backups/workbench-<UTC time>.tar.gz].",
)
@click.option("--no-runs", is_flag=True, help="Leave out run artifacts (notebooks, logs).")
def backup(home: str | None, output: Path | None, no_runs: bool) -> None:
    """Back up the metadata DB, the secrets key, pipelines and run history.

    The archive holds the secrets key: keep it as safe as the key itself (it is written
    with mode 0600). Safe to run while the workbench runs.
    """
    from ..backup import backup as make_backup

    settings = WorkbenchSettings.from_env(home)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = output or settings.workbench_home.root / "backups" / f"workbench-{stamp}.tar.gz"
    result = make_backup(settings, target.resolve(), include_runs=not no_runs)
    click.echo(f"backed up {settings.workbench_home.root} to {result.archive}")
    click.echo(f"  {result.size_bytes:,} bytes: {', '.join(result.manifest['contents'])}")


@click.command()
@home_option
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def restore(home: str | None, archive: Path) -> None:
    """Restore ARCHIVE (from `workbench backup`) into an empty home."""
    from ..backup import restore as load_backup

    settings = WorkbenchSettings.from_env(home)
    manifest = load_backup(archive.resolve(), settings)
    click.echo(
        f"restored {archive} (from {manifest['home']}, {manifest['created_at']}) "
        f"into {settings.workbench_home.root}"
    )
