"""Lake tables from Python in a notebook: ``from workbench_kernels import lake``.

::

    from workbench_kernels import lake

    lake.write("bronze.moves", df)                                 # append (the default)
    lake.write("silver.moves", df, mode="merge", keys=["id"])      # upsert by key
    lake.write("gold.balances", rel, mode="overwrite", replace_where="company_id = 2")
    lake.merge("silver.moves", changes, keys=["id"], delete_marker=("_op", "d"))
    lake.scd2("gold.dim_partner", snapshot, keys=["id"])
    lake.delete("silver.moves", "company_id = 3")
    lake.update("silver.moves", {"state": "'posted'"}, "id = 7")
    df = lake.read("silver.moves", version=3)       # or as_of=datetime, or run="<run id>"
    rel = lake.table("silver.moves", as_of=when)    # a DuckDB relation (lazy)
    rel = lake.sql("SELECT ...")                    # %sql's rules, writes included
    lake.versions("silver.moves"); lake.diff("silver.moves", 1, 3); lake.tables()
    s3 = lake.connection("s3lake")                  # the same, on a lake connection

Data is a pandas DataFrame, an Arrow table or stream, or a DuckDB relation (streamed).
Every write is one commit that records this notebook and its user (in a pipeline step:
the run, step and attempt) as its writer, and returns the library's ``WriteResult``.
These are thin wrappers over ``workbench_server.lake.Lake`` with the kernel's lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .lake_sql import Passthrough, plan
from .lake_writes import LakeWrites, arrow_stream
from .registry import LAKE
from .usage import REPORTER

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from workbench_server.lake import DeleteMarker, TableDiff, WriteResult

    from .lake_session import LakeSession
    from .registry import KernelConnections

PUBLIC = (
    "write",
    "merge",
    "scd2",
    "delete",
    "update",
    "read",
    "table",
    "sql",
    "versions",
    "diff",
    "tables",
)
_connections: KernelConnections | None = None


def install(connections: KernelConnections) -> None:
    """Use ``connections`` (in a workbench kernel, the API uses the kernel's own, fetched
    from the workbench at its first use: extension.py)."""
    global _connections
    _connections = connections


def connection(name: str = LAKE) -> NotebookLake:
    """The lake of connection ``name`` (``lake``: the workbench's own)."""
    connections = _connections
    if connections is None:
        from .extension import current

        extension = current()  # in a workbench kernel: its connections, fetched now
        connections = extension.connections() if extension is not None else None
    if connections is None:
        raise RuntimeError(
            "workbench_kernels.lake works in a Workbench kernel: it writes with the kernel's "
            "lake connection and records the notebook as the writer"
        )
    return NotebookLake(connections, name)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:  # lake.write(...) is the default lake's
        return getattr(connection(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NotebookLake:
    """One lake, as seen from this kernel: its DuckDB session and the lake library."""

    def __init__(self, connections: KernelConnections, name: str) -> None:
        self.connections = connections
        self.name = name

    def __repr__(self) -> str:
        return f"<lake {self.name!r}>"

    def session(self, views: bool = True) -> LakeSession:
        """The kernel's DuckDB session on this lake (rights checked again at each use),
        with a view per lake table (``views``: what queries by name need)."""
        if self.name != LAKE:
            self.connections.check([self.name])
        session = self.connections.lake_session(self.name)
        if session is None:
            raise LookupError(f"no lake connection named {self.name!r}")
        if views:
            session.refresh_views()  # cheap when nothing changed
        return session

    # -- writing ------------------------------------------------------------------------
    def write(
        self,
        table: str,
        data: Any,
        *,
        mode: Literal["append", "overwrite", "merge"] = "append",
        keys: Sequence[str] | None = None,
        partition_by: Sequence[str] | None = None,
        replace_where: str | None = None,
        delete_marker: DeleteMarker | tuple[str, str] | None = None,
        latest_by: str | None = None,
        schema_mode: Literal["merge", "overwrite"] | None = None,
    ) -> WriteResult:
        """Write ``data`` to ``table`` in one commit (a new version).

        ``mode="append"`` adds rows; ``"overwrite"`` replaces the table, or only the rows
        matching ``replace_where`` (e.g. ``"company_id = 2"``); ``"merge"`` upserts by
        ``keys``, deleting a key whose row carries ``delete_marker`` (``("_op", "d")``),
        keeping the last row per key by ``latest_by``. ``partition_by`` applies when the
        write creates the table; ``schema_mode="merge"`` lets new columns in."""
        from workbench_server.lake import DeleteMarker

        session = self.session()
        session.ensure_delta()
        if mode != "overwrite" or replace_where is not None:
            session.check_changeable(table)
        if isinstance(delete_marker, tuple):
            delete_marker = DeleteMarker(column=delete_marker[0], value=delete_marker[1])
        result = session.lake.write(
            table,
            arrow_stream(data) if _is_relation(data) else data,
            mode=mode,
            keys=keys,
            partition_by=partition_by,
            replace_where=replace_where,
            delete_marker=delete_marker,
            latest_by=latest_by,
            schema_mode=schema_mode,
            writer=self.connections.writer_info("python"),
        )
        session.refresh_views(force=True)
        if _is_relation(data) and result.operation != "NONE":
            self._lineage(session, f"INSERT INTO {table} {data.sql_query()}")
        return result

    def merge(
        self,
        table: str,
        data: Any,
        *,
        keys: Sequence[str],
        delete_marker: DeleteMarker | tuple[str, str] | None = None,
        latest_by: str | None = None,
    ) -> WriteResult:
        """Upsert ``data`` by ``keys``; rows carrying ``delete_marker`` delete their key."""
        return self.write(
            table,
            data,
            mode="merge",
            keys=keys,
            delete_marker=delete_marker,
            latest_by=latest_by,
        )

    def scd2(
        self,
        table: str,
        snapshot: Any,
        *,
        keys: Sequence[str],
        tracked: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> WriteResult:
        """Apply a snapshot to an SCD type 2 dimension (``valid_from``, ``valid_to``,
        ``is_current``): changed keys get a new current row, missing ones are closed."""
        session = self.session()
        session.ensure_delta()
        session.check_changeable(table)
        result = session.lake.scd2(
            table,
            arrow_stream(snapshot) if _is_relation(snapshot) else snapshot,
            keys=keys,
            tracked=tracked,
            as_of=as_of,
            writer=self.connections.writer_info("python"),
        )
        session.refresh_views(force=True)
        return result

    def delete(self, table: str, where: str | None = None) -> WriteResult:
        """Delete the rows matching ``where`` (a SQL condition; None: every row)."""
        session = self.session()
        session.check_changeable(table)
        return session.lake.delete(table, where, writer=self.connections.writer_info("python"))

    def update(
        self, table: str, set_values: dict[str, str], where: str | None = None
    ) -> WriteResult:
        """Set columns to SQL expressions (``{"state": "'posted'"}``) where ``where`` holds."""
        session = self.session()
        session.check_changeable(table)
        return session.lake.update(
            table, set_values, where, writer=self.connections.writer_info("python")
        )

    # -- reading ------------------------------------------------------------------------
    def table(
        self,
        table: str,
        *,
        version: int | None = None,
        as_of: datetime | str | None = None,
        run: str | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """``table`` now, at ``version``, as it was at ``as_of`` (a time with its zone, or
        ISO text; without a zone, UTC) or as pipeline run ``run`` wrote it: a DuckDB
        relation in the kernel's lake session (``.df()``, ``.arrow()``, joins...)."""
        session = self.session(views=False)
        if session.sandbox is not None or session.is_s3:
            # Which lake holds the table (the user's sandbox or the team's; on S3, what
            # exists) comes with the listing the views are made from. A local lake's
            # table is read by its own scan: making a view of every table in the lake
            # first (a Delta log read each) was most of a close report's time.
            session.refresh_views()
        given = [p for p in (version, as_of, run) if p is not None]
        if len(given) > 1:
            raise ValueError("give one of version=, as_of= and run=")
        point = None
        if given:
            session.ensure_delta()
            resolver = session.resolver
            if version is not None:
                point = resolver.numbered(table, int(version))
            elif run is not None:
                point = resolver.of_run(table, run)
            else:
                from .time_travel import parse_time

                when = as_of if isinstance(as_of, datetime) else parse_time(str(as_of))
                point = resolver.at(table, when)
        elif not session.knows(table) and session.is_s3:
            session.refresh_views(force=True)
        return session.db.sql(f"SELECT * FROM {session.table_sql(table, point)}")

    def read(
        self,
        table: str,
        *,
        version: int | None = None,
        as_of: datetime | str | None = None,
        run: str | None = None,
    ) -> pd.DataFrame:
        """The rows of :meth:`table` as a pandas DataFrame; DECIMAL columns hold Python
        ``Decimal`` values (exact), not floats."""
        relation = self.table(table, version=version, as_of=as_of, run=run)
        return relation.to_arrow_table().to_pandas()

    def sql(self, query: str) -> duckdb.DuckDBPyRelation | None:
        """Run ``query`` in the kernel's lake session as ``%sql`` does (statements on lake
        tables write them); the last statement's relation, if it is a query."""
        session = self.session()
        statements = plan(query)
        if statements is None:
            return session.db.sql(query)
        writes = LakeWrites(session, lambda: self.connections.writer_info("python"))
        relation = None
        for statement in statements:
            if isinstance(statement, Passthrough):
                relation = session.db.sql(statement.text)
                continue
            relation = None
            written = writes.run(statement)
            lineage = writes.lineage(statement)
            if lineage is not None and written is not None and written.operation != "NONE":
                self._lineage(session, lineage)
        return relation

    # -- history ------------------------------------------------------------------------
    def versions(self, table: str, limit: int = 20) -> pd.DataFrame:
        """The table's versions, newest first: when, what, who, rows changed."""
        import pandas as pd

        found = self.session().lake_for(table).versions(table, limit=limit)
        return pd.DataFrame(
            [
                {
                    "version": v.version,
                    "timestamp": v.timestamp,
                    "operation": v.operation,
                    "writer": v.writer_text,
                    "run_id": v.writer.run_id if v.writer else None,
                    "rows_added": v.rows_added,
                    "rows_updated": v.rows_updated,
                    "rows_removed": v.rows_removed,
                }
                for v in found
            ]
        ).set_index("version")

    def diff(
        self,
        table: str,
        from_version: int,
        to_version: int,
        *,
        keys: Sequence[str] | None = None,
        limit: int = 50,
    ) -> TableDiff:
        """Rows added, removed and changed by key between two versions."""
        session = self.session()
        return session.lake_for(table).diff(table, from_version, to_version, keys, limit)

    def tables(self) -> pd.DataFrame:
        """The lake's tables: Delta tables with their current version (the user's own
        copy's, in a sandbox), and Parquet datasets not yet converted (no version)."""
        import pandas as pd

        session = self.session()
        rows = []
        for info in session.tables():
            row = info.model_dump()
            if info.format == "delta" and row["version"] is None:
                # The newest commit file in the table's log (a listing, not a log read).
                row["version"] = session.lake_for(info.table).version(info.table)
            rows.append(row)
        frame = pd.DataFrame(rows, columns=["table", "format", "location", "version"])
        frame["version"] = frame["version"].astype("Int64")  # whole numbers, <NA> for Parquet
        return frame

    def _lineage(self, session: LakeSession, sql: str) -> None:
        if session.records_lineage:
            REPORTER.note_write(self.name, sql, "duckdb")


def _is_relation(data: Any) -> bool:
    return type(data).__name__ == "DuckDBPyRelation"
