"""OpenLineage run events for the workbench's jobs, built and sent with openlineage-python.

Jobs are pipeline steps (``<pipeline>.<step>``: one OpenLineage run per attempt, the
pipeline run as its parent) and notebooks (``notebook:<name>``: one run per statement
that writes data). Datasets are named as the workbench names them: the namespace is the
connection (``lake``, ``odoo``, ``file``), the name ``schema.table`` or ``layer.dataset``.
Output datasets carry the ``columnLineage`` facet worked out from the SQL.

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
from collections.abc import Iterable
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
    error_message_run,
    job_type_job,
    parent_run,
    processing_engine_run,
    sql_job,
)

from .._version import __version__
from .service import SqlContext, resolve
from .sql import SqlLineage

if TYPE_CHECKING:
    from ..connections.kernel_access import RecordedSql

log = logging.getLogger(__name__)

PRODUCER = f"https://github.com/data-engineering-workbench/workbench/tree/v{__version__}"
set_producer(PRODUCER)
# openlineage-python's own settings, which it reads when the workbench has no transport.
CLIENT_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")

# How the workbench's transformation kinds read as OpenLineage transformations.
TRANSFORMATIONS = {
    "identity": ("DIRECT", "IDENTITY"),
    "expression": ("DIRECT", "TRANSFORMATION"),
    "aggregation": ("DIRECT", "AGGREGATION"),
}


@attr.define
class WorkbenchRunFacet(RunFacet):
    """What a workbench run is: its pipeline, version, attempt, logical date, parameters."""

    pipeline: str | None = attr.field(default=None)
    version: int | None = attr.field(default=None)
    attempt: int | None = attr.field(default=None)
    logicalDate: str | None = attr.field(default=None)
    parameters: dict[str, Any] = attr.field(factory=dict)
    workbenchRunId: str | None = attr.field(default=None)

    _additional_skip_redact: ClassVar[list[str]] = ["pipeline", "version", "attempt"]

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/docs/openlineage/WorkbenchRunFacet.json#/$defs/WorkbenchRunFacet"


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


def emit_statement(emitter: LineageEmitter, job: str, recorded: RecordedSql, sql: str) -> None:
    """A notebook statement that wrote data, as one OpenLineage run (START, COMPLETE)."""
    if not emitter.enabled or not recorded.found.outputs:
        return
    job_run = JobRun(emitter.namespace, job, str(uuid.uuid4()), "QUERY")
    job_run.datasets.add_sql(recorded.found, recorded.context, sql)
    for state in (RunState.START, RunState.COMPLETE):
        emitter.emit(job_run.event(state))


class LineageEmitter:
    """Sends events through an openlineage-python client; does nothing when unconfigured.

    Sending happens on a thread of its own, in order: a slow or unreachable consumer
    (openlineage-python retries for seconds) never delays a step or a query. Up to
    ``QUEUE_SIZE`` events wait; beyond that, new events are dropped with a warning.
    """

    QUEUE_SIZE = 10_000

    def __init__(self, transport: dict | None, namespace: str) -> None:
        self.namespace = namespace
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
            return False
        return True

    def _send_all(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._client.emit(event)
            except Exception as exc:
                log.warning("OpenLineage event for %s not sent: %s", event.job.name, exc)
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
