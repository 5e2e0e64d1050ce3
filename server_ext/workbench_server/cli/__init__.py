"""The ``workbench`` command: a thin adapter over the core.

A user mistake or a broken environment ends in one line on stderr and a non-zero exit
code, never in a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import platform
import sys

import click

from .. import temporal
from .._version import __version__
from ..errors import WorkbenchError

# Subcommands living in their own modules, imported only when run: `workbench up` should
# not pay for what `workbench doctor` imports, and start-up time is measured.
LAZY_COMMANDS = {
    "up": "workbench_server.cli.up:up",
    "status": "workbench_server.cli.status:status",
    "doctor": "workbench_server.cli.doctor:doctor",
    "connection": "workbench_server.cli.connection:connection",
    "secrets": "workbench_server.cli.connection:secrets",
    "pipeline": "workbench_server.cli.pipeline:pipeline",
    "approve": "workbench_server.cli.approve:approve",
    "approvals": "workbench_server.cli.approve:approvals",
    "catalog": "workbench_server.cli.catalog:catalog",
    "lake": "workbench_server.cli.lake:lake",
    "cdc": "workbench_server.cli.cdc:cdc",
    "backup": "workbench_server.cli.backup:backup",
    "restore": "workbench_server.cli.backup:restore",
    "mcp": "workbench_server.cli.mcp:mcp",
    "agent": "workbench_server.cli.agent:agent",
    "publish": "workbench_server.cli.publish:publish",
    "superset-dashboard": "workbench_server.cli.publish:dashboard",
}


class WorkbenchGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

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
    console = logging.StreamHandler()
    # The level sits on the handler: commands may log more to files of their own.
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[console])


@cli.command()
def version() -> None:
    """Print the workbench version."""
    click.echo(f"data-engineering-workbench {__version__} (Python {platform.python_version()})")


@cli.command()
@home_option
@click.option(
    "--temporal",
    "temporal_address",
    envvar="WORKBENCH_TEMPORAL_ADDRESS",
    help="Temporal frontend host:port [env WORKBENCH_TEMPORAL_ADDRESS].",
)
@click.option(
    "--namespace",
    envvar="WORKBENCH_TEMPORAL_NAMESPACE",
    default="default",
    show_default=True,
    help="Temporal namespace.",
)
@click.option(
    "--task-queue",
    envvar="WORKBENCH_TASK_QUEUE",
    default="workbench",
    show_default=True,
    help="Task queue to poll.",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Notebook steps this worker runs at once.",
)
@click.option(
    "--connect-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to keep trying to reach Temporal at start.",
)
def worker(
    home: str | None,
    temporal_address: str | None,
    namespace: str,
    task_queue: str,
    concurrency: int,
    connect_timeout: float,
) -> None:
    """Run a pipeline worker that polls the task queue until SIGINT/SIGTERM."""
    from workbench_pipelines.worker import run_worker

    from ..settings import WorkbenchSettings

    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))
    for handler in root.handlers:  # a worker's log is its output: keep INFO
        handler.setLevel(min(handler.level, logging.INFO))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, temporal_namespace=namespace, task_queue=task_queue
    )
    asyncio.run(
        run_worker(settings, max_concurrent_activities=concurrency, connect_timeout=connect_timeout)
    )


def main() -> None:
    code = _run()
    sys.stdout.flush()
    sys.stderr.flush()
    if temporal.clients_created:
        # The Temporal SDK's Rust threads can abort the interpreter at shutdown
        # (temporalio/sdk-python#300); everything is flushed, so leave without teardown.
        os._exit(code)
    sys.exit(code)


def _run() -> int:
    try:
        result = cli.main(prog_name="workbench", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return result if isinstance(result, int) else 0
