"""``workbench cdc check|slots|drop``: change data capture's side of a PostgreSQL source.

A cdc extract (docs/cdc.md) keeps a replication slot and a publication on the source,
named ``wb_<source>_<pipeline>_<step>``. While the slot exists the server keeps every
WAL segment its consumer has not acknowledged: a source given up must have its slot
dropped, which ``workbench cdc drop`` does (the publication with it).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import home_option


def _kwargs(home: str | None, name: str) -> dict[str, Any]:
    """libpq settings of the postgres connection ``name``, checked against the policy."""
    from ..connections.egress import EgressPolicy, pin
    from ..connections.kinds import PostgresConfig
    from ..errors import InvalidInputError
    from .connection import _service

    service = _service(home)
    cfg = service.resolve(name)
    if not isinstance(cfg, PostgresConfig):
        raise InvalidInputError(
            f"connection {name!r} is a {cfg.kind} connection: change data capture reads a "
            "postgres connection"
        )
    pinned = pin(name, cfg, EgressPolicy.from_settings(service.workbench.settings))
    return pinned.psycopg_kwargs("workbench-cdc", 10)


@click.group()
def cdc() -> None:
    """Change data capture: a source's readiness, its slots, dropping one."""


@cdc.command("check")
@home_option
@click.argument("connection")
def check(home: str | None, connection: str) -> None:
    """Say whether CONNECTION allows logical replication, and what to change if not."""
    from ..connections.replication import check as readiness

    found = readiness(_kwargs(home, connection))
    click.echo(f"connection {connection!r}: {found.summary()}", err=not found.ok)
    sys.exit(0 if found.ok else 1)


@cdc.command("slots")
@home_option
@click.argument("connection")
@click.option("--json", "as_json", is_flag=True, help="One JSON list.")
def slots(home: str | None, connection: str, as_json: bool) -> None:
    """The workbench's slots on CONNECTION's database, with their lag and retained WAL."""
    from dataclasses import asdict

    from ..connections.replication import slots as listed

    found = listed(_kwargs(home, connection))
    if as_json:
        click.echo(json.dumps([asdict(s) for s in found], indent=2))
        return
    if not found:
        click.echo(f"connection {connection!r} has no workbench slot")
    for s in found:
        click.echo(
            f"{s.name}  {'reading' if s.active else 'idle'}  acknowledged {s.confirmed_flush}  "
            f"lag {s.lag_bytes} bytes  WAL kept {s.retained_bytes} bytes"
        )


@cdc.command("drop")
@home_option
@click.argument("connection")
@click.argument("slot", required=False)
@click.option("--pipeline", help="The pipeline whose slot it is (with --step).")
@click.option("--step", default="extract", show_default=True, help="The cdc extract step.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def drop(
    home: str | None, connection: str, slot: str | None, pipeline: str | None, step: str, yes: bool
) -> None:
    """Drop SLOT (or the slot of --pipeline's --step) on CONNECTION and its publication:
    the source stops keeping WAL for it; the next cdc run copies its tables again."""
    from ..connections.replication import drop as dropped
    from ..connections.replication import slot_name
    from ..errors import InvalidInputError

    if slot is None:
        if pipeline is None:
            raise InvalidInputError("name the slot (workbench cdc slots CONNECTION lists them) "
                                    "or give --pipeline")  # fmt: skip
        slot = slot_name(connection, pipeline, step)
    kwargs = _kwargs(home, connection)
    if not yes:
        click.confirm(f"Drop slot {slot} on connection {connection!r}?", abort=True)
    if dropped(kwargs, slot):
        click.echo(f"dropped slot {slot} and its publication")
    else:
        click.echo(f"connection {connection!r} has no slot {slot} (its publication is gone too)")
