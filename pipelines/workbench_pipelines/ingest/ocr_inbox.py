"""The ocr_inbox step: the receipts waiting in the lake's inbox become Odoo expenses.

A scheduled run of this step does what ``POST /workbench/api/ocr/inbox`` does from the
panel or REST, on the workers: every PDF, PNG and JPEG in ``inbox/receipts/`` (a folder
of a local lake, a prefix of an S3 one) goes through the OCR flow as the pipeline's
owner (see docs/ocr.md). A file is known by its SHA-256: one read before is answered
from ``silver.ocr_expenses`` and never read, matched or created again, so a run that is
retried or a file left in the inbox makes no second expense. What the flow is not sure
of (a field read with low confidence, no partner or employee matched, a likely
duplicate) waits in the review queue for a person.

A file the flow cannot take (not a document, too large, unreadable) does not hold the
others back: they are processed, then the step fails naming it, so the owner hears of
it (on_failure) and removes or replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench_server.errors import InvalidInputError, SourceUnavailableError

from ..spec_steps import OcrInboxStep
from .context import StepContext, TableAccess


def run_ocr_inbox(ctx: StepContext) -> None:
    from pyarrow.fs import FileSelector, FileType

    from workbench_server.connections.kinds import OdooConfig
    from workbench_server.connections.odoo import OdooClient, OdooError
    from workbench_server.ocr import flow
    from workbench_server.ocr.models import DOCUMENT_TYPES, MAX_DOCUMENT_BYTES
    from workbench_server.ocr.service import OcrService

    spec = OcrInboxStep.model_validate({**ctx.config, "id": ctx.step_id, "kind": "ocr_inbox"})
    if spec.employee_id is None and not spec.work_email:
        raise InvalidInputError(
            f"step {ctx.step_id!r}: give employee_id or work_email (whom the expenses are for)"
        )
    lake = ctx.lake(spec.lake)
    cfg = ctx.connection(spec.odoo)
    if not isinstance(cfg, OdooConfig):
        raise InvalidInputError(f"connection {spec.odoo!r} is a {cfg.kind} connection, not odoo")
    client = OdooClient(cfg, timeout=60)
    # The engine as the REST routes pick it: the ocr connection's, checked by the network
    # policy, or the offline one.
    engine = OcrService(ctx.workbench, ctx.principal, lake.location, ocr_connection=spec.ocr).engine
    settings = flow.FlowSettings(
        threshold=spec.threshold, employee_id=spec.employee_id, work_email=spec.work_email
    )
    fs, root = lake.location.filesystem()
    listed = fs.get_file_info(FileSelector(f"{root}/{flow.INBOX}", allow_not_found=True))
    files = sorted(
        (i for i in listed if i.type == FileType.File and not i.base_name.startswith(".")),
        key=lambda info: info.base_name,
    )
    counts = {"created": 0, "review": 0, "rejected": 0, "seen_before": 0}
    refused: list[str] = []
    for info in files[: spec.limit]:
        ctx.progress.check()
        name = f"{flow.INBOX}/{info.base_name}"
        if Path(info.base_name).suffix.lower() not in DOCUMENT_TYPES:
            refused.append(f"{name} (not a PDF, PNG or JPEG)")
            continue
        if info.size is not None and info.size > MAX_DOCUMENT_BYTES:
            refused.append(f"{name} (larger than 20 MB)")
            continue
        with fs.open_input_stream(info.path) as stream:
            data = stream.read()
        try:
            outcome = flow.process_document(
                lake.location,
                data,
                info.base_name,
                engine,
                client,
                settings,
                source=f"inbox:{info.base_name}",
                user=ctx.principal.name,
            )
        except OdooError as exc:  # Odoo unreachable or refusing: retry the whole step later
            raise SourceUnavailableError(f"Odoo connection {spec.odoo!r}: {exc}") from None
        except InvalidInputError as exc:
            refused.append(f"{name} ({exc})")
            continue
        except Exception as exc:  # an unreadable image or PDF: this file only
            refused.append(f"{name} ({type(exc).__name__}: {str(exc)[:200]})")
            continue
        ctx.progress.rows += 1
        if outcome.seen_before:
            counts["seen_before"] += 1
            continue
        counts[outcome.status] += 1
        ctx.log(
            f"{name}: {outcome.status}"
            + (f" (hr.expense {outcome.odoo_expense_id})" if outcome.odoo_expense_id else "")
            + (f" - {outcome.reason}" if outcome.reason else "")
        )
    _record(ctx, lake, counts)
    ctx.log(
        f"{len(files)} file(s) in {flow.INBOX}: {counts['created']} expense(s) created, "
        f"{counts['review']} for review, {counts['seen_before']} read before"
        + (f", {len(files) - spec.limit} left for the next run" if len(files) > spec.limit else "")
    )
    if refused:
        raise InvalidInputError(
            f"{len(refused)} file(s) in the inbox could not be taken, remove or replace them: "
            + "; ".join(refused[:10])
        )


def _record(ctx: StepContext, lake: Any, counts: dict[str, int]) -> None:
    """The flow's lake tables as this run left them (run history, lineage), when it wrote."""
    from workbench_server.ocr import flow

    new = counts["created"] + counts["review"]
    for table in (flow.BRONZE, flow.SILVER):
        if new and lake.exists(table):
            version = lake.version(table)
            ctx.tables.append(TableAccess(lake.name, table, "write", version))
            ctx.stats[table] = {"version": version, **counts}
