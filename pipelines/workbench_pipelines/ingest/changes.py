"""Telling the installation that datasets changed: after each committed batch of a cdc
step, after a declarative step that wrote tables, and after a notebook step that wrote
lake tables through its kernel's lake session (:func:`notebook_changes`).

Three things hear of a change, each after the lake commit it describes and none able to
undo it (a failure is logged; the data is in the lake either way):

- the catalog: the table's entry gets its new version and last write at once, rather than
  at the next scan, so its freshness (the panel, the freshness SLAs) is live; a table it
  has no entry of yet (a step's first write of it) is scanned into it;
- webhook targets of the writing run's pipeline (n8n, agents): a ``dataset.updated``
  event per table and version, queued in the outbox and delivered like run events;
- pipelines that listen (``on_change:``): one signal per batch to each one's
  :class:`~workbench_pipelines.on_change.OnChangeWorkflow`, which coalesces and runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workbench_server.connections.service import usable_by
from workbench_server.db.models import CatalogTable, Connection, Pipeline, PipelineVersion
from workbench_server.lake.location import DEFAULT_LAKE
from workbench_server.principal import Principal

from ..triggers import (
    CHANGE_SIGNAL,
    ON_CHANGE_WORKFLOW,
    ChangeNotice,
    DatasetChange,
    OnChangeInput,
    on_change_workflow_id,
)

if TYPE_CHECKING:
    from workbench_server.core import Workbench
    from workbench_server.lineage.service import RecordedSql

    from .context import StepContext, TableAccess

log = logging.getLogger(__name__)
EVENT = "dataset.updated"
SIGNAL_TIMEOUT_S = 10.0


def changes_of(ctx: StepContext, accesses: list[TableAccess]) -> list[DatasetChange]:
    """The tables ``accesses`` wrote (a write that changed nothing is no change)."""
    now = datetime.now(UTC).isoformat()
    return [
        DatasetChange(
            dataset=f"{a.lake}.{a.table}",
            version=a.version,
            operation=a.operation,
            rows_added=a.rows_added,
            rows_updated=a.rows_updated,
            rows_removed=a.rows_removed,
            run_id=ctx.run_id,
            pipeline=ctx.pipeline,
            committed_at=now,
        )
        for a in accesses
        if a.access == "write" and (a.operation or "").upper() != "NONE"
    ]


def notebook_changes(
    ctx: StepContext, recorded: list[tuple[str, RecordedSql]]
) -> list[DatasetChange]:
    """The lake tables a notebook step's attempt wrote, as changes.

    The worker learns of a notebook's writes from its kernel's lineage reports (each
    ``%sql`` write and ``lake.write`` of a relation, sent before the next cell runs):
    their outputs that are tables of a lake the owner may use are candidates, and each
    table's commit log says which versions this run's step and attempt wrote (the
    kernel stamps its commits with them), so a statement that wrote nothing, or a table
    another writer changed meanwhile, is no change of this step. The newest version per
    table is announced, with the rows of every commit the attempt made to it."""
    from workbench_server.lake import Lake
    from workbench_server.lineage.service import resolve

    wanted: set[tuple[str, str]] = set()
    for _statement, found in recorded:
        if found.context.kind != "lake":
            continue
        for statement in found.found.statements:
            for output in statement.outputs:
                namespace, name = resolve(output, found.context)
                if name.count(".") == 1:  # layer.table
                    wanted.add((namespace, name))
    changes = []
    lakes: dict[str, Lake | None] = {}
    for namespace, name in sorted(wanted):
        if namespace not in lakes:
            try:
                lakes[namespace] = Lake.of(
                    ctx.workbench, ctx.principal, None if namespace == DEFAULT_LAKE else namespace
                )
            except Exception:  # not a lake (an attached database), or not the owner's
                lakes[namespace] = None
        lake = lakes[namespace]
        if lake is None:
            continue
        try:
            versions = [
                v
                for v in lake.written_by(name, ctx.run_id, ctx.step_id)
                if v.writer is None or v.writer.attempt in (None, ctx.attempt)
            ]
        except Exception:  # not a Delta table (a file COPY wrote): no versions to tell
            log.debug("no versions of %s.%s", namespace, name, exc_info=True)
            continue
        if not versions:
            continue
        newest = versions[0]

        def total(field: str, of: list = versions) -> int | None:
            counts = [getattr(v, field) for v in of if getattr(v, field) is not None]
            return sum(counts) if counts else None

        changes.append(
            DatasetChange(
                dataset=f"{lake.name}.{name}",
                version=newest.version,
                operation=newest.operation,
                rows_added=total("rows_added"),
                rows_updated=total("rows_updated"),
                rows_removed=total("rows_removed"),
                run_id=ctx.run_id,
                pipeline=ctx.pipeline,
                committed_at=newest.timestamp.isoformat(),
            )
        )
    return changes


def columns_changed(ctx: StepContext, lake: str, table: str) -> None:
    """A write gave ``table`` new columns (a column the source gained): its catalog entry
    is scanned again now, so the panel and search show them, rather than at the next scan
    of the lake. Never raises: the write happened; a failed scan is logged."""
    from workbench_server.catalog import CatalogService

    try:
        CatalogService(ctx.workbench, ctx.principal).scan(lake, tables=[table])
    except Exception as exc:
        log.warning("catalog scan of %s in %s after new columns failed: %s", table, lake, exc)


def announce(ctx: StepContext, changes: list[DatasetChange]) -> None:
    """Tell the catalog, the webhook targets and the listening pipelines (from the step's
    thread; waits for the signals, a few milliseconds)."""
    if not changes:
        return
    workbench = ctx.workbench
    try:
        unknown = _catalog(workbench, changes, ctx.writer.describe())
    except Exception:
        log.warning("catalog not updated after a write of run %s", ctx.run_id, exc_info=True)
        unknown = {}
    _scan_new(ctx, unknown)
    try:
        queued = _queue_webhooks(workbench, ctx.run_id, changes)
    except Exception:
        log.warning("%s of run %s not queued", EVENT, ctx.run_id, exc_info=True)
        queued = False
    try:
        notices = listeners(workbench, changes, ctx.pipeline)
    except Exception:
        log.warning("on_change listeners not read", exc_info=True)
        notices = {}
    if ctx.loop is None or ctx.client is None or not (queued or notices):
        return
    done = asyncio.run_coroutine_threadsafe(
        _send(workbench, ctx.client, ctx.run_id, queued, notices), ctx.loop
    )
    try:
        done.result(timeout=SIGNAL_TIMEOUT_S)
    except Exception:
        log.warning("changes of run %s not signalled", ctx.run_id, exc_info=True)


def _catalog(
    workbench: Workbench, changes: list[DatasetChange], writer: str
) -> dict[str, list[str]]:
    """The written tables' catalog entries as of the new versions; the tables the catalog
    has no entry of yet, by lake (for :func:`_scan_new`)."""
    unknown: dict[str, list[str]] = {}
    with workbench.sessions.begin() as session:
        for change in changes:
            lake, layer, name = change.dataset.split(".", 2)
            row = session.scalar(
                select(CatalogTable)
                .join(Connection, Connection.id == CatalogTable.connection_id)
                .where(
                    Connection.name == lake,
                    Connection.kind == "lake",
                    CatalogTable.schema_name == layer,
                    CatalogTable.name == name,
                    CatalogTable.dropped_at.is_(None),
                )
            )
            if row is None:
                unknown.setdefault(lake, []).append(f"{layer}.{name}")
                continue
            extra = dict(row.extra or {})
            if isinstance(extra.get("version"), int) and extra["version"] > change.version:
                continue  # a newer version is known already
            extra.update(
                version=change.version,
                last_write=change.committed_at,
                last_writer=writer,
                last_operation=(change.operation or "").lower() or None,
            )
            if isinstance(extra.get("versions"), int):
                extra["versions"] = max(extra["versions"], change.version + 1)
            row.extra = extra  # a new dict: the JSON column sees the change
            if row.row_estimate is not None:
                delta = (change.rows_added or 0) - (change.rows_removed or 0)
                if (change.operation or "").lower() in ("append", "merge", "write"):
                    row.row_estimate = max(0, row.row_estimate + delta)
    return unknown


def _scan_new(ctx: StepContext, unknown: dict[str, list[str]]) -> None:
    """Scan into the catalog the written tables it did not have (a step's first write of
    them), and only them, as the run's owner: the panel and search find a pipeline's new
    table after its step, as a notebook's ``%sql`` one, not after someone scans the whole
    lake. Never raises: the write happened; a failed scan is logged."""
    from workbench_server.catalog import CatalogService

    for lake, tables in unknown.items():
        try:
            CatalogService(ctx.workbench, ctx.principal).scan(lake, tables=sorted(set(tables)))
        except Exception as exc:
            log.warning("catalog scan of %s in %s after a write failed: %s", tables, lake, exc)


def _queue_webhooks(workbench: Workbench, run_id: str, changes: list[DatasetChange]) -> bool:
    from workbench_server.webhooks.events import enqueue

    count = 0
    with workbench.sessions.begin() as session:
        for change in changes:
            body = {
                "name": change.dataset,
                "version": change.version,
                "operation": change.operation,
                "rows_added": change.rows_added,
                "rows_updated": change.rows_updated,
                "rows_removed": change.rows_removed,
                "committed_at": change.committed_at,
            }
            count += enqueue(session, run_id, EVENT, dataset=body, workbench=workbench)
    return count > 0


def listeners(
    workbench: Workbench, changes: list[DatasetChange], writer: str
) -> dict[str, ChangeNotice]:
    """The notice for each pipeline whose current version listens to one of the changed
    datasets (never the writing pipeline itself: it would trigger itself forever), and
    whose owner may use the lake the change is in."""
    changed = {c.dataset for c in changes}
    out: dict[str, ChangeNotice] = {}
    with workbench.sessions() as session:
        rows = session.execute(
            select(Pipeline.name, Pipeline.owner, PipelineVersion.spec).join(
                PipelineVersion,
                (PipelineVersion.pipeline_id == Pipeline.id)
                & (PipelineVersion.version == Pipeline.current_version),
            )
        ).all()
        lakes: dict[str, Connection | None] = {}
        for name, owner, spec in rows:
            on_change = (spec or {}).get("on_change")
            if not on_change or name == writer:
                continue
            wanted = changed.intersection(on_change.get("datasets") or [])
            if not wanted:
                continue
            principal = Principal(name=owner)
            visible = []
            for dataset in sorted(wanted):
                lake = dataset.split(".", 1)[0]
                if lake not in lakes:
                    lakes[lake] = session.scalar(select(Connection).where(Connection.name == lake))
                connection = lakes[lake]
                if (connection is None and lake == DEFAULT_LAKE) or (
                    connection is not None and usable_by(principal, connection)
                ):  # the default lake (every user's) has no row until the catalog lists it
                    visible.append(dataset)
            if visible:
                out[name] = ChangeNotice(
                    changes=[c for c in changes if c.dataset in visible],
                    debounce_s=_seconds(on_change.get("debounce")),
                    overlap=on_change.get("overlap") or "buffer_one",
                )
    return out


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    from ..spec_types import parse_duration

    return parse_duration(value).total_seconds()


async def _send(
    workbench: Workbench, client: Any, run_id: str, queued: bool, notices: dict[str, ChangeNotice]
) -> None:
    from ..webhook_delivery import start_pending

    for pipeline, notice in notices.items():
        await client.start_workflow(
            ON_CHANGE_WORKFLOW,
            OnChangeInput(pipeline=pipeline),
            id=on_change_workflow_id(pipeline),
            task_queue=workbench.settings.task_queue,
            start_signal=CHANGE_SIGNAL,
            start_signal_args=[notice],
        )
    if queued:
        await start_pending(workbench, run_id, client)
