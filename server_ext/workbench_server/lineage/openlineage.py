"""OpenLineage run events for the workbench's jobs, built and sent with openlineage-python.

Jobs are pipeline steps (``<pipeline>.<step>``: one OpenLineage run per attempt, the
pipeline run as its parent) and notebooks (``notebook:<path>``: one run per statement
that writes data). An attempt that was lost (its worker died) is closed with ABORT when
its run ends, so consumers do not show it running for ever.

Datasets follow OpenLineage's naming spec, so that other tools' lineage of the same
tables joins the workbench's: a PostgreSQL table is ``postgres://host:port`` +
``database.schema.table``, a lake dataset its folder (``file`` + the absolute path, or
``s3://bucket`` + the key), a file its path. The workbench's own name (connection and
``schema.table`` or ``layer.dataset``) travels with it in the ``symlinks`` facet and the
connection in ``dataSource``. Datasets of other connections (DuckDB files, Odoo's API)
keep the workbench's name. Output datasets carry the ``columnLineage`` facet worked out
from the SQL.

Where events go is the transport config (any openlineage-python transport: HTTP to
Marquez or DataHub, a file, Kafka, ...). Without one, openlineage-python's own
``OPENLINEAGE_URL`` / ``OPENLINEAGE_CONFIG`` apply if set; otherwise nothing is sent.
Sending never fails the caller: a consumer that is down costs a logged warning.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    set_producer,
)
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    processing_engine_run,
    sql_job,
    symlinks_dataset,
)

from .._version import __version__
from ..lake_layout import LAYERS, MAIN
from ..metrics.instruments import openlineage_event
from .export import CLIENT_ENV
from .service import FILE, RecordedSql, SqlContext, resolve

if TYPE_CHECKING:
    from ..core import Workbench
    from .sql import SqlLineage

log = logging.getLogger(__name__)

PRODUCER = f"https://github.com/data-engineering-workbench/workbench/tree/v{__version__}"
set_producer(PRODUCER)
# The ``$id`` of docs/openlineage/WorkbenchRunFacet.json: a facet's _schemaURL points into
# its schema by id (as OpenLineage's own facets do), not to a page about it.
WORKBENCH_FACET_SCHEMA = (
    "https://github.com/data-engineering-workbench/workbench/docs/openlineage/"
    "WorkbenchRunFacet.json"
)
LOST = "lost: its worker stopped or lost touch with Temporal before the attempt ended"
# openlineage-python's own settings, which it reads when the workbench has no transport.

# How the workbench's transformation kinds read as OpenLineage transformations.
TRANSFORMATIONS = {
    "identity": ("DIRECT", "IDENTITY"),
    "expression": ("DIRECT", "TRANSFORMATION"),
    "aggregation": ("DIRECT", "AGGREGATION"),
}


@attr.define
class WorkbenchRunFacet(RunFacet):
    """What a workbench run is: its pipeline, version, attempt, logical date, parameters.

    openlineage-python drops every null from an event, so parameters given as None are
    named in ``nullParameters`` instead of vanishing."""

    pipeline: str | None = attr.field(default=None)
    version: int | None = attr.field(default=None)
    attempt: int | None = attr.field(default=None)
    logicalDate: str | None = attr.field(default=None)
    parameters: dict[str, Any] = attr.field(factory=dict)
    workbenchRunId: str | None = attr.field(default=None)
    nullParameters: list[str] | None = attr.field(default=None)

    _additional_skip_redact: ClassVar[list[str]] = ["pipeline", "version", "attempt"]

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        nulls = sorted(_null_paths(self.parameters))
        if nulls:
            self.nullParameters = nulls

    @staticmethod
    def _get_schema() -> str:
        return f"{WORKBENCH_FACET_SCHEMA}#/$defs/WorkbenchRunFacet"


def _null_paths(values: Any, prefix: str = "") -> list[str]:
    """Where ``values`` holds None: ``name``, ``name.key`` in a mapping, ``name[2]`` in a list."""
    found: list[str] = []
    items = (
        (((f"{prefix}.{k}" if prefix else str(k)), v) for k, v in values.items())
        if isinstance(values, dict)
        else ((f"{prefix}[{i}]", v) for i, v in enumerate(values))
    )
    for path, value in items:
        if value is None:
            found.append(path)
        elif isinstance(value, dict | list):
            found += _null_paths(value, path)
    return found


def run_uuid(*parts: object) -> str:
    """A stable OpenLineage run id for a workbench run, step and attempt."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "workbench:" + "/".join(map(str, parts))))


