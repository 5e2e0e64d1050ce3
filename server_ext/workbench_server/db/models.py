"""ORM models of the metadata store. Every change here needs an Alembic revision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .timestamps import UTCDateTime

# Stable constraint names so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Setting(Base):
    """Small installation-wide facts (e.g. which demo dataset was generated)."""

    __tablename__ = "workbench_settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Connection(Base):
    """A named data connection. Secrets live encrypted in ``secret``, never in ``config``."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200))
    shared_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Which secret fields are set, so listing never needs to decrypt anything.
    secret_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    builtin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Pipeline(Base):
    """A deployed pipeline; its versions are immutable snapshots."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    owner: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PipelineVersion(Base):
    """One deployment: the spec and a content hash of the spec and its notebooks."""

    __tablename__ = "pipeline_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot_dir: Mapped[str] = mapped_column(Text)
    deployed_by: Mapped[str] = mapped_column(String(200))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Run(Base):
    """A run of a pipeline version: the summary the UI and history read."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    logical_date: Mapped[str] = mapped_column(String(40))
    workflow_id: Mapped[str] = mapped_column(String(200))
    repair_of: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The one run that repairs this one: set once, so a run is never repaired twice.
    repaired_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A repair that runs the pipeline's latest version instead of the repaired run's.
    repair_latest: Mapped[bool] = mapped_column(default=False, server_default=false())
    requested_by: Mapped[str] = mapped_column(String(200))
    cancelled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sla_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sla_missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StepRun(Base):
    """One attempt of one step of a run."""

    __tablename__ = "step_runs"
    __table_args__ = (UniqueConstraint("run_id", "step_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(nullable=True)
    output_notebook: Mapped[str | None] = mapped_column(Text, nullable=True)
    log_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failing_cell: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The failing cell's index in the step's own notebook (without papermill's cells).
    notebook_cell: Mapped[int | None] = mapped_column(Integer, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A step reused by a repair: the attempt (of an earlier run) whose result it reuses.
    reused_from_run: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reused_from_attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Notification(Base):
    """One message about a run (failure, success, SLA miss) to one target, and its fate."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("run_id", "event", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Approval(Base):
    """An approval step of a run: asked of whom, and who decided, when and why.

    Written when the gate opens (``pending``); a decision moves it to ``approved`` or
    ``rejected`` once, in one conditional update, so two people (or a link used twice)
    cannot both decide. ``cancelled`` when the run ended while it waited.
    """

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    approvers: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"users": [...], "groups": [...]}
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    via: Mapped[str | None] = mapped_column(String(20), nullable=True)


class RunTable(Base):
    """A lake table version a step attempt read or wrote: what a run used, exactly.

    ``version`` is the Delta version read (pinned for the whole attempt) or made by the
    write; reading that version back gives the data the run saw or produced."""

    __tablename__ = "run_tables"
    __table_args__ = (
        UniqueConstraint("run_id", "step_id", "attempt", "lake", "table_name", "access"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    lake: Mapped[str] = mapped_column(String(100))  # "lake" or a lake connection's name
    table_name: Mapped[str] = mapped_column(String(200))  # layer.name
    access: Mapped[str] = mapped_column(String(10))  # read | write
    version: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str | None] = mapped_column(String(20), nullable=True)
    rows_added: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows_updated: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows_removed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IngestWatermark(Base):
    """How far an extract (source table -> bronze) or a merge (bronze -> silver) got.

    An extract keeps the largest cursor value (``write_date``) and id it read, and when
    it last compared keys for deletes; a merge keeps the bronze version it merged up to.
    ``version`` is the target's version that recorded it (an extract) or the source's
    (a merge)."""

    __tablename__ = "ingest_watermarks"
    __table_args__ = (UniqueConstraint("kind", "lake", "target", "source", "source_table"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # extract | merge
    lake: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))  # layer.name
    source: Mapped[str] = mapped_column(String(100))  # a connection, or the lake (merge)
    source_table: Mapped[str] = mapped_column(String(300))
    cursor_value: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cursor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deletes_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# --- catalog -------------------------------------------------------------------------
# What a scan discovers is overwritten by the next scan; what people curate (description,
# tags, owner, certified) lives in separate columns that scans never touch.


class CatalogScan(Base):
    """One discovery pass over one connection."""

    __tablename__ = "catalog_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CatalogTable(Base):
    """A table, view or dataset of a connection, as last scanned, plus curated metadata."""

    __tablename__ = "catalog_tables"
    __table_args__ = (UniqueConstraint("connection_id", "schema_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    schema_name: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30))
    layer: Mapped[str | None] = mapped_column(String(30), nullable=True)
    row_estimate: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Odoo's view of the table, when the database is an Odoo database.
    label: Mapped[str | None] = mapped_column(String(300), nullable=True)
    odoo_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    module: Mapped[str | None] = mapped_column(String(200), nullable=True)
    auto_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A hash of the discovered fields: a re-scan compares one value, not fifteen.
    fingerprint: Mapped[str] = mapped_column(String(32), default="")
    # Curated.
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    steward: Mapped[str | None] = mapped_column(String(200), nullable=True)
    certified: Mapped[bool] = mapped_column(default=False)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Any change to the table, its columns or their curated metadata (search reindexes).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CatalogColumn(Base):
    __tablename__ = "catalog_columns"
    __table_args__ = (UniqueConstraint("table_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_tables.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)
    data_type: Mapped[str] = mapped_column(String(200))
    nullable: Mapped[bool] = mapped_column(default=True)
    default: Mapped[str | None] = mapped_column(Text, nullable=True)
    primary_key: Mapped[bool] = mapped_column(default=False)
    references: Mapped[str | None] = mapped_column(String(700), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    label: Mapped[str | None] = mapped_column(String(300), nullable=True)
    help: Mapped[str | None] = mapped_column(Text, nullable=True)
    odoo_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    relation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Odoo 18's company-dependent fields: a jsonb of values by company id ({"1": 10}),
    # pointing to ``relation`` for a many2one but never a key to join on.
    company_dependent: Mapped[bool] = mapped_column(default=False, server_default=false())
    selection: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    module: Mapped[str | None] = mapped_column(String(200), nullable=True)
    auto_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    fingerprint: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CatalogChange(Base):
    """Schema history: what a scan found changed since the one before."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_tables.id", ondelete="CASCADE"), index=True
    )
    scan_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_scans.id", ondelete="SET NULL"), nullable=True
    )
    change: Mapped[str] = mapped_column(String(30))
    column: Mapped[str | None] = mapped_column(String(300), nullable=True)
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- lineage -------------------------------------------------------------------------


class LineageDataset(Base):
    """A dataset lineage knows: ``namespace`` is a connection's name (or ``file``)."""

    __tablename__ = "lineage_datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(700))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LineageEdge(Base):
    """``source`` feeds ``target`` through ``job``; with columns, column to column."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", "source_column", "target_column", "job"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("lineage_datasets.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("lineage_datasets.id", ondelete="CASCADE"), index=True
    )
    # "" (not NULL) for a table-level edge, so the unique constraint holds on every database.
    source_column: Mapped[str] = mapped_column(String(300), default="")
    target_column: Mapped[str] = mapped_column(String(300), default="")
    transformation: Mapped[str] = mapped_column(String(30), default="")
    job: Mapped[str] = mapped_column(String(300))
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LineageWarning(Base):
    """SQL whose lineage could not be worked out (the run itself went on)."""

    __tablename__ = "lineage_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(300), index=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    principal: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Alert(Base):
    """One firing of a built-in alert rule, from the evaluation that found it to the one
    that found it gone. ``active_key`` is the dedup key while it fires and NULL after,
    so one condition fires once at a time however many servers evaluate."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), index=True)
    active_key: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(2))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # firing | resolved
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # 0 until the rule's first escalation step is taken, then 1, 2, ...
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AlertEvent(Base):
    """An alert's history: fired, notified (per channel, sent or failed), silenced,
    escalated, acknowledged, resolved. ``level`` is the escalation level a notice or an
    escalation belongs to (0: the rule's own channels)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(100), nullable=True)
    action: Mapped[str | None] = mapped_column(String(10), nullable=True)  # trigger | resolve
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)  # sent | failed
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AlertSilence(Base):
    """No notices for alerts of ``rule`` (any rule when NULL) whose labels include
    ``labels``, until ``ends_at``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueryTimingBatch(Base):
    """``%sql`` queries one kernel report held of one kind and data source: how many,
    their total time, and how many fell in each bucket of
    ``workbench_query_duration_seconds`` (not cumulative; the last is above the
    largest bound). Kept for an hour, for the built-in engine's SlowQueries rule."""

    __tablename__ = "query_timings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    query_type: Mapped[str] = mapped_column(String(20))
    data_source: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer)
    sum_seconds: Mapped[float] = mapped_column(Float)
    buckets: Mapped[list[int]] = mapped_column(JSON)


