"""The extract step: source tables into bronze, in full or incrementally.

Per table, in one DuckDB session:

- **full** (``mode: full``, the first run, or a table without a cursor column) streams
  every source row into bronze batch by batch (bounded memory); ``_op`` says ``i`` or
  ``u`` against the keys bronze holds alive, and keys bronze holds that the source no
  longer has are added as ``d`` rows.
- **incremental** reads the rows whose cursor (``write_date``) is at least the watermark
  minus the overlap window, stages them, and appends those bronze does not already hold
  with the same cursor value: changed rows, and late commits inside the window, once.
  A table with Odoo's ``create_date`` tells new rows (created after the watermark) from
  changed ones (created before the window) by it, and looks up in bronze only the rows
  read again in the window (in bronze's files of that window) and those created inside
  it; others look every key read up in bronze.
  When deletes are due (``deletes: every 1d``), keys are compared as in a full run.
  The run that first reads a column new to bronze also reads the rows holding a value
  in it whatever their cursor (Odoo fills a new column without touching write_date).

Each table's rows (upserts and deletes, and company-dependent values in their own
table) are one append: one Delta version, or none if the step fails. The watermark and
the versions are recorded after the commit; an attempt that finds its run already wrote
a table (its end was lost) records that and moves on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from ..spec_steps import ExtractStep, ExtractTable
from . import extract_sql as q
from . import watermarks
from .changes import columns_changed
from .connect import open_source
from .context import StepContext, as_result
from .lineage import extract_lineage
from .session import step_session
from .sources import Shape, Source, sql_literal
from .streams import counted

if TYPE_CHECKING:
    from deltalake import DeltaTable

BATCH_ROWS = 64 * 1024
CREATED = "create_date"  # Odoo's creation time of every row
EXTRACTED_MARGIN = timedelta(days=1)
# An incremental read of at most this many rows is turned into bronze rows in memory
# (about 40 MB of Arrow for 100,000 journal items); a larger one is staged in DuckDB,
# which spills to disk.
IN_MEMORY_ROWS = 100_000
_OPENER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="extract-open")
# Bronze's live-key checksums by (lake, table, table id, version, source, key).
_LIVE_KEYS: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_LIVE_KEYS_LOCK = threading.Lock()
LIVE_KEYS_KEPT = 1024


def run_extract(ctx: StepContext) -> None:
    spec = ExtractStep.model_validate({**ctx.config, "id": ctx.step_id, "kind": "extract"})
    lake = ctx.lake(spec.lake)
    if spec.mode == "cdc":  # PostgreSQL's logical replication: see .cdc
        from .cdc import run_cdc

        with step_session(lake, ctx.progress) as db:
            run_cdc(ctx, spec, lake, db)
        return
    with step_session(lake, ctx.progress) as db:
        source = open_source(ctx, spec.source, db)
        try:
            found: list[list[str]] = [spec.languages] if spec.languages is not None else []

            def languages() -> list[str]:
                """The source's languages, asked once, when a table has translations."""
                if not found:
                    found.append(source.languages(db))
                return found[0]

            for table in spec.tables:
                ctx.progress.check()
                TableExtract(ctx, spec, table, source, lake, db, languages).run()
        finally:
            source.close()


