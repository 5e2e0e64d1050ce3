"""What the lake library answers and accepts: pydantic models at its Python, REST, CLI
and worker edge.

Light on purpose (pydantic only): the worker's workflow module imports the maintenance
request from here inside Temporal's sandbox.
"""

from __future__ import annotations

import getpass
import os
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import InvalidInputError
from ..lake_layout import LAYERS

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
_TABLE = re.compile(rf"(?P<layer>[a-z]+)\.(?P<name>{NAME_PATTERN})")
# The worker starts maintenance by this workflow type name (a Temporal Schedule does).
LAKE_MAINTENANCE_WORKFLOW = "workbench.LakeMaintenance"
COMMIT_KEY = "workbench"  # the commit's custom metadata key holding the writer
MAX_VERSIONS = 1000  # versions one history request lists
MAX_LISTED = 1000  # changed rows one diff lists


class TableName(BaseModel):
    """A lake table ``layer.name``: a Delta table at ``<lake>/<layer>/<name>``."""

    model_config = ConfigDict(frozen=True)

    layer: Literal["bronze", "silver", "gold"]
    name: str = Field(pattern=rf"^{NAME_PATTERN}$")

    @classmethod
    def parse(cls, text: str | TableName) -> TableName:
        """``silver.invoices`` -> TableName; one clear error for anything else."""
        if isinstance(text, TableName):
            return text
        found = _TABLE.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None or found["layer"] not in LAYERS:
            shown = str(text)[:80]
            raise InvalidInputError(
                f"{shown!r} is not a lake table name: use layer.name with a layer of "
                f"{', '.join(LAYERS)} and a name of letters, digits and _ (e.g. silver.invoices)"
            )
        return cls(layer=found["layer"], name=found["name"])

    def __str__(self) -> str:
        return f"{self.layer}.{self.name}"


# Environment variables a pipeline step's kernel (or any process writing for a run) may
# set so that writes record who made them without passing a WriterInfo each time.
WRITER_ENV = {
    "pipeline": "WORKBENCH_PIPELINE",
    "run_id": "WORKBENCH_RUN_ID",
    "step": "WORKBENCH_STEP",
    "attempt": "WORKBENCH_ATTEMPT",
    "notebook": "WORKBENCH_NOTEBOOK",
    "user": "WORKBENCH_USER",
}


