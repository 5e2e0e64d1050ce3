"""The lake's one facade: a :class:`Lake` writes, reads, lists versions and diffs its
tables, delegating to the role modules (writes, reads, history, diff, maintenance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa

from ..connections.kinds import LakeConfig
from . import diff as _diff
from . import engine, history, maintenance, migrate, reads, tables, writes
from .location import LakeLocation, default_lake, resolve_lake
from .models import (
    DeleteMarker,
    MaintenanceResult,
    MigrationResult,
    TableDiff,
    TableInfo,
    TableName,
    TableVersion,
    WriteMode,
    WriteResult,
    WriterInfo,
)
from .settings import LakeSettings

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from ..core import Workbench
    from ..principal import Principal
    from ..settings import WorkbenchSettings


class Lake:
    """One lake (the default one, or a lake connection's) and its Delta tables.

    >>> lake = Lake.at("/srv/lake")
    >>> lake.write("silver.invoices", arrow_table, mode="merge", keys=["id"])
    WriteResult(table='silver.invoices', version=3, ...)
    >>> lake.read("silver.invoices", version=1)
    """

    def __init__(self, location: LakeLocation, settings: LakeSettings | None = None) -> None:
        self.location = location
        self.settings = settings or LakeSettings.from_env()

    # -- finding a lake ---------------------------------------------------------------
    @classmethod
    def at(cls, root: str, storage: LakeConfig | None = None, name: str = "lake") -> Lake:
        """The lake at a folder or ``s3://bucket/prefix`` (with its connection settings)."""
        return cls(LakeLocation(root, name=name, storage=storage))

    @classmethod
    def default(cls, settings: WorkbenchSettings) -> Lake:
        """The installation's lake (the home's ``lake`` folder), shared by all its users."""
        return cls(default_lake(settings))

    @classmethod
    def of(cls, workbench: Workbench, principal: Principal, name: str | None = None) -> Lake:
        """The default lake (``None``/``"lake"``) or lake connection ``name``, if
        ``principal`` may use it (not found otherwise)."""
        return cls(resolve_lake(workbench, principal, name))

    @property
    def name(self) -> str:
        return self.location.name

    def uri(self, table: TableName | str) -> str:
        return self.location.uri(table)

    def tables(self) -> list[TableInfo]:
        """The lake's tables: Delta tables with their current version (the newest commit
        file of each log: a listing, not a log read), and Parquet datasets not yet
        converted (no version)."""
        found = tables.list_tables(self.location)
        for info in found:
            if info.format == "delta":
                info.version = history.latest_version(self.location, info.table)
        return found

    def exists(self, table: TableName | str) -> bool:
        return tables.is_delta(self.location, table)

    # -- writing ----------------------------------------------------------------------
    def write(
        self,
        table: TableName | str,
        data: Any,
        *,
        mode: WriteMode = "append",
        keys: Sequence[str] | None = None,
        partition_by: Sequence[str] | None = None,
        replace_where: str | None = None,
        delete_marker: DeleteMarker | None = None,
        latest_by: str | None = None,
        schema_mode: Literal["merge", "overwrite"] | None = None,
        writer: WriterInfo | None = None,
        opened: DeltaTable | None = None,
        stats_columns: Sequence[str] = (),
    ) -> WriteResult:
        """Write ``data`` to ``table`` in one commit; see :func:`.writes.write`."""
        return writes.write(
            self.location,
            table,
            data,
            mode=mode,
            keys=keys,
            partition_by=partition_by,
            replace_where=replace_where,
            delete_marker=delete_marker,
            latest_by=latest_by,
            schema_mode=schema_mode,
            writer=writer,
            settings=self.settings,
            opened=opened,
            stats_columns=stats_columns,
        )

    def scd2(
        self,
        table: TableName | str,
        snapshot: Any,
        *,
        keys: Sequence[str],
        tracked: Sequence[str] | None = None,
        as_of: datetime | None = None,
        writer: WriterInfo | None = None,
    ) -> WriteResult:
        """Apply a snapshot to an SCD2 dimension; see :func:`.writes.write_scd2`."""
        return writes.write_scd2(
            self.location,
            table,
            snapshot,
            keys=keys,
            tracked=tracked,
            as_of=as_of,
            writer=writer,
            settings=self.settings,
        )

    def delete(
        self, table: TableName | str, where: str | None = None, *, writer: WriterInfo | None = None
    ) -> WriteResult:
        return writes.delete(self.location, table, where, writer=writer)

    def update(
        self,
        table: TableName | str,
        set_values: dict[str, str],
        where: str | None = None,
        *,
        writer: WriterInfo | None = None,
    ) -> WriteResult:
        return writes.update(self.location, table, set_values, where, writer=writer)

    # -- reading ----------------------------------------------------------------------
    def read(
        self,
        table: TableName | str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
        where: str | None = None,
    ) -> pa.Table:
        """The table now, at ``version``, or as it was at ``as_of``."""
        return reads.read(
            self.location, table, version=version, as_of=as_of, columns=columns, where=where
        )

    def reader(
        self,
        table: TableName | str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
        where: str | None = None,
    ) -> pa.RecordBatchReader:
        return reads.reader(
            self.location, table, version=version, as_of=as_of, columns=columns, where=where
        )

    def connect(self, db: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection (or ``db``) set up to read this lake's tables."""
        return engine.connect(self.location, db)

    def scan_sql(self, table: TableName | str, version: int | None = None) -> str:
        """``delta_scan('<uri>'[, version => v])`` for a connection from :meth:`connect`."""
        return reads.source_sql(self.location, table, version)

    def files_sql(
        self,
        table: TableName | str,
        opened: DeltaTable,
        *,
        equal: Mapping[str, Any] | None = None,
        ranges: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> str | None:
        """The files of ``opened`` that can hold the rows asked for, as one scan; see
        :func:`.reads.files_sql`."""
        return reads.files_sql(self.location, table, opened, equal=equal, ranges=ranges)

    # -- versions -----------------------------------------------------------------------
    def version(self, table: TableName | str) -> int:
        return history.latest_version(self.location, table)

    def open(self, table: TableName | str) -> DeltaTable:
        """The Delta table as it is now (``.version()``), to hand to :meth:`write`
        (``opened=``) when the version read is to be written next."""
        return tables.open_table(self.location, table)

    def version_at(self, table: TableName | str, when: datetime) -> int:
        return history.version_at(self.location, table, when)

    def versions(
        self, table: TableName | str, *, limit: int = 100, before: int | None = None
    ) -> list[TableVersion]:
        """Newest first: when, who (the writer), operation, rows added/updated/removed."""
        return history.versions(self.location, table, limit=limit, before=before)

    def written_by(
        self, table: TableName | str, run_id: str, step: str | None = None
    ) -> list[TableVersion]:
        """The versions of ``table`` a pipeline run (and step) wrote, newest first."""
        return history.written_by(self.location, table, run_id, step)

    def diff(
        self,
        table: TableName | str,
        from_version: int,
        to_version: int,
        keys: Sequence[str] | None = None,
        limit: int = 50,
    ) -> TableDiff:
        return _diff.diff(self.location, table, from_version, to_version, keys, limit)

    # -- maintenance ----------------------------------------------------------------------
    def optimize(self, table: TableName | str | None = None) -> list[MaintenanceResult]:
        """Compact small files of ``table`` (every Delta table by default)."""
        return maintenance.maintain(
            self.location, _names(table), do_vacuum=False, settings=self.settings
        )

    def vacuum(self, table: TableName | str | None = None) -> list[MaintenanceResult]:
        """Delete files older versions no longer need, keeping each layer's retention."""
        return maintenance.maintain(
            self.location, _names(table), do_optimize=False, settings=self.settings
        )

    def maintain(self, tables: Sequence[str] | None = None) -> list[MaintenanceResult]:
        """Optimize, then vacuum, each table (every Delta table by default)."""
        return maintenance.maintain(self.location, tables, settings=self.settings)

    def migrate(self) -> list[MigrationResult]:
        """Convert the Parquet datasets of the layers to Delta tables, in place."""
        return migrate.migrate(self.location, self.settings)


def _names(table: TableName | str | None) -> list[str] | None:
    return None if table is None else [str(TableName.parse(table))]