@dataclass
class Datasets:
    """Inputs and outputs of one run, with column lineage on the outputs."""

    inputs: dict[tuple[str, str], None] = field(default_factory=dict)
    outputs: dict[tuple[str, str], dict[str, list[tuple[str, str, str, str]]]] = field(
        default_factory=dict
    )
    sql: list[str] = field(default_factory=list)

    def add_declared(self, inputs: Iterable[str], outputs: Iterable[str]) -> None:
        """``namespace.schema.table`` names a pipeline step declares."""
        for dotted in inputs:
            namespace, _, name = dotted.partition(".")
            self.inputs.setdefault((namespace, name))
        for dotted in outputs:
            namespace, _, name = dotted.partition(".")
            self.outputs.setdefault((namespace, name), {})

    def add_sql(self, found: SqlLineage, context: SqlContext, sql: str | None = None) -> None:
        if sql:
            self.sql.append(sql.strip())
        for statement in found.statements:
            targets = [resolve(o, context) for o in statement.outputs]
            for source in statement.inputs:
                key = resolve(source, context)
                if key not in targets:
                    self.inputs.setdefault(key)
            for target in targets:
                columns = self.outputs.setdefault(target, {})
                for column, origins in statement.columns.items():
                    for origin in origins:
                        if origin.column == "*":
                            continue
                        namespace, name = resolve(origin.dataset, context)
                        entry = (namespace, name, origin.column, origin.transformation)
                        if entry not in columns.setdefault(column, []):
                            columns[column].append(entry)

    def openlineage(self) -> tuple[list[InputDataset], list[OutputDataset]]:
        inputs = [InputDataset(namespace=n, name=m) for n, m in self.inputs]
        outputs = []
        for (namespace, name), columns in self.outputs.items():
            facets = {}
            if columns:
                facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                    fields={
                        column: column_lineage_dataset.Fields(
                            inputFields=[
                                column_lineage_dataset.InputField(
                                    namespace=src_ns,
                                    name=src_name,
                                    field=src_col,
                                    transformations=[
                                        column_lineage_dataset.Transformation(
                                            type=TRANSFORMATIONS[how][0],
                                            subtype=TRANSFORMATIONS[how][1],
                                        )
                                    ],
                                )
                                for src_ns, src_name, src_col, how in sources
                            ]
                        )
                        for column, sources in columns.items()
                    }
                )
            outputs.append(OutputDataset(namespace=namespace, name=name, facets=facets))
        return inputs, outputs


@dataclass
class JobRun:
    """One OpenLineage run of a workbench job, and what it knows so far."""

    namespace: str
    job: str
    run_id: str
    job_type: str  # STEP (a pipeline step) or QUERY (a notebook statement)
    facet: WorkbenchRunFacet | None = None
    parent: tuple[str, str] | None = None  # (job name, run id) of the pipeline run
    datasets: Datasets = field(default_factory=Datasets)

    def event(
        self, state: RunState, error: str | None = None, trace: str | None = None
    ) -> RunEvent:
        run_facets: dict[str, Any] = {
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=__version__, name="workbench"
            )
        }
        if self.facet is not None:
            run_facets["workbench"] = self.facet
        if self.parent is not None:
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.parent[1]),
                job=parent_run.Job(namespace=self.namespace, name=self.parent[0]),
            )
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python", stackTrace=trace
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="WORKBENCH", jobType=self.job_type
            )
        }
        if self.datasets.sql:
            job_facets["sql"] = sql_job.SQLJobFacet(query=";\n".join(self.datasets.sql))
        inputs, outputs = self.datasets.openlineage()
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.namespace, name=self.job, facets=job_facets),
            inputs=inputs,
            outputs=outputs,
        )