class AgentCall(Base):
    """One call of an agent's (MCP) tool or resource, audited: who (the principal the
    call ran as), over which transport, what it asked (arguments, long values cut), how
    it ended (``ok``, ``refused``, ``error``) and in how long."""

    __tablename__ = "agent_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    principal: Mapped[str] = mapped_column(String(200), index=True)
    transport: Mapped[str] = mapped_column(String(20))
    tool: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    elapsed_ms: Mapped[float] = mapped_column(Float)


class TriggerCredential(Base):
    """A pipeline's trigger secret (n8n and other callers start runs with it): sealed like
    a connection's secrets, shown once. Refused calls are counted here for its owner."""

    __tablename__ = "trigger_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), unique=True
    )
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    last_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_refused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class TriggerNonce(Base):
    """A signature a trigger call was accepted with, remembered for the replay window."""

    __tablename__ = "trigger_nonces"
    __table_args__ = (UniqueConstraint("credential_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("trigger_credentials.id", ondelete="CASCADE")
    )
    digest: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WebhookTarget(Base):
    """Where a pipeline's run events go (``run_id`` set: one run's callback only), with
    the events wanted and the sealed signing secret."""

    __tablename__ = "webhook_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event of a run for one target: the outbox row written with the state change it
    announces, then delivered (and retried) by a Temporal workflow of its own."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_key", "target_id"),
        # An agent's event is written once too (its rows have no target).
        Index("ix_webhook_deliveries_agent_event", "agent_id", "event_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_targets.id", ondelete="SET NULL"), nullable=True
    )
    event_id: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200))  # run, event and step: written once
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An agent's delivery (its registration; target_id is then None). Not a foreign key:
    # the column was added to a table SQLite cannot alter in place; the registration's
    # deletion deletes its deliveries (agents/hooks.py).
    agent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WebhookAttempt(Base):
    """One POST of a delivery and its answer (status, time taken, or why it failed)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AgentHook(Base):
    """An agent registered by a user to hear events (a webhook endpoint of the user's
    own): the events it wants, the sealed signing secret, and the owner's groups and
    admin flag as last seen (events are chosen by what the owner may see)."""

    __tablename__ = "agent_hooks"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    owner_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
