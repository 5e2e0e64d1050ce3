"""The ``workbench`` command: a thin adapter over the core.

A user mistake or a broken environment ends in one line on stderr and a non-zero exit
code, never in a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys

import click

from .._version import __version__
from ..errors import WorkbenchError
from ..settings import WorkbenchSettings


class WorkbenchGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            click.echo(f"workbench: error: {exc}", err=True)
            ctx.exit(1)


home_option = click.option(
    "--home",
    envvar="WORKBENCH_HOME",
    type=click.Path(file_okay=True, dir_okay=True),
    help="Workbench home folder [env WORKBENCH_HOME; default ~/.workbench].",
)


@click.group(cls=WorkbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def cli(verbose: bool) -> None:
    """Data Engineering Workbench: JupyterLab, catalog and durable pipelines for Odoo data."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
def version() -> None:
    """Print the workbench version."""
    click.echo(f"data-engineering-workbench {__version__} (Python {platform.python_version()})")


@cli.command()
@home_option
@click.option("--temporal", "temporal_address", envvar="WORKBENCH_TEMPORAL_ADDRESS",
              help="Temporal frontend host:port [env WORKBENCH_TEMPORAL_ADDRESS].")
@click.option("--namespace", envvar="WORKBENCH_TEMPORAL_NAMESPACE", default="default",
              show_default=True, help="Temporal namespace.")
@click.option("--task-queue", envvar="WORKBENCH_TASK_QUEUE", default="workbench",
              show_default=True, help="Task queue to poll.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Notebook steps this worker runs at once.")
def worker(home: str | None, temporal_address: str | None, namespace: str, task_queue: str,
           concurrency: int) -> None:
    """Run a pipeline worker that polls the task queue until SIGINT/SIGTERM."""
    from workbench_pipelines.worker import run_worker

    logging.getLogger().setLevel(logging.INFO)
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, temporal_namespace=namespace, task_queue=task_queue
    )
    asyncio.run(run_worker(settings, max_concurrent_activities=concurrency))


def _register() -> None:
    from . import doctor, status, up

    cli.add_command(up.up)
    cli.add_command(status.status)
    cli.add_command(doctor.doctor)


_register()


def main() -> None:
    cli(prog_name="workbench")


if __name__ == "__main__":
    sys.exit(main())
