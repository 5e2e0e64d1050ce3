"""Step kinds of the pipeline spec: a notebook, or a declarative step that needs none.

``kind`` picks the model (``notebook`` when absent, so existing pipelines read as
before): ``extract`` copies source tables into bronze, ``merge`` keeps the latest row per
key of a bronze table in silver, ``scd2`` keeps a dimension's history in gold, ``sql``
writes a query's result to a lake table. Each declarative kind runs in the worker as an
activity like a notebook step (retries, timeout, heartbeats) and names the lake tables
it reads and writes, so lineage and the versions a run used are recorded for it.
``odoo_lock`` sets a company's lock dates in Odoo after a close's sign-off.
``ocr_inbox`` turns the receipts in the lake's inbox into Odoo expenses.
``approval`` runs nothing: the run waits (durably, in its workflow) until a permitted
person approves or rejects it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from .spec_rag import REDACTIONS, RagSource, Redaction
from .spec_types import (
    LAKE_NAME,
    MAX_SQL_CHARS,
    ColumnName,
    ConnectionName,
    DatasetName,
    DeleteSchedule,
    Duration,
    GroupName,
    Identifier,
    LakeTable,
    Language,
    NotebookPath,
    NotificationTarget,
    OdooModel,
    RetrySpec,
    SourceTable,
    SqlPath,
    SqlType,
    StepId,
    custom_error,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _StepBase(_Model):
    """What every step has: its id, what it waits for, retries and a timeout."""

    id: StepId
    depends_on: list[str] = Field(default_factory=list)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    timeout: Duration = Field("1h", validate_default=True, description="Longest attempt.")

    @property
    def files(self) -> list[str]:
        """Files of the pipeline's folder the step runs (deploy snapshots them)."""
        return []


class NotebookStep(_StepBase):
    """One notebook run with papermill (the default kind)."""

    kind: Literal["notebook"] = "notebook"
    notebook: NotebookPath = Field(description="Notebook path relative to the pipeline file.")
    parameters: dict[Identifier, Any] = Field(
        default_factory=dict,
        description="Injected by papermill; strings may use {{ ds }} or {{ params.NAME }}.",
    )
    kernel: str = Field("workbench", min_length=1, description="Jupyter kernel name.")
    inputs: list[DatasetName] = Field(default_factory=list, description="Datasets read.")
    outputs: list[DatasetName] = Field(default_factory=list, description="Datasets written.")

    @property
    def files(self) -> list[str]:
        return [self.notebook]


def _table_entry(value: Any) -> Any:
    return {"table": value} if isinstance(value, str) else value


class _OrShorthand:
    """JSON Schema of a model that may also be written as a string (``account_move``
    for ``{table: account_move}``): editors accept both, as the spec does."""

    def __init__(self, pattern: str, description: str) -> None:
        self.string = {"type": "string", "pattern": pattern, "description": description}

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [self.string, handler(core_schema)]}


class ExtractTable(_Model):
    """One source table (or Odoo model) and the bronze table it is copied into."""

    table: SourceTable | None = Field(
        None, description="Source table (postgres, sqlalchemy), e.g. account_move."
    )
    model: OdooModel | None = Field(
        None, description="Odoo model (odoo connections), e.g. account.move.line."
    )
    columns: list[ColumnName] | None = Field(
        None, min_length=1, description="Columns to copy (default: all of them)."
    )
    keys: list[ColumnName] = Field(
        default_factory=lambda: ["id"], min_length=1, description="Columns identifying a row."
    )
    cursor: ColumnName | None = Field(
        "write_date",
        description="Column whose growth marks changed rows (incremental mode); null: "
        "none, the table is read whole each run.",
    )
    target: LakeTable | None = Field(
        None, description="Bronze table (default: bronze.<table>, dots of a model as _)."
    )

    @model_validator(mode="after")
    def _table_or_model(self) -> ExtractTable:
        if (self.table is None) == (self.model is None):
            raise custom_error("extract_table", "give either table or model (exactly one)")
        if self.target is not None and not self.target.startswith("bronze."):
            raise custom_error(
                "extract_table",
                f"target {self.target!r}: extracts write bronze tables (bronze.<name>); "
                "a merge step makes the silver table",
            )
        if self.columns is not None:
            missing = [k for k in self.keys if k not in self.columns]
            if missing:
                raise custom_error(
                    "extract_table", f"columns must include the key column(s) {missing}"
                )
        return self

    @property
    def source_name(self) -> str:
        return self.model if self.model is not None else str(self.table)

    @property
    def bronze(self) -> str:
        """The bronze table written: the target, or bronze.<table> (<model> with _)."""
        if self.target is not None:
            return self.target
        if self.model is not None:
            return f"bronze.{self.model.replace('.', '_')}"
        return f"bronze.{str(self.table).rpartition('.')[2]}"


