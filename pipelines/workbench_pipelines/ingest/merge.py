"""The merge step: a bronze table's latest row per key into silver, deletes applied.

Only bronze rows added since the last merge are read (the rows of the runs whose
commits came after the bronze version the last merge recorded; every row when that
cannot be told). Of those, the last row of each key by ``_extracted_at`` wins, and only
if it is newer than the row silver holds: merging the same rows again, or rows older
than silver's, changes nothing. A ``d`` row deletes its key. Columns keep bronze's types
(the source's), or are cast to the types the step declares; bronze's partition and
``_op`` columns are left out.
"""

from __future__ import annotations

import duckdb

from workbench_server.errors import InvalidInputError
from workbench_server.lake import DeleteMarker, Lake
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from ..spec_steps import MergeStep, MergeTable
from . import watermarks
from .changes import columns_changed
from .context import StepContext, as_result, require_table
from .lineage import copy_lineage
from .session import step_session

BRONZE_ONLY = ("_op", "_company_id", "_extracted_on")  # bronze's bookkeeping
KEPT_AUDIT = ("_source", "_run_id", "_extracted_at")  # where each silver row came from
IN_MEMORY_ROWS = 2_000_000  # larger changes are streamed to the merge
MAX_RUNS = 500  # more runs to pick out than this: read every bronze row instead
LSN_KIND = "merge_lsn"  # a merge's last LSN per source of change data capture


def run_merge(ctx: StepContext) -> None:
    spec = MergeStep.model_validate({**ctx.config, "id": ctx.step_id, "kind": "merge"})
    lake = ctx.lake(spec.lake)
    with step_session(lake, ctx.progress) as db:
        for table in spec.tables:
            ctx.progress.check()
            TableMerge(ctx, lake, db, table).run()