def close_lost_attempts(
    emitter: LineageEmitter,
    facet: WorkbenchRunFacet,
    lost: Iterable[tuple[str, int, str | None]],
) -> None:
    """ABORT for each ``(step, attempt, error)`` that never reported its end: its worker
    died, so nothing else will close the OpenLineage run its START opened. ``facet``
    describes the pipeline run the attempts belong to."""
    pipeline, run_id = facet.pipeline or "", facet.workbenchRunId or ""
    for step, attempt, error in lost:
        job_run = JobRun(
            emitter.namespace,
            f"{pipeline}.{step}",
            run_uuid(run_id, step, attempt),
            "STEP",
            WorkbenchRunFacet(
                pipeline=pipeline,
                version=facet.version,
                attempt=attempt,
                logicalDate=facet.logicalDate,
                workbenchRunId=run_id,
            ),
            parent=(pipeline, run_uuid(run_id)),
        )
        emitter.emit(job_run.event(RunState.ABORT, error or LOST))


def emit_statement(emitter: LineageEmitter, job: str, recorded: RecordedSql, sql: str) -> None:
    """A notebook statement that wrote data, as one OpenLineage run (START, COMPLETE)."""
    if not emitter.enabled or not recorded.found.outputs:
        return
    job_run = JobRun(emitter.namespace, job, str(uuid.uuid4()), "QUERY")
    job_run.datasets.add_sql(recorded.found, recorded.context, sql)
    for state in (RunState.START, RunState.COMPLETE):
        emitter.emit(job_run.event(state))


@dataclass(frozen=True)
class Location:
    """Where a workbench connection's datasets live, as OpenLineage names datasources."""

    kind: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    root: str | None = None  # a lake's folder or s3://bucket/prefix


def _lake_dataset(name: str) -> bool:
    """Whether ``name`` is a lake dataset (``layer.dataset``), not a table that a lake
    session holds in memory."""
    layer, dot, dataset = name.partition(".")
    return bool(dot and dataset and "." not in dataset and layer in (*LAYERS, MAIN))


class DatasetNaming:
    """The workbench's dataset names in OpenLineage's naming spec (see the module doc).

    ``locate`` tells where a connection's datasets live; answers are kept for a minute,
    so a moved database is named right soon after."""

    TTL_S = 60.0

    def __init__(self, locate: Callable[[str], Location | None]) -> None:
        self._locate = locate
        self._known: dict[str, tuple[float, Location | None]] = {}

    @classmethod
    def of(cls, workbench: Workbench) -> DatasetNaming:
        """Connections as the metadata DB records them (no secrets are read)."""
        from sqlalchemy import select

        from ..db.models import Connection

        def locate(name: str) -> Location | None:
            with workbench.sessions() as session:
                row = session.execute(
                    select(Connection.kind, Connection.config).where(Connection.name == name)
                ).first()
            if row is None:
                if name == "lake":  # the workbench's own lake, not a connection
                    return Location("lake", root=workbench.settings.lake_root)
                return None
            kind, config = row
            if kind == "postgres":
                return Location(
                    kind,
                    config.get("host"),
                    int(config.get("port") or 5432),
                    config.get("database"),
                )
            if kind == "lake":
                return Location(kind, root=config.get("location"))
            return Location(kind)

        return cls(locate)

    def location(self, connection: str) -> Location | None:
        now = time.monotonic()
        known = self._known.get(connection)
        if known is None or now - known[0] > self.TTL_S:
            known = self._known[connection] = (now, self._locate(connection))
        return known[1]

    def name(self, namespace: str, name: str) -> tuple[str, str, dict[str, Any]]:
        """(namespace, name, dataset facets) of the workbench's ``namespace``/``name``."""
        if namespace == FILE:
            if name.startswith("s3://"):
                bucket, _, key = name[len("s3://") :].partition("/")
                return f"s3://{bucket}", key, {}
            return FILE, name, {}
        where = self.location(namespace)
        if where is None:
            return namespace, name, {}
        if where.kind == "postgres" and where.host and where.database:
            source = f"postgres://{where.host}:{where.port}"
            named = (source, f"{where.database}.{name}", f"{source}/{where.database}")
        elif where.kind == "lake" and where.root and _lake_dataset(name):
            # A dataset is its folder (or the file of that name, ``.parquet`` added): one
            # name whether or not it exists yet, as other tools name folders they write.
            layer, _, dataset = name.partition(".")
            parts = [where.root.rstrip("/"), *([dataset] if layer == MAIN else [layer, dataset])]
            path = "/".join(parts)
            if path.startswith("s3://"):
                bucket, _, key = path[len("s3://") :].partition("/")
                named = (f"s3://{bucket}", key, f"s3://{bucket}")
            else:
                named = (FILE, path, f"file://{path}")
        else:
            return namespace, name, {}
        facets = {
            "dataSource": datasource_dataset.DatasourceDatasetFacet(name=namespace, uri=named[2]),
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[
                    symlinks_dataset.Identifier(namespace=namespace, name=name, type="TABLE")
                ]
            ),
        }
        return named[0], named[1], facets

    def event(self, event: RunEvent) -> RunEvent:
        """``event`` with its datasets (and their column lineage) renamed."""

        def dataset(found: Any, cls: type) -> Any:
            namespace, name, facets = self.name(found.namespace, found.name)
            facets = {**(found.facets or {}), **facets}
            lineage = facets.get("columnLineage")
            if lineage is not None:
                facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                    fields={
                        column: column_lineage_dataset.Fields(
                            inputFields=[
                                attr.evolve(
                                    source,
                                    namespace=self.name(source.namespace, source.name)[0],
                                    name=self.name(source.namespace, source.name)[1],
                                )
                                for source in fields.inputFields
                            ]
                        )
                        for column, fields in lineage.fields.items()
                    }
                )
            return attr.evolve(found, namespace=namespace, name=name, facets=facets)

        return attr.evolve(
            event,
            inputs=[dataset(d, InputDataset) for d in event.inputs or []],
            outputs=[dataset(d, OutputDataset) for d in event.outputs or []],
        )