class ExtractStep(_StepBase):
    """Copy tables of a postgres (Odoo's database), odoo (its API) or sqlalchemy
    connection into bronze: append-only, with audit columns, exact types."""

    kind: Literal["extract"]
    source: ConnectionName = Field(description="A postgres, odoo or sqlalchemy connection.")
    tables: list[
        Annotated[
            ExtractTable,
            BeforeValidator(_table_entry),
            _OrShorthand(r"^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$", "A table."),
        ]
    ] = Field(min_length=1, max_length=500, description="Tables (or Odoo models) to copy.")
    mode: Literal["full", "incremental", "cdc"] = Field(
        "incremental",
        description="full: every row each run; incremental: rows whose cursor "
        "(write_date) passed the last run's watermark, and all rows the first time; cdc: "
        "the changes PostgreSQL's logical replication reports (a postgres connection; a "
        "snapshot the first time), see docs/cdc.md.",
    )
    follow: Duration | None = Field(
        None,
        description="mode cdc: keep streaming changes this long (give the step a longer "
        "timeout); default: stop once the changes committed before the run are in bronze.",
    )
    batch_rows: int = Field(
        10_000, ge=1, le=1_000_000, description="mode cdc: most changes per bronze commit."
    )
    batch_seconds: float = Field(
        1.0, gt=0, le=3600, description="mode cdc: longest wait before changes are committed."
    )
    catchup_copy_mb: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="mode cdc: a backlog of more WAL than this (MB) is caught up by copying "
        "the tables again as of a new snapshot, compared with bronze, rather than by "
        "decoding every change: faster for a large backlog, but bronze then holds the net "
        "effect per key (one u or d row), not each change; default: always stream.",
    )
    overlap: Duration = Field(
        "10m",
        validate_default=True,
        description="How far before the watermark an incremental run reads again, for "
        "transactions that committed late (rows already in bronze are not added again).",
    )
    deletes: DeleteSchedule = Field(
        "every 1d",
        validate_default=True,
        description="When deleted source rows are looked for by key comparison (a full "
        "extract always compares).",
    )
    languages: list[Language] | None = Field(
        None,
        description="Languages of translated fields (text per language beside the raw "
        "value); default: the database's active languages.",
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")

    @field_validator("tables")
    @classmethod
    def _distinct_targets(cls, value: list[ExtractTable]) -> list[ExtractTable]:
        seen: set[str] = set()
        for table in value:
            if table.bronze in seen:
                raise custom_error(
                    "extract_table", f"two tables are copied into {table.bronze}: give a target"
                )
            seen.add(table.bronze)
        return value


def _merge_entry(value: Any) -> Any:
    if isinstance(value, str):
        _, _, name = value.partition(".")
        return {"source": value, "target": f"silver.{name}"}
    return value


class MergeTable(_Model):
    """A bronze table and the silver table holding its latest row per key."""

    source: LakeTable = Field(description="The bronze table, e.g. bronze.account_move.")
    target: LakeTable = Field(description="The silver table, e.g. silver.account_move.")
    keys: list[ColumnName] = Field(default_factory=lambda: ["id"], min_length=1)
    columns: dict[ColumnName, SqlType] | None = Field(
        None,
        description="Declared schema: these columns only, cast to these types (default: "
        "every column, typed as the source is).",
    )

    @model_validator(mode="after")
    def _layers(self) -> MergeTable:
        if self.target.startswith("bronze."):
            raise custom_error("merge", f"target {self.target!r}: bronze is append-only")
        if self.columns is not None:
            missing = [k for k in self.keys if k not in self.columns]
            if missing:
                raise custom_error("merge", f"columns must include the key column(s) {missing}")
        return self


class MergeStep(_StepBase):
    """Bronze -> silver: the latest row of each key, deletes applied, types enforced."""

    kind: Literal["merge"]
    tables: list[
        Annotated[
            MergeTable,
            BeforeValidator(_merge_entry),
            _OrShorthand(rf"^bronze\.{LAKE_NAME}$", "A bronze table, merged into silver."),
        ]
    ] = Field(
        min_length=1, max_length=500, description="bronze.x (into silver.x) or source/target."
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")


class Scd2Step(_StepBase):
    """Silver -> gold dimension with valid_from, valid_to and is_current (SCD type 2)."""

    kind: Literal["scd2"]
    source: LakeTable = Field(description="The current rows, e.g. silver.res_partner.")
    target: LakeTable = Field(description="The dimension, e.g. gold.dim_partner.")
    keys: list[ColumnName] = Field(default_factory=lambda: ["id"], min_length=1)
    columns: list[ColumnName] | None = Field(
        None, description="Columns kept (default: every column not starting with _)."
    )
    tracked: list[ColumnName] | None = Field(
        None, description="Columns whose change opens a new version (default: all kept)."
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")

    @model_validator(mode="after")
    def _layers(self) -> Scd2Step:
        if self.target.startswith("bronze."):
            raise custom_error("scd2", f"target {self.target!r}: bronze is append-only")
        if self.columns is not None:
            missing = [c for c in [*self.keys, *(self.tracked or [])] if c not in self.columns]
            if missing:
                raise custom_error("scd2", f"columns must include {missing}")
        return self


class SqlQuery(_Model):
    """One query of a sql step and the lake table its result is written to."""

    sql: str | None = Field(
        None, max_length=MAX_SQL_CHARS, description="The query (SELECT ...), or give file."
    )
    file: SqlPath | None = Field(None, description="A .sql file relative to the pipeline file.")
    target: LakeTable = Field(description="The lake table written, e.g. gold.trial_balance.")
    mode: Literal["append", "overwrite", "merge"] = "overwrite"
    keys: list[ColumnName] | None = Field(None, description="Columns to merge by (mode: merge).")
    partition_by: list[ColumnName] | None = Field(None, description="When the table is made.")
    replace_where: str | None = Field(
        None, max_length=2000, description="Overwrite only rows matching this predicate."
    )

    @model_validator(mode="after")
    def _one_query(self) -> SqlQuery:
        _check_query(self)
        return self


def _check_query(query: SqlQuery | SqlStep) -> None:
    if (query.sql is None) == (query.file is None):
        raise custom_error("sql", "give either sql (the query) or file (exactly one)")
    if query.mode == "merge" and not query.keys:
        raise custom_error("sql", "mode merge needs keys (the columns that identify a row)")
    if query.replace_where is not None and query.mode != "overwrite":
        raise custom_error("sql", "replace_where goes with mode: overwrite")
    if query.target and query.target.startswith("bronze.") and query.mode != "append":
        raise custom_error("sql", f"target {query.target!r}: bronze is append-only")


ONE_QUERY_FIELDS = ("sql", "file", "target", "mode", "keys", "partition_by", "replace_where")
MAX_QUERIES = 20


class SqlStep(_StepBase):
    """A query run in a lake DuckDB session whose result is written to ``target``; or
    several (``queries``), run one after the other in the same session, each written to
    its own target before the next runs (which reads it as written)."""

    kind: Literal["sql"]
    sql: str | None = Field(
        None, max_length=MAX_SQL_CHARS, description="The query (SELECT ...), or give file."
    )
    file: SqlPath | None = Field(None, description="A .sql file relative to the pipeline file.")
    target: LakeTable | None = Field(
        None, description="The lake table written, e.g. gold.trial_balance (unless queries)."
    )
    mode: Literal["append", "overwrite", "merge"] = "overwrite"
    keys: list[ColumnName] | None = Field(None, description="Columns to merge by (mode: merge).")
    partition_by: list[ColumnName] | None = Field(None, description="When the table is made.")
    replace_where: str | None = Field(
        None, max_length=2000, description="Overwrite only rows matching this predicate."
    )
    queries: list[SqlQuery] | None = Field(
        None,
        min_length=1,
        max_length=MAX_QUERIES,
        description=(
            "Several queries run in order in one DuckDB session, each with its own sql or "
            "file, target, mode, keys, partition_by and replace_where (instead of the "
            "step's); a query reads the tables written by the ones before it as written."
        ),
    )
    parameters: dict[Identifier, Any] = Field(
        default_factory=dict,
        description="Bound as $name in the query; strings may use {{ ds }} or {{ params.NAME }}.",
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")

    @model_validator(mode="after")
    def _one_query(self) -> SqlStep:
        if self.queries is not None:
            # (a stored spec is dumped with every field: a default is not "given")
            given = [
                f
                for f in ONE_QUERY_FIELDS
                if getattr(self, f) != type(self).model_fields[f].get_default()
            ]
            if given:
                raise custom_error(
                    "sql",
                    f"give either queries or {', '.join(given)} (a query's fields go in "
                    "each entry of queries)",
                )
            targets = [q.target for q in self.queries]
            twice = sorted({t for t in targets if targets.count(t) > 1})
            if twice:
                raise custom_error(
                    "sql", f"queries: {', '.join(twice)} is the target of more than one query"
                )
            return self
        if self.target is None:
            raise custom_error("sql", "give target (the lake table written), or queries")
        _check_query(self)
        return self

    @property
    def all_queries(self) -> list[SqlQuery]:
        """The step's queries in the order they run (one unless ``queries``)."""
        if self.queries is not None:
            return list(self.queries)
        return [SqlQuery.model_validate({f: getattr(self, f) for f in ONE_QUERY_FIELDS})]

    @property
    def files(self) -> list[str]:
        return [q.file for q in self.all_queries if q.file]


class PublishStep(_StepBase):
    """A lake table published to Superset as a dataset (see docs/superset.md): its
    non-pii columns copied for Superset, the catalog's metadata synced to the dataset."""

    kind: Literal["publish"]
    table: LakeTable = Field(description="The lake table published, e.g. gold.trial_balance.")
    to: ConnectionName = Field(description="The superset connection published to.")
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")
    include_pii: bool = Field(False, description="Publish pii-tagged columns too.")
    overwrite: bool = Field(False, description="Overwrite descriptions edited in Superset.")


class RagStep(_StepBase):
    """Tables and documents made into chunks of text for retrieval (RAG), with metadata
    (source, key, columns, lineage, version read), personal data left out, and vectors
    when an embedding connection is given; merged into ``target`` by chunk id (see
    docs/rag.md)."""

    kind: Literal["rag"]
    sources: list[RagSource] = Field(
        min_length=1, max_length=50, description="Lake tables, document folders, receipts."
    )
    target: LakeTable = Field(description="The gold table of chunks, e.g. gold.rag_chunks.")
    chunk_size: int = Field(1000, ge=20, le=100_000, description="Longest chunk, in chunk_unit.")
    chunk_overlap: int = Field(
        100, ge=0, le=50_000, description="How much of a chunk the next one repeats."
    )
    chunk_unit: Literal["characters", "tokens"] = Field(
        "characters",
        description="characters, or tokens: words (runs of non-space), about 0.75 of a "
        "model's token each.",
    )
    redact: list[Redaction] = Field(
        default_factory=lambda: list(REDACTIONS),
        description="Free-text patterns replaced (best effort): email, iban, phone.",
    )
    embedding: ConnectionName | None = Field(
        None, description="An embedding connection: vectors added to the chunks (default: none)."
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")

    @model_validator(mode="after")
    def _sound(self) -> RagStep:
        if not self.target.startswith("gold."):
            raise custom_error("rag", f"target {self.target!r}: chunks go to a gold table")
        if self.chunk_overlap >= self.chunk_size:
            raise custom_error("rag", "chunk_overlap must be smaller than chunk_size")
        labels = [s.label for s in self.sources]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise custom_error("rag", f"sources: {', '.join(twice)} given more than once")
        return self


class Approvers(_Model):
    """Who may approve or reject: hub users and members of hub groups (admins always may)."""

    users: list[GroupName] = Field(default_factory=list, description="Hub user names.")
    groups: list[GroupName] = Field(default_factory=list, description="Hub group names.")

    @model_validator(mode="after")
    def _someone(self) -> Approvers:
        if not self.users and not self.groups:
            raise custom_error("approval", "approvers: name at least one user or group")
        return self


class Escalation(_Model):
    """Who else hears about a gate still waiting ``after`` it was requested."""

    after: Duration = Field(description="Delay after the request, e.g. '4h'.")
    notify: list[NotificationTarget] = Field(
        min_length=1, description="Targets such as email:cfo@example.com or webhook:https://..."
    )


class ApprovalStep(_StepBase):
    """The run waits here until a permitted person approves (the next steps run) or
    rejects (the run fails with the reason); nothing is held while it waits."""

    kind: Literal["approval"]
    message: str = Field(
        "",
        max_length=4000,
        description="What the approvers are asked; may use {{ ds }} or {{ params.NAME }}.",
    )
    approvers: Approvers | None = Field(
        None, description="Who may decide (default: the pipeline's owner and operators)."
    )
    notify: list[NotificationTarget] = Field(
        default_factory=list,
        description="Told when the approval is requested, with signed approve/reject links.",
    )
    escalate: Escalation | None = Field(
        None, description="Who else is told when nobody has decided after a delay."
    )
    timeout: Duration | None = Field(  # type: ignore[assignment]
        None,
        description="How long the gate waits in all (default: until someone decides).",
    )
    on_timeout: Literal["reject", "wait"] = Field(
        "reject",
        description="At the timeout: reject (the run fails), or tell the escalation "
        "targets and keep waiting.",
    )

    @model_validator(mode="after")
    def _sound_timing(self) -> ApprovalStep:
        if self.timeout is not None and self.timeout.total_seconds() <= 0:
            raise custom_error("approval", "timeout must be longer than 0s")
        if (
            self.escalate is not None
            and self.timeout is not None
            and self.escalate.after >= self.timeout
        ):
            raise custom_error(
                "approval", "escalate.after must be shorter than timeout, or nobody is told"
            )
        if self.on_timeout == "wait" and self.timeout is not None and self.escalate is None:
            raise custom_error(
                "approval",
                "on_timeout: wait tells the escalation targets: add escalate (after, notify)",
            )
        return self


class OcrInboxStep(_StepBase):
    """Receipts and bills dropped in the lake's inbox (``inbox/receipts/``) read by OCR,
    matched in Odoo and made ``hr.expense`` records with the file attached: each file
    once (by its SHA-256), the low-confidence or unmatched ones left in the review queue
    (see docs/ocr.md)."""

    kind: Literal["ocr_inbox"]
    odoo: ConnectionName = Field(description="The odoo connection expenses are made in.")
    ocr: ConnectionName | None = Field(
        None, description="An ocr connection (default: the offline engine)."
    )
    lake: ConnectionName | None = Field(None, description="A lake connection (default: the lake).")
    employee_id: int | None = Field(
        None, ge=1, description="The hr.employee the expenses are for (or give work_email)."
    )
    work_email: str | None = Field(
        None, max_length=254, description="Else the employee with this work e-mail."
    )
    threshold: float = Field(
        0.9, ge=0, le=1, description="Fields read with less confidence go to review."
    )
    limit: int = Field(200, ge=1, le=5000, description="Most files looked at per run.")


LOCK_DATES = (
    "period_lock_date",
    "fiscalyear_lock_date",
    "tax_lock_date",
    "sale_lock_date",
    "purchase_lock_date",
    "hard_lock_date",
)
LockDate = Literal[
    "period_lock_date",
    "fiscalyear_lock_date",
    "tax_lock_date",
    "sale_lock_date",
    "purchase_lock_date",
    "hard_lock_date",
]


class OdooLockStep(_StepBase):
    """After sign-off: the company's lock dates in Odoo moved up to the closed period's
    end through the external API, never lowered, and what was set (before and after)
    recorded in ``record`` (see docs/close.md)."""

    kind: Literal["odoo_lock"]
    connection: ConnectionName = Field(description="The odoo connection (external API) written.")
    lock_dates: list[LockDate] | None = Field(
        None,
        min_length=1,
        description="Lock dates set. Odoo 16 and 17: period_lock_date (the default), "
        "fiscalyear_lock_date, tax_lock_date; 18: sale_lock_date and purchase_lock_date (the "
        "default), hard_lock_date (cannot be lowered again), fiscalyear_lock_date, tax_lock_date.",
    )
    record: LakeTable = Field(
        "gold.odoo_lock_dates", description="Lake table each lock date set is appended to."
    )
    parameters: dict[Identifier, Any] = Field(
        default_factory=dict,
        description="company_id (res.company id) and period (YYYY-MM, locked to its last "
        "day); strings may use {{ ds }} or {{ params.NAME }}.",
    )

    @model_validator(mode="after")
    def _company_and_period(self) -> OdooLockStep:
        missing = [name for name in ("company_id", "period") if name not in self.parameters]
        if missing:
            raise custom_error(
                "odoo_lock", f"parameters: give {' and '.join(missing)} (the company and month)"
            )
        if self.lock_dates and len(set(self.lock_dates)) != len(self.lock_dates):
            raise custom_error("odoo_lock", "lock_dates: a lock date is named twice")
        return self


KINDS = (
    "notebook",
    "extract",
    "merge",
    "scd2",
    "sql",
    "approval",
    "publish",
    "odoo_lock",
    "ocr_inbox",
    "rag",
)
# Union tags as pydantic puts them in error locations: not a word a step's fields use,
# so that locating an error in the YAML never mistakes a tag for a field.
TAGS = {kind: f"kind={kind}" for kind in KINDS}
MODELS: dict[str, type[_StepBase]] = {
    "notebook": NotebookStep,
    "extract": ExtractStep,
    "merge": MergeStep,
    "scd2": Scd2Step,
    "sql": SqlStep,
    "approval": ApprovalStep,
    "publish": PublishStep,
    "odoo_lock": OdooLockStep,
    "ocr_inbox": OcrInboxStep,
    "rag": RagStep,
}


def step_kind(value: Any) -> str:
    """A step's kind as written (``notebook`` when it has none)."""
    kind = value.get("kind", "notebook") if isinstance(value, dict) else value.kind
    return kind if isinstance(kind, str) else "notebook"


def _tag(value: Any) -> str | None:
    kind = step_kind(value)
    return TAGS.get(kind, kind)


StepSpec = Annotated[
    Annotated[NotebookStep, Tag(TAGS["notebook"])]
    | Annotated[ExtractStep, Tag(TAGS["extract"])]
    | Annotated[MergeStep, Tag(TAGS["merge"])]
    | Annotated[Scd2Step, Tag(TAGS["scd2"])]
    | Annotated[SqlStep, Tag(TAGS["sql"])]
    | Annotated[ApprovalStep, Tag(TAGS["approval"])]
    | Annotated[OdooLockStep, Tag(TAGS["odoo_lock"])]
    | Annotated[OcrInboxStep, Tag(TAGS["ocr_inbox"])]
    | Annotated[PublishStep, Tag(TAGS["publish"])]
    | Annotated[RagStep, Tag(TAGS["rag"])],
    Discriminator(_tag),
]
"""A step of any kind (``kind`` picks which; ``notebook`` by default)."""


def model_of(value: Any) -> type[BaseModel] | None:
    """The model a step given as raw data is read with (None for an unknown kind)."""
    return MODELS.get(step_kind(value))