class WriterInfo(BaseModel):
    """Who made a write: a pipeline run's step and attempt, or a notebook and its user.

    Stored in the commit's custom metadata (under ``workbench``, and the user also as
    Delta's own ``userName``), so a table's history shows the writer in any Delta reader.
    """

    model_config = ConfigDict(extra="forbid")

    pipeline: str | None = Field(None, max_length=200)
    run_id: str | None = Field(None, max_length=200)
    step: str | None = Field(None, max_length=200)
    attempt: int | None = Field(None, ge=0, le=10_000)
    notebook: str | None = Field(None, max_length=1000)
    user: str | None = Field(None, max_length=200)
    tool: str | None = Field(
        None, max_length=100, description="what wrote: python, sql, cli, merge, maintenance…"
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> WriterInfo:
        """The writer this process stands for: ``WORKBENCH_PIPELINE``, ``_RUN_ID``,
        ``_STEP``, ``_ATTEMPT``, ``_NOTEBOOK``, ``_USER`` (default: the account name)."""
        values: dict[str, Any] = {
            field: os.environ.get(env) or None for field, env in WRITER_ENV.items()
        }
        if values["attempt"] is not None:
            values["attempt"] = int(values["attempt"]) if values["attempt"].isdigit() else None
        if values["user"] is None:
            values["user"] = getpass.getuser()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def commit_metadata(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The commit's custom metadata: ``{"workbench": {...}, "userName": user}``."""
        recorded = {k: v for k, v in self.model_dump().items() if v is not None}
        if extra:
            recorded.update(extra)
        out: dict[str, Any] = {COMMIT_KEY: recorded}
        if self.user:
            out["userName"] = self.user
        return out

    def describe(self) -> str:
        """One line: ``pipeline close run r1 step load attempt 2`` or ``notebook x.ipynb``."""
        parts = []
        if self.pipeline:
            parts.append(f"pipeline {self.pipeline}")
        if self.run_id:
            parts.append(f"run {self.run_id}")
        if self.step:
            parts.append(f"step {self.step}")
        if self.attempt is not None:
            parts.append(f"attempt {self.attempt}")
        if self.notebook:
            parts.append(f"notebook {self.notebook}")
        if self.user:
            parts.append(f"by {self.user}")
        if self.tool and not parts:
            parts.append(self.tool)
        return " ".join(parts) or "unknown"


WriteMode = Literal["append", "overwrite", "merge"]


class DeleteMarker(BaseModel):
    """Source rows whose ``column`` equals ``value`` delete their key (bronze's ``_op``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field("_op", pattern=rf"^{NAME_PATTERN}$")
    value: str = Field("d", max_length=100)


class WriteResult(BaseModel):
    """A committed write: the table's new version and what it changed.

    ``operation`` is ``NONE`` (and ``version`` the table's current one) when there was
    nothing to change, e.g. an SCD2 snapshot equal to the dimension's current rows."""

    table: str
    version: int
    operation: str
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None
    commit_attempts: int = Field(1, description="1, or more when a conflict made it retry")


class TableVersion(BaseModel):
    """One version of a table, from its commit: when, who, what, how many rows."""

    version: int
    timestamp: datetime
    operation: str = Field(description="Delta's operation: WRITE, MERGE, DELETE, OPTIMIZE…")
    mode: str | None = Field(
        None, description="the workbench's write: append, overwrite, merge, scd2, delete…"
    )
    writer: WriterInfo | None = None
    writer_text: str = Field("", description="the writer in one line, for lists")
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None
    keys: list[str] | None = Field(None, description="the keys a keyed write merged by")
    parameters: dict[str, Any] = Field(default_factory=dict)
    engine: str | None = None


class TableInfo(BaseModel):
    """A table of a lake: its name, format and where it is."""

    table: str
    format: Literal["delta", "parquet"]
    location: str
    version: int | None = None


class ChangedRow(BaseModel):
    key: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]


class TableDiff(BaseModel):
    """Rows added, removed and changed by key between two versions of a table."""

    table: str
    from_version: int
    to_version: int
    keys: list[str]
    added: int
    removed: int
    changed: int
    columns_added: list[str] = Field(default_factory=list)
    columns_removed: list[str] = Field(default_factory=list)
    added_rows: list[dict[str, Any]] = Field(default_factory=list)
    removed_rows: list[dict[str, Any]] = Field(default_factory=list)
    changed_rows: list[ChangedRow] = Field(default_factory=list)
    limit: int = Field(description="at most this many rows are listed per kind")


class MaintenanceResult(BaseModel):
    """What optimize or vacuum did to one table."""

    table: str
    operation: Literal["optimize", "vacuum"]
    version: int | None = Field(None, description="the table's version afterwards")
    files_added: int = 0
    files_removed: int = 0
    retention_days: float | None = None
    error: str | None = None


class MigrationResult(BaseModel):
    """One Parquet dataset converted (or not) to a Delta table."""

    table: str
    status: Literal["converted", "already_delta", "skipped", "failed"]
    files: int = 0
    message: str = ""


class LakeMaintenanceRequest(BaseModel):
    """What a maintenance run does: the default lake (``lake=None``) or a lake connection,
    every table of it or the ones named."""

    model_config = ConfigDict(extra="forbid")

    lake: str | None = Field(None, max_length=63)
    tables: list[str] | None = Field(None, max_length=10_000)
    optimize: bool = True
    vacuum: bool = True
    owner: str | None = Field(
        None, max_length=200, description="acts for this user (a lake connection's owner)"
    )

    @field_validator("tables")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for name in value:
                try:
                    TableName.parse(name)
                except InvalidInputError as exc:
                    raise ValueError(str(exc)) from None
        return value


class LakeMaintenanceResult(BaseModel):
    results: list[MaintenanceResult] = Field(default_factory=list)
