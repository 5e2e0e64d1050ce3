"""Which code runs a declarative step of each kind."""

from __future__ import annotations

from collections.abc import Callable

from .context import StepContext


def run_kind(ctx: StepContext) -> None:
    """Run the step (in a worker thread); raises what made it fail."""
    runner = _runners().get(ctx.kind)
    if runner is None:
        from workbench_server.errors import InvalidInputError

        raise InvalidInputError(f"step {ctx.step_id!r}: unknown step kind {ctx.kind!r}")
    runner(ctx)


def _runners() -> dict[str, Callable[[StepContext], None]]:
    from .extract import run_extract
    from .merge import run_merge
    from .ocr_inbox import run_ocr_inbox
    from .odoo_lock import run_odoo_lock
    from .publish import run_publish
    from .rag import run_rag
    from .scd2 import run_scd2
    from .sql_step import run_sql

    return {
        "extract": run_extract,
        "merge": run_merge,
        "scd2": run_scd2,
        "sql": run_sql,
        "publish": run_publish,
        "rag": run_rag,
        "odoo_lock": run_odoo_lock,
        "ocr_inbox": run_ocr_inbox,
    }