class TableMerge:
    def __init__(
        self, ctx: StepContext, lake: Lake, db: duckdb.DuckDBPyConnection, table: MergeTable
    ) -> None:
        self.ctx, self.lake, self.db, self.table = ctx, lake, db, table
        self.keys = list(table.keys)
        self._read = 0

    def run(self) -> None:
        ctx, lake, t = self.ctx, self.lake, self.table
        ctx.progress.table = t.target
        version = require_table(lake, t.source, f"merge of {t.source}")
        ctx.read(lake, t.source, version)
        mark = watermarks.load(ctx.workbench, "merge", lake.name, t.target, "lake", t.source)
        exists = lake.exists(t.target)
        done = (
            lake.written_by(t.target, ctx.run_id, ctx.step_id) if exists and ctx.attempt > 1 else []
        )
        if done:  # an earlier attempt of this run merged it; only its end was lost
            ctx.wrote(lake, as_result(t.target, done[0]))
            self._save(version)
            ctx.log(f"{t.source} -> {t.target}: merged by an earlier attempt of this run")
            return
        scan = lake.scan_sql(t.source, version)
        columns = self._columns(scan)
        kept = self._kept(columns)
        where = self._new_rows(mark, version, exists, columns)
        cast = {c: ty for c, ty in (t.columns or {}).items() if ty.upper() != columns[c].upper()}
        if where == "false":  # no bronze row since the last merge: silver is as merged
            ctx.read(lake, t.target, lake.version(t.target))
            self._save(version)
            self._done(version, kept, set(cast), 0)
            return
        lsns = self._lsns(where, columns)
        if lsns is not None and where not in ("true", "false"):
            where = f"({where}) AND {lsns}"
        projection = ", ".join(
            f"CAST(c.{qi(c)} AS {cast[c]}) AS {qi(c)}" if c in cast else f"c.{qi(c)}" for c in kept
        )
        partition = ", ".join(qi(k) for k in self.keys)
        # A row whose key is NULL is no key's row: merged, it would match no silver row
        # and be added again by every merge that reads it. Such rows are left out (and
        # counted in the log). Rows of one key extracted together (the same
        # _extracted_at: the source holds the key twice) have no latest: refused below.
        no_key = " OR ".join(f"{qi(k)} IS NULL" for k in self.keys)
        latest = (
            f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {partition} "
            f"ORDER BY _extracted_at DESC) AS _wb_rank, count(*) OVER (PARTITION BY "
            f"{partition}, _extracted_at) AS _wb_ties FROM {scan} "
            f"WHERE ({where}) AND NOT ({no_key})) WHERE _wb_rank = 1"
        )
        guard, current = "true", ""
        if exists:
            target_version = lake.version(t.target)
            ctx.read(lake, t.target, target_version)
            current = lake.scan_sql(t.target, target_version)
            same = " AND ".join(f"s.{qi(k)} = c.{qi(k)}" for k in self.keys)
            guard = (
                f"NOT EXISTS (SELECT 1 FROM {current} s WHERE {same} "
                "AND s._extracted_at >= c._extracted_at) AND (c._op IS DISTINCT FROM 'd' OR "
                f"EXISTS (SELECT 1 FROM {current} s WHERE {same}))"
            )
        try:
            self.db.execute(
                f"CREATE OR REPLACE TEMP TABLE wb_merge AS SELECT {projection}, c._op, "
                f"c._wb_ties FROM ({latest}) c WHERE {guard}"
            )
            # The bronze rows this merge read (new since the last one), for the stats.
            self._read, keyless = self.db.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {no_key}) FROM {scan} WHERE {where}"
            ).fetchone()
        except duckdb.Error as exc:
            raise InvalidInputError(f"merge {t.source} -> {t.target}: {_first_line(exc)}") from None
        self._refuse_ties()
        if keyless:
            ctx.log(
                f"{t.source} -> {t.target}: {keyless} row(s) with a NULL key "
                f"({', '.join(self.keys)}) left out: silver keeps one row per key"
            )
        ctx.progress.check()
        changes = self.db.execute("SELECT count(*) FROM wb_merge").fetchone()[0]
        # Silver's types are compared only when bronze has new commits (the where above)
        # and something to write, or a silver may lack a column bronze gained without any
        # row (a field added with no value yet): its columns' bind costs a read of its log.
        added: list[str] = []
        if exists:
            typed = {  # as DuckDB names them (declared as `numeric` or `int` too)
                r[0]: r[1] for r in self.db.execute("DESCRIBE wb_merge").fetchall() if r[0] in kept
            }
            added = self._refuse_retyped(current, typed)
        if changes:
            self._write(exists, changes)
        elif added:  # no row to merge: the new columns alone (a commit of the schema)
            empty = self.db.execute("SELECT * EXCLUDE (_op) FROM wb_merge").to_arrow_table()
            ctx.wrote(
                lake,
                lake.write(t.target, empty, mode="append", schema_mode="merge", writer=ctx.writer),
            )
        if added:
            ctx.log(f"{t.target}: new column(s) {', '.join(added)} added from {t.source}")
            columns_changed(ctx, lake.name, t.target)
        self._save(version)
        if "_lsn" in columns and "_source" in columns:
            self._save_lsns(scan, where, full=where == "true")
        self._done(version, kept, set(cast), changes)

    def _refuse_retyped(self, current: str, kept: dict[str, str]) -> list[str]:
        """Refuse columns whose type in bronze (or as declared) is not silver's: merged,
        the values would be cast to silver's type (a DECIMAL(14,4) rounded to (12,2)).
        The columns silver lacks (a new column of the source), which the write adds."""
        held = {r[0]: r[1] for r in self.db.execute(f"DESCRIBE SELECT * FROM {current}").fetchall()}
        changed = [
            (c, held[c], ty)
            for c, ty in kept.items()
            if c in held and held[c].upper() != ty.upper()
        ]
        if not changed:
            return [c for c in kept if c not in held]
        t = self.table
        said = ", ".join(
            f"{c} ({old} in {t.target}, {new} in {t.source})" for c, old, new in changed
        )
        casts = ", ".join(f"CAST({qi(c)} AS {new}) AS {qi(c)}" for c, _, new in changed)
        raise InvalidInputError(
            f"merge {t.source} -> {t.target}: the type of {said} changed, and a merge never "
            "changes a column's type (the values would be cast to fit, rounded or cut); "
            f"make silver's column the new type, e.g. %sql CREATE OR REPLACE TABLE {t.target} "
            f"AS SELECT * REPLACE ({casts}) FROM {t.target}, or declare the type silver keeps "
            "in the step's columns:, then run the step again"
        )

    def _refuse_ties(self) -> None:
        """Refuse keys whose latest rows were extracted together (the source holds the
        key more than once): which one silver keeps would be chance."""
        keys = ", ".join(qi(k) for k in self.keys)
        tied = self.db.execute(
            f"SELECT {keys} FROM wb_merge WHERE _wb_ties > 1 ORDER BY {keys}"
        ).fetchall()
        if tied:
            names = ", ".join(self.keys)
            shown = ", ".join(f"({names})=({', '.join(map(str, k))})" for k in tied[:3])
            raise InvalidInputError(
                f"merge {self.table.source} -> {self.table.target}: {len(tied)} key(s) have "
                f"several rows extracted together, e.g. {shown}: the source holds them more "
                "than once, and silver keeps one row per key; merge by columns that tell "
                "the rows apart (keys:), or remove the duplicates at the source and run a "
                "full extract"
            )
        self.db.execute("ALTER TABLE wb_merge DROP COLUMN _wb_ties")

    def _done(self, version: int, kept: list[str], cast: set[str], changes: int) -> None:
        """The columns' lineage, the log and the stats of a merge saved."""
        ctx, t = self.ctx, self.table
        copy_lineage(ctx, self.lake, t.source, t.target, kept, cast, f"merge {t.source}")
        ctx.log(
            f"{t.source} v{version} -> {t.target}: {changes} change(s)"
            + ("" if changes else ", nothing to merge")
        )
        ctx.stats.setdefault(t.target, {}).update(
            changes=changes, source_version=version, read=self._read
        )

    def _write(self, exists: bool, changes: int) -> None:
        t, ctx = self.table, self.ctx
        if not exists:  # the first merge makes the table: the live rows, one commit
            reader = self.db.execute(
                "SELECT * EXCLUDE (_op) FROM wb_merge WHERE _op IS DISTINCT FROM 'd'"
            ).to_arrow_reader(64 * 1024)
            result = self.lake.write(t.target, reader, mode="overwrite", writer=ctx.writer)
        else:
            query = self.db.execute("SELECT * FROM wb_merge")
            data = query.to_arrow_table() if changes <= IN_MEMORY_ROWS else query.to_arrow_reader()
            result = self.lake.write(
                t.target,
                data,
                mode="merge",
                keys=self.keys,
                delete_marker=DeleteMarker(column="_op", value="d"),
                schema_mode="merge",  # a column bronze gained (the source's) is added
                writer=ctx.writer,
            )
        ctx.wrote(self.lake, result)

    def _columns(self, scan: str) -> dict[str, str]:
        described = self.db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        columns = {row[0]: row[1] for row in described}
        needed = [*self.keys, "_extracted_at", *(self.table.columns or {})]
        missing = [c for c in needed if c not in columns]
        if missing:
            raise InvalidInputError(
                f"merge of {self.table.source}: it has no column(s) {missing}"
                + (
                    " (a merge reads bronze tables written by extract steps)"
                    if "_extracted_at" in missing
                    else ""
                )
            )
        return columns

    def _kept(self, columns: dict[str, str]) -> list[str]:
        declared = self.table.columns
        if declared:
            return [*declared, *(c for c in KEPT_AUDIT if c in columns and c not in declared)]
        return [c for c in columns if c not in BRONZE_ONLY]

    def _new_rows(
        self, mark: watermarks.Mark | None, version: int, exists: bool, columns: dict[str, str]
    ) -> str:
        """A predicate for the bronze rows added after the last merge (``true``: all)."""
        if mark is None or mark.version is None or not exists or "_run_id" not in columns:
            return "true"
        if mark.version == version:
            return "false"
        if mark.version > version or version - mark.version > MAX_RUNS:
            return "true"  # bronze was made again, or too much happened: read it all
        runs: set[str] = set()
        for commit in self.lake.versions(self.table.source, limit=version - mark.version):
            if commit.version <= mark.version or commit.mode in ("optimize", "vacuum"):
                continue
            if commit.operation.startswith(("OPTIMIZE", "VACUUM", "CREATE")):
                continue
            if commit.mode != "append" or commit.writer is None or not commit.writer.run_id:
                return "true"  # written otherwise than by an extract: read it all
            runs.add(commit.writer.run_id)
        if not runs:
            return "false"
        return f"_run_id IN ({', '.join(ql(r) for r in sorted(runs))})"

    def _lsns(self, where: str, columns: dict[str, str]) -> str | None:
        """Of the new rows of change data capture (``_lsn``), only those past each
        source's last merged LSN: a cdc step that follows for hours writes every batch
        under one run id, and without this each merge would read all the run's rows
        again. A source's LSNs only grow in its bronze rows (the step skips what bronze
        has), and the files' statistics on ``_lsn`` let the scan skip the older files."""
        if "_lsn" not in columns or "_source" not in columns or where in ("true", "false"):
            return None
        t = self.table
        marks = watermarks.load_sources(
            self.ctx.workbench, LSN_KIND, self.lake.name, t.target, t.source
        )
        past = {s: m.cursor_id for s, m in marks.items() if m.cursor_id is not None}
        if not past:
            return None
        cases = " ".join(f"WHEN {ql(s)} THEN {int(x)}" for s, x in sorted(past.items()))
        return f"(_lsn IS NULL OR _lsn > CASE _source {cases} ELSE -1 END)"

    def _save_lsns(self, scan: str, where: str, full: bool) -> None:
        """Each source's last LSN among the rows this merge read."""
        ctx, t = self.ctx, self.table
        found = self.db.execute(
            f"SELECT _source, max(_lsn) FROM {scan} WHERE ({where}) AND _lsn IS NOT NULL "
            "GROUP BY _source"
        ).fetchall()
        lake = self.lake.name
        known = (
            {}
            if full
            else watermarks.load_sources(ctx.workbench, LSN_KIND, lake, t.target, t.source)
        )
        for source, lsn in found:
            if source is None or lsn is None:
                continue
            before = known.get(source)
            if before is not None and before.cursor_id is not None and before.cursor_id >= lsn:
                continue
            watermarks.save(
                ctx.workbench,
                LSN_KIND,
                self.lake.name,
                t.target,
                source,
                t.source,
                watermarks.Mark(cursor_id=int(lsn)),
                ctx.run_id,
            )

    def _save(self, version: int) -> None:
        ctx, t = self.ctx, self.table
        watermarks.save(
            ctx.workbench,
            "merge",
            self.lake.name,
            t.target,
            "lake",
            t.source,
            watermarks.Mark(version=version),
            ctx.run_id,
            ctx.tables,
            (ctx.step_id, ctx.attempt),
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
