"""The scd2 step: a silver table's current rows into a gold SCD type 2 dimension.

The snapshot is silver as of its version now (recorded as read); the lake library
closes the rows of keys that changed or disappeared and opens new current rows
(``valid_from``, ``valid_to``, ``is_current``), in one commit, or none when nothing
changed. Columns starting with ``_`` (where a row came from, when it was extracted) are
left out by default: they change with every extraction, the business data may not.
"""

from __future__ import annotations

from workbench_server.errors import InvalidInputError
from workbench_server.sql_text import quote_identifier as qi

from ..spec_steps import Scd2Step
from .context import StepContext, as_result, require_table
from .lineage import copy_lineage
from .session import step_session


def run_scd2(ctx: StepContext) -> None:
    spec = Scd2Step.model_validate({**ctx.config, "id": ctx.step_id, "kind": "scd2"})
    lake = ctx.lake(spec.lake)
    ctx.progress.table = spec.target
    version = require_table(lake, spec.source, f"scd2 of {spec.source}")
    ctx.read(lake, spec.source, version)
    if ctx.attempt > 1 and lake.exists(spec.target):  # an earlier attempt's commit?
        done = lake.written_by(spec.target, ctx.run_id, ctx.step_id)
        if done:
            ctx.wrote(lake, as_result(spec.target, done[0]))
            ctx.log(f"{spec.target}: written by an earlier attempt of this run")
            return
    with step_session(lake, ctx.progress) as db:
        scan = lake.scan_sql(spec.source, version)
        available = [row[0] for row in db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        columns = spec.columns or [c for c in available if not c.startswith("_")]
        missing = [c for c in [*spec.keys, *columns] if c not in available]
        if missing:
            raise InvalidInputError(f"scd2 of {spec.source}: it has no column(s) {missing}")
        snapshot = db.execute(
            f"SELECT {', '.join(qi(c) for c in columns)} FROM {scan}"
        ).to_arrow_reader(64 * 1024)
        ctx.progress.check()
        result = lake.scd2(
            spec.target,
            snapshot,
            keys=spec.keys,
            tracked=spec.tracked,
            as_of=ctx.started,
            writer=ctx.writer,
        )
    if result.operation != "NONE":
        ctx.wrote(lake, result)
    copy_lineage(ctx, lake, spec.source, spec.target, columns, None, f"scd2 {spec.source}")
    ctx.log(
        f"{spec.source} v{version} -> {spec.target}: "
        + (
            "unchanged"
            if result.operation == "NONE"
            else f"version {result.version}, {result.rows_added} row(s) opened, "
            f"{result.rows_updated} closed"
        )
    )
    ctx.stats[spec.target] = {"source_version": version, "version": result.version}
