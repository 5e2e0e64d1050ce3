"""The publish step: a lake table published to Superset as the pipeline's owner.

Each run re-publishes the table as it is after the steps it depends on (Superset reads a
copy: this is what keeps it fresh, see docs/superset.md). The table's version read is
recorded like any step's read; the copy goes to the Superset connection's serving file,
not to the lake, so the step writes no lake table.
"""

from __future__ import annotations

from workbench_server.superset.publish import PublishRequest, publish

from ..spec_steps import PublishStep
from .context import StepContext, require_table


def run_publish(ctx: StepContext) -> None:
    spec = PublishStep.model_validate({**ctx.config, "id": ctx.step_id, "kind": "publish"})
    lake = ctx.lake(spec.lake)
    ctx.progress.table = spec.table
    version = require_table(lake, spec.table, f"publish of {spec.table}")
    ctx.read(lake, spec.table, version)
    ctx.progress.check()
    result = publish(
        ctx.workbench,
        ctx.principal,
        PublishRequest(
            table=spec.table,
            to=spec.to,
            lake=spec.lake,
            include_pii=spec.include_pii,
            overwrite=spec.overwrite,
        ),
    )
    ctx.log(
        f"{spec.table} v{result.version} -> {spec.to} dataset {result.dataset_id} "
        f"({'created' if result.created else 'updated'}, {result.rows} rows"
        + (f", pii left out: {', '.join(result.excluded_pii)}" if result.excluded_pii else "")
        + (
            f", kept as edited in Superset: {', '.join(result.kept_edits)}"
            if result.kept_edits
            else ""
        )
        + ")"
    )
    ctx.stats[spec.table] = {
        "published_to": spec.to,
        "dataset_id": result.dataset_id,
        "version": result.version,
        "rows": result.rows,
    }