def emitter_of(workbench: Workbench) -> LineageEmitter:
    """The installation's emitter: sends OpenLineage events to the configured consumer
    (or nowhere), made on first use and closed with the workbench."""
    return workbench.resource(
        "openlineage",
        lambda: LineageEmitter(
            workbench.settings.openlineage_transport,
            workbench.settings.openlineage_namespace,
            naming=DatasetNaming.of(workbench),
        ),
    )


class LineageEmitter:
    """Sends events through an openlineage-python client; does nothing when unconfigured.

    Sending happens on a thread of its own, in order: a slow or unreachable consumer
    (openlineage-python retries for seconds) never delays a step or a query. Up to
    ``QUEUE_SIZE`` events wait; beyond that, new events are dropped with a warning.
    With ``naming``, datasets are renamed there (it may read the metadata DB).
    """

    QUEUE_SIZE = 10_000

    def __init__(
        self, transport: dict | None, namespace: str, naming: DatasetNaming | None = None
    ) -> None:
        self.namespace = namespace
        self.naming = naming
        self._client: OpenLineageClient | None = None
        self._queue: queue.Queue[RunEvent | None] = queue.Queue(self.QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        try:
            if transport:
                self._client = OpenLineageClient(config={"transport": transport})
            elif any(os.environ.get(name) for name in CLIENT_ENV):
                self._client = OpenLineageClient()
        except Exception as exc:  # a bad config must not stop the workbench
            log.warning("OpenLineage export is off: the transport config is invalid (%s)", exc)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def emit(self, event: RunEvent) -> bool:
        """Queue one event for sending; False when export is off or the queue is full."""
        if self._client is None:
            return False
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._send_all, name="openlineage", daemon=True
                )
                self._thread.start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("OpenLineage event for %s dropped: the consumer is behind", event.job.name)
            openlineage_event(sent=False)
            return False
        return True

    def _send_all(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                if self.naming is not None:
                    try:
                        event = self.naming.event(event)
                    except Exception:  # sent with the workbench's names, not lost
                        log.warning("OpenLineage datasets of %s not renamed", event.job.name)
                self._client.emit(event)
                openlineage_event(sent=True)
            except Exception as exc:
                log.warning("OpenLineage event for %s not sent: %s", event.job.name, exc)
                openlineage_event(sent=False)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was sent (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (for at most ``timeout`` seconds), then stop."""
        if self._client is None:
            return
        if self._thread is not None:
            self.flush(timeout)
            self._queue.put(None)
            self._thread.join(1.0)
        try:
            self._client.close()
        except Exception:  # best effort at shutdown
            log.debug("closing the OpenLineage client failed", exc_info=True)
