"""The ``workbench`` command: a thin adapter over the core.

A user mistake or a broken environment ends in one line on stderr and a non-zero exit
code, never in a traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys

import click
from click.utils import make_default_short_help

from .._version import __version__
from ..errors import WorkbenchError, metadata_db_failure

# Subcommands living in their own modules, imported only when run: `workbench up` should
# not pay for what `workbench doctor` imports, and start-up time is measured. Beside each,
# the first paragraph of its help, which `workbench --help` lists without importing any
# of them (tests/test_cli.py checks it against the command's own help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "up": (
        "workbench_server.cli.up:up",
        "Start Temporal, a pipeline worker and JupyterLab (or JupyterHub); Ctrl-C stops them all.",
    ),
    "status": (
        "workbench_server.cli.status:status",
        "Ask the running workbench for its health; exit 0 only when every part is ok.",
    ),
    "doctor": (
        "workbench_server.cli.doctor:doctor",
        "Check Python, the prebuilt extension, the temporal binary, ports, home and DB "
        "(and, with --cdc, a source's logical replication).",
    ),
    "connection": (
        "workbench_server.cli.connection:connection",
        "Manage data connections (Odoo, PostgreSQL, DuckDB, lake, SQLAlchemy, Superset).",
    ),
    "secrets": (
        "workbench_server.cli.connection:secrets",
        "Manage the key that encrypts connection secrets.",
    ),
    "pipeline": (
        "workbench_server.cli.pipeline:pipeline",
        "Notebook pipelines defined in YAML files.",
    ),
    "approve": (
        "workbench_server.cli.approve:approve",
        "Approve (or --reject) approval STEP of run RUN_ID; its next steps run, or the run "
        "fails with the reason.",
    ),
    "approvals": (
        "workbench_server.cli.approve:approvals",
        "Approvals waiting for a decision that you may take.",
    ),
    "catalog": (
        "workbench_server.cli.catalog:catalog",
        "Discover, search and describe the tables of your connections.",
    ),
    "lake": (
        "workbench_server.cli.lake:lake",
        "The lake's Delta tables: versions, diffs, maintenance, migration from Parquet.",
    ),
    "cdc": (
        "workbench_server.cli.cdc:cdc",
        "Change data capture: a source's readiness, its slots, dropping one.",
    ),
    "backup": (
        "workbench_server.cli.backup:backup",
        "Back up the metadata DB, the secrets key, pipelines and run history.",
    ),
    "restore": (
        "workbench_server.cli.backup:restore",
        "Restore ARCHIVE (from `workbench backup`) into an empty home.",
    ),
    "mcp": (
        "workbench_server.cli.mcp:mcp",
        "Serve the workbench's MCP tools on stdin/stdout (for Claude Desktop and other agents).",
    ),
    "agent": (
        "workbench_server.cli.agent:agent",
        "Agents that hear events (dataset updated, run finished, approval requested) of "
        "what you may see, signed, at a URL of yours.",
    ),
    "publish": (
        "workbench_server.cli.publish:publish",
        "Publish lake TABLE to Superset as a dataset, with the catalog's descriptions, column "
        "labels, certification and owners (see docs/superset.md).",
    ),
    "unpublish": (
        "workbench_server.cli.publish:unpublish",
        "Take lake TABLE out of Superset: its dataset deleted there and its copy out of the "
        "serving file. Refused while charts use the dataset, unless --force (they stop working).",
    ),
    "superset-dashboard": (
        "workbench_server.cli.publish:dashboard",
        'A starter dashboard TITLE in Superset (default "Finance close").',
    ),
}


class WorkbenchGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[name][0].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``workbench --help`` as click writes it, from the help of
        each lazy command above: click's own imports every subcommand's module (SQLAlchemy,
        the models, pydantic: seconds on a busy machine) to print one line of each."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in LAZY_COMMANDS:
                rows.append((name, make_default_short_help(LAZY_COMMANDS[name][1], limit)))
            elif not self.commands[name].hidden:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            click.echo(f"workbench: error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            # The metadata DB refused or is damaged: one line, not SQLAlchemy's traceback.
            message = metadata_db_failure(exc)
            if message is None:
                raise
            click.echo(f"workbench: error: {message}", err=True)
            ctx.exit(1)


home_option = click.option(
    "--home",
    envvar="WORKBENCH_HOME",
    type=click.Path(file_okay=True, dir_okay=True),
    help="Workbench home folder [env WORKBENCH_HOME; default ~/.workbench].",
)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in the number it takes: "1 match", "2 matches", "0 tables"."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or (noun + 'es' if noun.endswith(('s', 'ch', 'sh', 'x')) else noun + 's')}"


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
    import asyncio

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
    # Only a command that connected to Temporal has imported the module that says so.
    temporal = sys.modules.get("workbench_server.temporal")
    if temporal is not None and temporal.clients_created:
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
