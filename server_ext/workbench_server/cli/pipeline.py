"""``workbench pipeline validate``: check pipeline files before they are deployed."""

from __future__ import annotations

import json
from pathlib import Path

import click


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