class TableExtract:
    """One source table into its bronze table (and its company-dependent values)."""

    def __init__(
        self,
        ctx: StepContext,
        spec: ExtractStep,
        table: ExtractTable,
        source: Source,
        lake: Lake,
        db: duckdb.DuckDBPyConnection,
        languages: Callable[[], list[str]],
    ) -> None:
        self.ctx, self.spec, self.table, self.source = ctx, spec, table, source
        self.lake, self.db, self._languages = lake, db, languages
        self.languages: list[str] = []  # those of a table with translated columns
        self.bronze = table.bronze
        self.side = self.bronze + q.SIDE_SUFFIX
        self.keys = list(table.keys)
        self.audit = q.Audit(ctx.run_id, datetime.now(UTC), source.name)
        self.mark: watermarks.Mark | None = None
        self.opened: DeltaTable | None = None
        self.keys_matched = False  # deletes ruled out by the keys' checksums alone
        self.new_columns: list[str] = []  # the source's columns bronze does not hold yet
        # New columns an incremental read fills: rows holding a value in them are read
        # whatever their cursor (the source filled them without touching write_date).
        self.filled: list[str] = []
        self.refilled = 0  # rows read for that alone
        # Columns bronze holds that a step listing its columns: no longer reads (dropped
        # at the source): each key's last value is carried on, never NULL over silver's.
        self.carried: list[str] = []

    def run(self) -> None:
        ctx = self.ctx
        ctx.progress.table = self.bronze
        if self._already_written():
            return
        # Bronze's log is read while the source's catalog and the watermark are.
        opening = _OPENER.submit(self._open_bronze)
        shape = self.source.shape(self.db, self.table)
        if shape.translated:
            self.languages = self._languages()
        names = {c.name for c in shape.columns}
        missing = [k for k in self.keys if k not in names]
        if missing:
            raise InvalidInputError(f"{shape.table} has no key column(s) {missing}")
        cursor = self.table.cursor if self.table.cursor in names else None
        # A timestamp cursor (write_date) is read again within the overlap window; an
        # integer one (cursor: id, an append-only table) from the last id on.
        self.int_cursor = cursor is not None and "INT" in shape.column(cursor).type.upper()
        mark = self.mark = watermarks.load(
            ctx.workbench, "extract", self.lake.name, self.bronze, self.source.name, shape.table
        )
        self.opened = opening.result()  # the version read is the one written to next
        exists = self.opened is not None
        if exists and self.table.columns is None:
            self._refuse_dropped(shape)
        elif exists:
            self.carried = self._gone(shape)
        if exists:
            self.new_columns = [c.name for c in shape.columns if c.name not in self._held()]
        since = self._since(mark) if mark is not None else None
        full = self.spec.mode == "full" or since is None or not exists or cursor is None
        if not full:
            self.filled = self.new_columns
        deletes = exists and self._deletes_due(mark, full)
        # A full read's watermark is the table's high water before it reads (rows written
        # meanwhile are read again next time); an incremental one's, what it read.
        high = (
            self.source.high_water(self.db, shape, cursor, self._int_key(shape)) if full else None
        )
        scan = None
        if self.opened is not None:
            scan = self.lake.scan_sql(self.bronze, self.opened.version())
        staged = None
        if full and not shape.by_company and (not exists or not deletes):
            staged = self._stream(shape, cursor, scan)
        elif deletes and not full and scan is not None and self._checksum_key(shape):
            # The cheap check first: the keys compared only if their checksums differ.
            staged = self._staged(shape, cursor, scan, since, False, verify=True)
            self.keys_matched = staged is not None
        read, written = staged or self._staged(
            shape, cursor, scan, None if full else since, deletes
        )
        value, top = high if high is not None else self._seen(cursor, mark)
        if self.int_cursor:  # the cursor is the id watermark
            value, top = None, value
        # A full read compares every key, as a delete check does.
        compared = deletes or full
        checked = (
            self.audit.extracted_at if compared else (mark.deletes_checked_at if mark else None)
        )
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, datetime.min.time())
        new_mark = watermarks.Mark(value, top, self._version_written(), checked)
        watermarks.save(
            ctx.workbench,
            "extract",
            self.lake.name,
            self.bronze,
            self.source.name,
            shape.table,
            new_mark,
            ctx.run_id,
            ctx.tables,
            (ctx.step_id, ctx.attempt),
        )
        extract_lineage(
            ctx, self.source, shape, self.lake, self.bronze, self.side, self.languages, self.keys
        )
        if self.carried:
            carried = ", ".join(self.carried)
            ctx.log(
                f"{self.bronze}: {carried} not read (not in the step's columns:): each key's "
                "last value is kept, new keys have none; to stop carrying them, %sql CREATE OR "
                f"REPLACE TABLE {self.bronze} PARTITIONED BY ({', '.join(q.PARTITIONS)}) AS "
                f"SELECT * EXCLUDE ({', '.join(qi(c) for c in self.carried)}) FROM {self.bronze}"
            )
        if self.new_columns and self._version_written() is not None:
            ctx.log(
                f"{self.bronze}: new column(s) {', '.join(self.new_columns)} added"
                + (
                    f"; {self.refilled} row(s) not changed since the last run hold a value "
                    "in them and were read again"
                    if self.filled
                    else ""
                )
            )
            columns_changed(ctx, self.lake.name, self.bronze)
        ctx.log(
            f"{shape.table} -> {self.bronze}: {'full' if full else 'incremental'}, "
            f"{read} row(s) read, {written} written"
            + (
                ", deletes looked for: the keys' checksums match (count, sum, squares)"
                if self.keys_matched
                else ", deletes compared"
                if deletes
                else ""
            )
            + (f"; watermark {value}" if value is not None else "")
        )
        ctx.stats.setdefault(self.bronze, {}).update(
            rows_read=read,
            rows_written=written,
            full=full,
            deletes_checked=deletes,
            keys_compared=deletes and not self.keys_matched,
        )

    # -- the two ways ------------------------------------------------------------------
    def _stream(self, shape: Shape, cursor: str | None, scan: str | None) -> tuple[int, int]:
        """Every source row straight into bronze (no staging: bounded memory)."""
        rows = self.source.rows(self.db, shape, cursor, None)
        known = None
        if scan is not None:
            self.db.execute(
                "CREATE OR REPLACE TEMP TABLE wb_known AS "
                + q.known_sql(self._files(scan) or scan, self.source.name, self.keys, cursor, None)
            )
            known = "wb_known"
        sql = q.upserts_sql(
            shape, self.languages, self.audit, rows, self.keys, known, cursor, False
        )
        written = self._append(self.bronze, sql)
        return written, written

    def _staged(
        self,
        shape: Shape,
        cursor: str | None,
        scan: str | None,
        since: Any,
        deletes: bool,
        verify: bool = False,
    ) -> tuple[int, int] | None:
        """Rows staged in DuckDB first (all, or those from ``since`` on), compared with
        bronze, then appended. ``verify``: nothing is appended (None) unless the keys
        bronze would then hold alive have the source's checksum (:meth:`_keys_match`)."""
        filled = self.filled if since is not None else []
        rows = self.source.rows(self.db, shape, cursor, since, filled)
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE wb_changed AS SELECT * FROM {rows}")
        if filled and cursor is not None:  # a source that cannot ask for them reads all
            older = f"{qi(cursor)} < {sql_literal(since)}"
            holds = q.filled_sql(filled, alias="wb_changed")
            self.db.execute(f"DELETE FROM wb_changed WHERE {older} AND NOT {holds}")
            self.refilled = self.db.execute(
                f"SELECT count(*) FROM wb_changed WHERE {older}"
            ).fetchone()[0]
        self.ctx.progress.check()
        # The source's keys are summed (after the rows were read) while bronze's side is
        # worked out here: the source's round trip is most of a no-change table's time.
        checksum = self._source_checksum_later(shape) if verify else None
        try:
            return self._staged_rows(shape, cursor, scan, since, deletes, checksum)
        finally:
            if checksum is not None:  # never left running on the source after this
                wait([checksum])

    def _staged_rows(
        self,
        shape: Shape,
        cursor: str | None,
        scan: str | None,
        since: Any,
        deletes: bool,
        checksum: Future | None,
    ) -> tuple[int, int] | None:
        """:meth:`_staged` once the rows read are in ``wb_changed``; ``checksum``: the
        source's, being summed (a verifying read)."""
        db = self.db
        full = since is None
        verify = checksum is not None
        no_key = " OR ".join(f"{qi(k)} IS NULL" for k in self.keys)
        read, keyless = db.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {no_key}) FROM wb_changed"
        ).fetchone()
        known = None
        created = self._created_column(shape, cursor) if not (full or deletes) else None
        if scan is not None and created is not None:
            out = self._by_creation(shape, cursor, created, scan, since)
        else:
            if scan is not None:
                within = None if deletes else "wb_changed"
                files = self._files(scan) or scan
                db.execute(
                    "CREATE OR REPLACE TEMP TABLE wb_known AS "
                    + q.known_sql(files, self.source.name, self.keys, cursor, within)
                )
                known = "wb_known"
            out = q.upserts_sql(
                shape, self.languages, self.audit, "wb_changed", self.keys, known, cursor,
                not full, self.filled if not full else (),
            )  # fmt: skip
        if keyless and not full and scan is not None:
            out = self._keyless_once(shape, out, scan, since, cursor, keyless)
        if deletes and known is not None:
            keys = self.source.keys(db, shape, self.keys)
            db.execute(f"CREATE OR REPLACE TEMP TABLE wb_keys AS SELECT * FROM {keys}")
            out += " UNION ALL BY NAME " + q.deletes_sql(self.audit, self.keys, known, "wb_keys")
        if not (deletes or shape.by_company) and read <= IN_MEMORY_ROWS:
            # A small read's bronze rows are made in memory in one statement: no staging
            # table to fill, count and read again (half of the DuckDB time of an
            # incremental run of 10,000 rows).
            try:
                made = db.execute(out).to_arrow_table()
            except duckdb.Error as exc:
                raise InvalidInputError(f"{self.bronze}: {_first_line(exc)}") from None
            self.ctx.progress.check()
            if verify:
                db.register("wb_made", made)
                try:
                    if not self._keys_match(shape, scan, "wb_made", checksum):
                        return None
                finally:
                    db.unregister("wb_made")
            return read, self._append(self.bronze, made) if made.num_rows or self.filled else 0
        # Staged, not streamed into the append: streaming this query (upserts and a
        # delete check over 1M keys) into the writer hung DuckDB 1.5.5 on the shared
        # database, idle, where staging it never has.
        db.execute(f"CREATE OR REPLACE TEMP TABLE wb_out AS {out}")
        self.ctx.progress.check()
        if verify and not self._keys_match(shape, scan, "wb_out", checksum):
            return None
        written = db.execute("SELECT count(*) FROM wb_out").fetchone()[0]
        # New columns no row holds a value in yet are still written (no rows, the schema
        # only): else bronze lacks them and every next run reads the source for them again.
        if written or self.filled:
            self._append(self.bronze, "SELECT * FROM wb_out")
            if shape.by_company:
                self._side(shape)
        return read, written

    def _keyless_once(
        self, shape: Shape, out: str, scan: str, since: Any, cursor: str | None, keyless: int
    ) -> str:
        """``out`` (an incremental read's bronze rows) less the rows with a NULL key that
        bronze already holds: no key tells such a row's versions apart, so it is the same
        row when every column holds the same value (NULLs alike). Without this, the
        overlap window read them again and bronze grew by them at every run (the merge
        leaves them out of silver). Only bronze's rows of this source with a NULL key and,
        for a timestamp cursor, a cursor value from ``since`` on are looked at."""
        held = set(self._held())
        columns = [c.name for c in shape.columns if c.name in held]
        ranges = None
        if cursor is not None and cursor in held and not self.int_cursor and since is not None:
            ranges = {cursor: (since, None)}
        files = self._files(scan, ranges)
        self.ctx.log(
            f"{shape.table}: {keyless} row(s) read with a NULL key "
            f"({', '.join(self.keys)}): appended once, when bronze has no row equal in "
            "every column; the merge leaves them out of silver"
        )
        if not files:
            return out
        cols = ", ".join(f"b.{qi(c)}" for c in columns)
        no_key = " OR ".join(f"b.{qi(k)} IS NULL" for k in self.keys)
        self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE wb_keyless AS SELECT DISTINCT {cols} FROM {files} b "
            f"WHERE b._source = {ql(self.source.name)} AND ({no_key})"
        )
        same = " AND ".join(f"o.{qi(c)} IS NOT DISTINCT FROM k.{qi(c)}" for c in columns)
        return (
            f"SELECT o.* FROM ({out}) o WHERE NOT EXISTS (SELECT 1 FROM wb_keyless k WHERE {same})"
        )

    def _by_creation(self, shape: Shape, cursor: str, created: str, scan: str, since: Any) -> str:
        """The bronze rows of an incremental read (staged in ``wb_changed``), told new or
        changed by their creation time (Odoo's ``create_date``) instead of looking every
        key up in bronze: only rows read again in the overlap window are compared with
        bronze (by key and cursor value, in bronze's files of that window), and only rows
        created inside it are looked up by key."""
        db, keys = self.db, ", ".join(qi(k) for k in self.keys)
        window = (sql_literal(since), sql_literal(self.mark.cursor_value))
        low, high = window
        # A row written (or created) at ``since`` or later can only be in bronze in the
        # files of runs that extracted it after that: the key lookup of rows created in
        # the window skips older runs' files (a full load's above all) instead of reading
        # every key bronze holds. A day's margin covers clocks apart and a cursor kept in
        # local time rather than UTC.
        recent = since - EXTRACTED_MARGIN
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE wb_again AS SELECT {keys}, {qi(cursor)} "
            f"FROM wb_changed WHERE {qi(cursor)} BETWEEN {low} AND {high}"
        )
        seen = None
        # Only bronze's files whose statistics overlap the window and the recent runs.
        bounds = {cursor: (since, _naive(self.mark.cursor_value)), q.EXTRACTED_AT: (recent, None)}
        files = self._files(scan, bounds)
        if files and db.execute("SELECT count(*) FROM wb_again").fetchone()[0]:
            db.execute(
                "CREATE OR REPLACE TEMP TABLE wb_seen AS "
                + q.seen_sql(files, self.source.name, self.keys, cursor, window, "wb_again", recent)
            )
            seen = "wb_seen"
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE wb_unsure AS SELECT {keys}, {qi(created)} IS NULL "
            f"AS _undated FROM wb_changed "
            f"WHERE {qi(created)} IS NULL OR {qi(created)} BETWEEN {low} AND {high}"
        )
        known = None
        unsure, undated = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE _undated) FROM wb_unsure"
        ).fetchone()
        if unsure:  # a row without a creation time may be in any run's files
            since_run = None if undated else recent
            files = self._files(scan, {q.EXTRACTED_AT: (since_run, None)}) or scan
            known_rows = q.known_sql(
                files, self.source.name, self.keys, cursor, "wb_unsure", since_run
            )
            db.execute(f"CREATE OR REPLACE TEMP TABLE wb_known AS {known_rows}")
            known = "wb_known"
        return q.created_upserts_sql(
            shape, self.languages, self.audit, "wb_changed", self.keys, cursor,
            (created, low, high), known, seen, self.filled,
        )  # fmt: skip

    def _checksum_key(self, shape: Shape) -> str | None:
        """The integer key whose checksum can stand for the keys (Odoo's ``id``), if the
        table has one and the source can sum its keys."""
        key = self._int_key(shape)
        return key if key and hasattr(self.source, "key_checksum") else None

    def _source_checksum_later(self, shape: Shape) -> Future | None:
        """The source's key checksum, asked now on a connection of its own (the step's
        goes on with bronze meanwhile); None if the table has no such key."""
        key = self._checksum_key(shape)
        if key is None:
            return None
        cursor = self.ctx.progress.watch(self.db.cursor())  # the same source attached

        def ask() -> tuple[int, int, int] | None:
            try:
                return self.source.key_checksum(cursor, shape, key)  # type: ignore[attr-defined]
            finally:
                cursor.close()

        return _OPENER.submit(ask)

    def _keys_match(self, shape: Shape, scan: str | None, rows: str, checksum: Future) -> bool:
        """Whether the keys bronze holds alive once ``rows`` (this run's bronze rows) are
        appended have the same checksum (count, sum, sum of squares modulo a prime) as
        the source's keys read now, after the rows: then no key was deleted. A key
        deleted and another inserted keep the count, not the sum; several deleted and as
        many inserted keep both only for contrived ids (Odoo's grow), and a change while
        this runs makes them differ: either way the keys are then compared one by one.
        Bronze's live keys are summed from its ``i`` (+1) and ``d`` (-1) rows, which
        alternate per key: no per-key lookup, and files of ``u`` rows only are skipped."""
        key = self._checksum_key(shape)
        if key is None or scan is None:
            return False
        before = self._live_keys(scan, key)
        added = self.db.execute(q.live_keys_sql(rows, None, key)).fetchone()
        source = checksum.result()
        after = tuple(int(a or 0) + int(b or 0) for a, b in zip(before, added, strict=True))
        return source is not None and after == tuple(source)

    def _live_keys(self, scan: str, key: str) -> tuple[Any, ...]:
        """The checksum of the keys alive in the bronze version opened (this source's),
        kept per worker by the table's id and version: a version's files never change,
        and a run that appends nothing finds the same version the next time (summing
        bronze's keys was a third of a no-change extract's time at 1M journal items)."""
        assert self.opened is not None
        known = (
            self.lake.location.root,
            self.bronze,
            self.opened.metadata().id,
            self.opened.version(),
            self.source.name,
            key,
        )
        found = _LIVE_KEYS.get(known)
        if found is None:
            files = self._files(scan, {"_op": ("d", "i")})
            found = (0, 0, 0)
            if files:
                found = tuple(
                    self.db.execute(q.live_keys_sql(files, self.source.name, key)).fetchone()
                )
            with _LIVE_KEYS_LOCK:
                if len(_LIVE_KEYS) >= LIVE_KEYS_KEPT:
                    _LIVE_KEYS.pop(next(iter(_LIVE_KEYS)))
                _LIVE_KEYS[known] = found
        return found

    def _created_column(self, shape: Shape, cursor: str | None) -> str | None:
        """The creation-time column an incremental read can tell new rows by (Odoo's
        ``create_date``), if the table has one besides its timestamp cursor and a
        watermark to compare it with."""
        column = shape.column(CREATED)
        if (
            cursor is None
            or cursor == CREATED
            or self.int_cursor
            or column is None
            or "TIMESTAMP" not in column.type.upper()
            or self.mark is None
            or not isinstance(self.mark.cursor_value, datetime)
        ):
            return None
        return CREATED

    def _side(self, shape: Shape) -> None:
        side_known = None
        if self.lake.exists(self.side):
            scan = self.lake.scan_sql(self.side, self.lake.version(self.side))
            self.db.execute(
                "CREATE OR REPLACE TEMP TABLE wb_side_known AS "
                + q.known_sql(scan, self.source.name, [*self.keys, "company_id"], None, None)
            )
            side_known = "wb_side_known"
        self._append(self.side, q.side_sql(shape, self.audit, self.keys, "wb_out", side_known))

    def _append(self, table: str, rows: str | pa.Table) -> int:
        """Append ``rows`` (a query's, or made already) to ``table`` in one commit; the
        rows written."""
        carry = table == self.bronze and bool(self.carried)
        registered = carry and isinstance(rows, pa.Table)
        if registered:
            self.db.register("wb_carry_in", rows)
            rows = "SELECT * FROM wb_carry_in"
        try:
            return self._append_now(table, self._carry(rows) if carry else rows)
        finally:
            if registered:
                self.db.unregister("wb_carry_in")

    def _append_now(self, table: str, rows: str | pa.Table) -> int:
        if isinstance(rows, pa.Table):
            data: pa.Table | pa.RecordBatchReader = rows
            self.ctx.progress.rows += rows.num_rows
        else:
            try:
                reader = self.db.execute(rows).to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as exc:
                raise InvalidInputError(f"{table}: {_first_line(exc)}") from None
            data = counted(reader, self.ctx.progress)
        try:
            result = self.lake.write(
                table,
                data,
                mode="append",
                partition_by=q.PARTITIONS,
                schema_mode="merge",  # a column the source gained is added
                writer=self.ctx.writer,
                opened=self.opened if table == self.bronze else None,
                stats_columns=self._stats_columns(),
            )
        except InvalidInputError as exc:
            raise self._retyped(table, data.schema) or exc from None
        self.ctx.wrote(self.lake, result)
        return int(result.rows_added or 0)

    # -- the source's columns changed ---------------------------------------------------
    def _refuse_dropped(self, shape: Shape) -> None:
        """Refuse a source that no longer has a column bronze holds: its rows would be
        written with the column NULL, and the merge would put NULL over silver's values.
        A step that lists its ``columns:`` has said which it reads, and goes on."""
        gone = self._gone(shape)
        if not gone:
            return
        name = self.table.table or self.table.model
        kept = ", ".join(c.name for c in shape.columns)
        raise InvalidInputError(
            f"{shape.table} no longer has the column(s) {', '.join(gone)} that "
            f"{self.bronze} holds: extracted on, they would be NULL from now on and the merge "
            "would write NULL over silver's values. If the source dropped them on purpose, "
            f"list the columns to extract without them ({{table: {name}, columns: [{kept}]}}"
            " in the step's tables:): bronze and silver keep the values they had; if not, "
            "restore them at the source; then run the step again"
        )

    def _gone(self, shape: Shape) -> list[str]:
        """The columns bronze holds that the source's rows as read lack (bookkeeping and
        the per-language text of translated columns aside)."""
        now = {c.name for c in shape.columns}
        derived = tuple(f"{c.name}_" for c in shape.translated)  # name_fr_fr, per language
        bookkeeping = {*q.AUDIT, "_lsn", "_committed_at"}
        return [
            n
            for n in self._held()
            if n not in now and n not in bookkeeping and not (derived and n.startswith(derived))
        ]

    def _carry(self, rows: str) -> str:
        """``rows`` (bronze rows about to be appended) with the columns bronze carries:
        each key's last value in bronze (none for a new key)."""
        assert self.opened is not None
        scan = self._files(self.lake.scan_sql(self.bronze, self.opened.version()))
        return q.carried_sql(
            self.db, "wb_carry", scan, self.source.name, self.keys, self.carried, rows
        )

    def _held(self) -> list[str]:
        """The columns of bronze as opened."""
        assert self.opened is not None
        return pa.schema(self.opened.schema().to_arrow()).names

    def _retyped(self, table: str, given: pa.Schema) -> Exception | None:
        """Columns whose type the source changed (``ALTER COLUMN ... TYPE``) that bronze
        holds in their old type, said with the way on; None when that is not why a write
        failed. Nothing was written, and the watermark did not move: after the rebuild
        the step reads the changed rows again."""
        try:
            held = pa.schema(self.lake.open(table).schema().to_arrow())
        except Exception:
            return None
        changed = [
            (f.name, held.field(f.name).type, f.type)
            for f in given
            if f.name in held.names and held.field(f.name).type != f.type
        ]
        if not changed:
            return None
        casts = ", ".join(
            f"CAST({qi(n)} AS {q.duck_type(new)}) AS {qi(n)}" for n, _, new in changed
        )
        said = ", ".join(
            f"{n} ({q.duck_type(old)} in bronze, {q.duck_type(new)} now)" for n, old, new in changed
        )
        return InvalidInputError(
            f"{table}: the source changed the type of {said}, and a table holds one type "
            f"per column (nothing is rounded or cut to fit); rebuild bronze in the new type, "
            f"e.g. %sql CREATE OR REPLACE TABLE {table} PARTITIONED BY "
            f"({', '.join(q.PARTITIONS)}) AS SELECT * REPLACE ({casts}) FROM {table}, then "
            "run the step again (the merge then says how to change silver's column)"
        )

    # -- bookkeeping -------------------------------------------------------------------
    def _files(self, scan: str, ranges: dict[str, tuple[Any, Any]] | None = None) -> str:
        """Bronze's files (of the version opened) that can hold this source's rows with
        values within ``ranges``, by the partitions and statistics in its log, as one
        scan (no second read of the log); ``scan`` if they cannot be read as plain
        Parquet; "" if no file can hold such rows."""
        assert self.opened is not None
        found = self.lake.files_sql(
            self.bronze, self.opened, equal={"_source": self.source.name}, ranges=ranges
        )
        return scan if found is None else found

    def _stats_columns(self) -> list[str]:
        """The columns whose range each bronze file records: the keys, the cursor, the
        creation time and the audit columns the lookups above skip files by."""
        return [*self.keys, self.table.cursor, CREATED, q.EXTRACTED_AT, "_op"]

    def _open_bronze(self) -> DeltaTable | None:
        return self.lake.open(self.bronze) if self.lake.exists(self.bronze) else None

    def _already_written(self) -> bool:
        """Whether an earlier attempt of this run wrote the table (its end was lost):
        recorded, and not written twice."""
        if self.ctx.attempt == 1 or not self.lake.exists(self.bronze):
            return False  # a first attempt has no earlier one
        done = self.lake.written_by(self.bronze, self.ctx.run_id, self.ctx.step_id)
        if not done:
            return False
        self.ctx.wrote(self.lake, as_result(self.bronze, done[0]))
        if self.lake.exists(self.side):
            for side in self.lake.written_by(self.side, self.ctx.run_id, self.ctx.step_id)[:1]:
                self.ctx.wrote(self.lake, as_result(self.side, side))
        watermarks.record_all(
            self.ctx.workbench, self.ctx.run_id, self.ctx.step_id, self.ctx.attempt, self.ctx.tables
        )
        self.ctx.log(f"{self.bronze}: written by an earlier attempt of this run (version "
                     f"{done[0].version}); not read again")  # fmt: skip
        return True

    def _deletes_due(self, mark: watermarks.Mark | None, full: bool) -> bool:
        schedule = self.spec.deletes
        if schedule == "never":
            return False
        if full or schedule == "every run" or mark is None or mark.deletes_checked_at is None:
            return True
        from ..spec_types import parse_duration

        every = parse_duration(schedule.split(None, 1)[1])
        return self.audit.extracted_at - mark.deletes_checked_at >= every

    def _int_key(self, shape: Shape) -> str | None:
        column = shape.column(self.keys[0]) if len(self.keys) == 1 else None
        return column.name if column and "INT" in column.type.upper() else None

    def _since(self, mark: watermarks.Mark) -> Any:
        """Where an incremental read starts: the watermark less the overlap window, or
        the last id of an integer cursor (None: no watermark yet)."""
        if self.int_cursor:
            return mark.cursor_id
        if mark.cursor_value is None:
            return None
        return mark.cursor_value.replace(tzinfo=None) - self.spec.overlap

    def _seen(self, cursor: str | None, mark: watermarks.Mark | None) -> tuple[Any, int | None]:
        """The largest cursor value and id among the rows read (the old mark if none)."""
        parts = [f"max({qi(cursor)})" if cursor else "NULL", f"max({qi(self.keys[0])})"]
        value, top = self.db.execute(f"SELECT {', '.join(parts)} FROM wb_changed").fetchone()
        if value is None and mark is not None:
            value = mark.cursor_id if self.int_cursor else mark.cursor_value
        if mark is not None and mark.cursor_id is not None:
            top = max(int(top), mark.cursor_id) if isinstance(top, int) else mark.cursor_id
        return value, top if isinstance(top, int) else None

    def _version_written(self) -> int | None:
        for access in reversed(self.ctx.tables):
            if access.table == self.bronze and access.access == "write":
                return access.version
        return None


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
