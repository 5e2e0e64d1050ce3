"""``mode: cdc`` of the extract step: PostgreSQL's logical replication into bronze.

Why a mode of the extract step rather than a service of its own: the step already runs
on the workers as a Temporal activity that heartbeats, is retried after a crash (its
heartbeat stops) or a timeout, runs as the pipeline's owner with their connection and
the network policy, records every version it wrote in the run history and lineage, and
can be scheduled (``schedule:``) or kept streaming (``follow: 8h`` with a longer
``timeout:``). What makes a restart exact lives in the lake, not in the worker.

The workbench makes, per source, pipeline and step, a publication of the step's tables
and a replication slot with the built-in ``pgoutput`` plugin, both named
``wb_<source>_<pipeline>_<step>`` (:func:`slot_name`). psycopg2's
``LogicalReplicationConnection`` speaks the replication protocol (psycopg 3 has none);
:mod:`.pgoutput` decodes its messages.

- **Snapshot, then the stream.** The first run creates the slot with an exported
  snapshot and copies every table as of that snapshot (DuckDB's postgres scanner, as
  a full extract reads, in a transaction that adopts it), so the stream starts exactly
  where the copy ends.
  Its rows carry the slot's consistent point as ``_lsn``.
- **Micro-batches.** Whole transactions are buffered and written per table as one Delta
  append every ``batch_rows`` changes or ``batch_seconds``, in bronze's layout (audit
  columns, partitions by source, company and extraction date), with ``_op`` (``i``,
  ``u``, ``d``), ``_lsn`` (the end of the transaction's commit record, as a number) and
  ``_committed_at``. Each change's ``_extracted_at`` is a microsecond after the one
  before, so the merge step's "latest by ``_extracted_at``" orders a key's changes as
  they were committed.
- **Exactly once by LSN.** The slot is acknowledged (flush LSN) only after a batch's
  commits are in the lake. On start, each table's last LSN is read from bronze itself
  (``max(_lsn)`` of the source's rows: the rows and their LSN are committed together),
  and a transaction already there is skipped: a kill -9 between the lake's commit and
  the acknowledgement writes nothing twice, one before the commit loses nothing.
- Values arrive as text and are cast in DuckDB to exactly the types the extract gives
  (the scanner's description of the same select: ``numeric(p,s)`` DECIMAL(p,s),
  unconstrained ``numeric`` DECIMAL(38,10)). An unchanged TOASTed value (``u``) takes
  the key's previous value, from the batch or from bronze. A deleted row has its key
  columns (REPLICA IDENTITY DEFAULT, Odoo's primary keys) and NULLs. A Relation message
  with new columns gets them described and added (``schema_mode="merge"``), and the rows
  holding a value in them read once (:meth:`CdcExtract._fill`: a default writes no
  change to stream); a column bronze holds that the source no longer sends (dropped)
  keeps each key's last value, as an unchanged TOASTed one does, never NULL over
  silver's.
"""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from workbench_server.connections.replication import slot_name
from workbench_server.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from . import extract_sql as q
from . import pgoutput, watermarks
from .cdc_batch import MOVED, Table, bronze_rows, first_line
from .changes import announce, changes_of
from .lineage import extract_lineage
from .postgres import PostgresSource
from .streams import counted

if TYPE_CHECKING:
    from workbench_server.lake import Lake

    from ..spec_steps import ExtractStep
    from .context import StepContext

KIND = "cdc"  # the watermarks' kind
_INSERT, _UPDATE, _DELETE, _NEW = (ord(c) for c in "IUDN")
IDLE_S = 0.25  # no message this long: ask the server where its WAL is
DRAINED_S = 1.0  # nothing sent nor moved on this long (asked twice): caught up
CDC_COLUMNS = ("_lsn", "_committed_at")
COPY_BATCH_ROWS = 64 * 1024  # rows per Arrow batch of a snapshot copy (as the extract)


def libpq_of(ctx: StepContext, name: str) -> dict[str, Any]:
    """libpq settings of the owner's connection ``name`` (a PostgreSQL database)."""
    from workbench_server.connections.kinds import PostgresConfig, SqlAlchemyConfig

    cfg = ctx.connection(name)
    if isinstance(cfg, PostgresConfig):
        return cfg.psycopg_kwargs("workbench-cdc", 30)
    if isinstance(cfg, SqlAlchemyConfig):
        from sqlalchemy.engine import make_url

        from .postgres import libpq_kwargs

        url = make_url(cfg.url)
        if url.get_backend_name() == "postgresql":
            return {**libpq_kwargs(url, cfg), "application_name": "workbench-cdc"}
    raise InvalidInputError(
        f"connection {name!r} is a {cfg.kind} connection: mode cdc reads PostgreSQL's logical "
        "replication (a postgres connection)"
    )


class CdcExtract:
    """One attempt of a cdc extract step."""

    def __init__(
        self, ctx: StepContext, spec: ExtractStep, lake: Lake, db: duckdb.DuckDBPyConnection
    ) -> None:
        self.ctx, self.spec, self.lake, self.db = ctx, spec, lake, db
        self.kwargs = libpq_of(ctx, spec.source)
        self.name = slot_name(spec.source, ctx.pipeline, ctx.step_id)
        self.source = PostgresSource.attach(spec.source, self.kwargs, db)
        self.tables: dict[str, Table] = {}  # by schema.relation
        self.by_oid: dict[int, pgoutput.Relation] = {}
        self.layouts: dict[int, tuple[str, ...]] = {}  # a relation's column names
        self.table_of: dict[int, Table | None] = {}  # None: a table not replicated here
        self.last_at = datetime.now(UTC)  # the last _extracted_at given
        self.pending = 0
        self.written = 0
        self.skipped = 0

    # -- the run ---------------------------------------------------------------------
    def run(self) -> None:
        self.ctx.announced = True  # batch by batch, the snapshot copy as one
        caught_up = False
        try:
            self._shapes()
            self._identities()
            created = self._publication()
            slot = self._slot()
            if slot is None:
                try:
                    self._create_and_snapshot()
                except InvalidInputError:  # e.g. wal_level: leave the source as it was
                    if created:
                        self._drop_publication()
                    raise
            else:
                missing = [t.bronze for t in self.tables.values() if t.mark is None]
                backlog = self._backlog() if self.spec.catchup_copy_mb else 0
                if not missing and backlog > (self.spec.catchup_copy_mb or 0) * 2**20:
                    # A large backlog: copying the tables as of a new snapshot is faster
                    # than decoding each change. Their marks go first, so a copy cut
                    # short is made again by the next run (the "missing" case below).
                    self.ctx.log(
                        f"cdc {self.name}: {backlog / 2**20:.0f} MB of WAL behind, more "
                        f"than catchup_copy_mb ({self.spec.catchup_copy_mb}): caught up by "
                        "copying the tables again as of a new snapshot"
                    )
                    for table in self.tables.values():
                        watermarks.forget(
                            self.ctx.workbench, KIND, self.lake.name, table.bronze,
                            self.spec.source, table.shape.table,
                        )  # fmt: skip
                        table.mark = None
                    with self._sql() as conn:
                        conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))
                    self._create_and_snapshot()
                    caught_up = self.spec.follow is None
                elif missing:
                    # A table new to the step, or a first copy that did not finish: the
                    # slot streams only from where it stands, so it is made again with a
                    # new snapshot and every table copied again, compared with bronze (what
                    # changed meanwhile becomes u and d rows; silver ends up the same).
                    self.ctx.log(
                        f"cdc {self.name}: {', '.join(missing)} not copied yet: the slot is "
                        "made again and every table copied as of its snapshot"
                    )
                    with self._sql() as conn:
                        conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))
                    self._create_and_snapshot()
            if not caught_up:
                # (After a catch-up copy, unless following: the copy is as of a snapshot
                # taken after the run started, which is all a run that does not follow
                # reads; the next run streams from there.)
                self._stream()
        finally:
            self.source.close()
        for table in self.tables.values():
            extract_lineage(
                self.ctx, self.source, table.shape, self.lake, table.bronze,
                table.bronze + q.SIDE_SUFFIX, table.languages, table.keys,
            )  # fmt: skip
        self.ctx.log(
            f"cdc {self.name}: {self.written} change(s) written, {self.skipped} already in "
            "the lake skipped"
        )

    def _shapes(self) -> None:
        languages: list[str] | None = self.spec.languages
        for spec in self.spec.tables:
            try:
                shape = self.source.shape(self.db, spec)
            except NotFoundError as exc:  # e.g. dropped since the last run
                raise NotFoundError(
                    f"{exc}: if it was dropped, remove it from the step's tables; the others "
                    "go on from where they stopped"
                ) from None
            if shape.by_company:
                raise InvalidInputError(
                    f"{shape.table}: company-dependent fields ("
                    f"{', '.join(c.name for c in shape.by_company)}) are not replicated yet; "
                    "list the other columns (columns:) or use mode incremental"
                )
            if shape.translated and languages is None:
                languages = self.source.languages(self.db)
            missing = [k for k in spec.keys if shape.column(k) is None]
            if missing:
                raise InvalidInputError(f"{shape.table} has no key column(s) {missing}")
            shape.sql = shape.extra["select"]
            table = Table(spec, shape, list(spec.keys), languages if shape.translated else [])
            table.mark = watermarks.load(
                self.ctx.workbench, KIND, self.lake.name, spec.bronze, self.spec.source, shape.table
            )
            table.done = self._done(table)
            held = self._held(table)
            self._carry(table, held)
            if held is not None and table.mark is not None:  # added while no run streamed
                table.fill = [c.name for c in shape.columns if c.name not in held.names]
            self.tables[shape.table] = table

    def _held(self, table: Table) -> pa.Schema | None:
        """Bronze's columns (None: no bronze yet)."""
        if not self.lake.exists(table.bronze):
            return None
        return pa.schema(self.lake.open(table.bronze).schema().to_arrow())

    def _carry(self, table: Table, held: pa.Schema | None, sent: set[str] | None = None) -> None:
        """Carry the columns bronze holds that the source no longer has (``held``: bronze's
        columns; ``sent``: a Relation message's, mid-stream): each change then keeps its
        key's value before instead of NULL, which the merge would write over silver's
        values. Said in the step's log, with how to stop carrying them."""
        from .sources import Column

        have = {c.name for c in table.shape.columns} | {c.name for c in table.carried}
        if sent is not None:  # mid-stream: the shape's columns the source sends no more
            gone = [c for c in table.shape.columns if c.name not in sent]
            table.shape.columns = [c for c in table.shape.columns if c.name in sent]
        else:
            derived = tuple(f"{c.name}_" for c in table.shape.translated)
            bookkeeping = {*q.AUDIT, *CDC_COLUMNS}
            gone = [
                Column(f.name, q.duck_type(f.type))
                for f in held or []
                if f.name not in have
                and f.name not in bookkeeping
                and not (derived and f.name.startswith(derived))
            ]
        if not gone:
            return
        table.carried.extend(gone)
        names = ", ".join(c.name for c in gone)
        excluded = ", ".join(qi(c.name) for c in table.carried)
        self.ctx.log(
            f"{table.shape.table}: column(s) {names} no longer sent (dropped at the source, or "
            f"not in the step's columns:); {table.bronze} keeps each key's last value for them "
            "(new keys have none), so silver keeps its values. To stop carrying them: %sql "
            f"CREATE OR REPLACE TABLE {table.bronze} PARTITIONED BY "
            f"({', '.join(q.PARTITIONS)}) AS SELECT * EXCLUDE ({excluded}) FROM {table.bronze}"
        )

    def _identities(self) -> None:
        """Refuse, before anything is published, a table whose changes PostgreSQL could
        not send with their keys: a published table without a replica identity (no
        primary key, or ``REPLICA IDENTITY NOTHING``) gets its UPDATEs and DELETEs
        refused in the application, and a delete sends only the identity's columns."""
        with self._sql() as conn:
            for name, table in self.tables.items():
                schema, relation = name.split(".", 1)
                row = conn.execute(
                    "SELECT c.relreplident::text, (SELECT array_agg(a.attname::text ORDER BY "
                    "a.attnum) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND CASE "
                    "c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident "
                    "ELSE false END) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s",
                    (schema, relation),
                ).fetchone()
                if row is None or row[0] == "f":  # FULL: every column, any key
                    continue
                identity = list(row[1] or [])
                quoted = f"{qi(schema)}.{qi(relation)}"
                if not identity:
                    raise InvalidInputError(
                        f"{name} has no primary key (nor another replica identity): published, "
                        "PostgreSQL would refuse its UPDATEs and DELETEs and a delete could "
                        "not name its row; give it a primary key, or have its owner run "
                        f"ALTER TABLE {quoted} REPLICA IDENTITY FULL (or use mode: incremental)"
                    )
                if not set(table.keys) <= set(identity):
                    raise InvalidInputError(
                        f"{name}: the step's keys {table.keys} are not within its replica "
                        f"identity {identity}, the only columns a delete sends; use keys: "
                        f"{identity}, or have its owner run ALTER TABLE {quoted} REPLICA "
                        "IDENTITY FULL"
                    )

    def _done(self, table: Table) -> int:
        """The last LSN of this source's changes in bronze (0: none)."""
        if not self.lake.exists(table.bronze):
            return 0
        scan = self.lake.scan_sql(table.bronze, self.lake.version(table.bronze))
        columns = {r[0] for r in self.db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        if "_lsn" not in columns:
            return 0
        (found,) = self.db.execute(
            f"SELECT max(_lsn) FROM {scan} WHERE _source = {ql(self.spec.source)}"
        ).fetchone()
        return int(found or 0)

    # -- publication and slot ----------------------------------------------------------
    def _sql(self):
        import psycopg

        try:
            return psycopg.connect(**self.kwargs, autocommit=True)
        except psycopg.OperationalError as exc:
            raise SourceUnavailableError(f"connection {self.spec.source!r}: {exc}") from None

    def _drop_publication(self) -> None:
        from psycopg import sql

        with self._sql() as conn:
            conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(self.name)))

    def _publication(self) -> bool:
        """Make the step's publication, or make it list the step's tables; whether it was
        made now."""
        import psycopg
        from psycopg import sql

        wanted = sorted(self.tables)
        tables = sql.SQL(", ").join(
            sql.Identifier(*name.split(".", 1)) for name in wanted
        )  # schema.relation
        with self._sql() as conn:
            try:
                found = conn.execute(
                    "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                    "WHERE pubname = %s",
                    (self.name,),
                ).fetchall()
                exists = conn.execute(
                    "SELECT 1 FROM pg_publication WHERE pubname = %s", (self.name,)
                ).fetchone()
                if not exists:
                    conn.execute(
                        sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                            sql.Identifier(self.name), tables
                        )
                    )
                    return True
                elif sorted(r[0] for r in found) != wanted:
                    conn.execute(
                        sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(
                            sql.Identifier(self.name), tables
                        )
                    )
            except psycopg.errors.InsufficientPrivilege as exc:
                raise InvalidInputError(
                    f"connection {self.spec.source!r} may not publish its tables ({exc}); "
                    "the connection's role must own them (or a superuser creates the "
                    f"publication {self.name}); workbench doctor --cdc "
                    f"{self.spec.source} says what else is missing"
                ) from None
        return False

    def _slot(self) -> int | None:
        with self._sql() as conn:
            row = conn.execute(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                "WHERE slot_name = %s AND database = current_database()",
                (self.name,),
            ).fetchone()
        return None if row is None else pgoutput.parse_lsn(row[0] or "0/0")

    def _backlog(self) -> int:
        """Bytes of WAL the slot has not had acknowledged."""
        with self._sql() as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s AND database = current_database()",
                (self.name,),
            ).fetchone()
        return int(row[0] or 0) if row else 0

    def _replication(self):
        import psycopg2
        from psycopg2.extras import LogicalReplicationConnection

        kwargs = {k: v for k, v in self.kwargs.items() if v is not None}
        try:
            return psycopg2.connect(connection_factory=LogicalReplicationConnection, **kwargs)
        except psycopg2.OperationalError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceUnavailableError(
                f"connection {self.spec.source!r}: no replication connection: {text}; "
                f"workbench doctor --cdc {self.spec.source} says what to change"
            ) from None

    def _create_and_snapshot(self) -> None:
        """Create the slot exporting its snapshot, copy every table as of it (the
        replication connection stays open meanwhile, which keeps the snapshot)."""
        import psycopg2

        replication = self._replication()
        try:
            cur = replication.cursor()
            try:
                cur.execute(
                    f"CREATE_REPLICATION_SLOT {qi(self.name)} LOGICAL pgoutput EXPORT_SNAPSHOT"
                )
            except psycopg2.Error as exc:
                raise InvalidInputError(
                    f"connection {self.spec.source!r}: the slot {self.name} cannot be created "
                    f"({str(exc).strip().splitlines()[0]}); workbench doctor --cdc "
                    f"{self.spec.source} says what to change"
                ) from None
            _, consistent, snapshot, _ = cur.fetchone()
            point = pgoutput.parse_lsn(consistent)
            self.ctx.log(f"cdc {self.name}: slot created at {consistent}, copying the tables")
            # The copy through DuckDB's postgres scanner, as a full extract reads (binary
            # COPY decoded in C++, typed as the extract types): within one DuckDB
            # transaction the scanner keeps one PostgreSQL transaction on one connection,
            # and that transaction adopts the slot's snapshot before its first query.
            known = self._versions()
            self.db.execute("BEGIN TRANSACTION")
            try:
                adopt = f"SET TRANSACTION SNAPSHOT {ql(snapshot)}"
                try:
                    self.db.execute(f"CALL postgres_execute({ql(self.source.alias)}, {ql(adopt)})")
                except duckdb.Error as exc:
                    raise SourceUnavailableError(
                        f"connection {self.spec.source!r}: the slot's snapshot could not be "
                        f"adopted: {first_line(exc)}"
                    ) from None
                for table in self.tables.values():
                    self.ctx.progress.check()
                    self._copy(table, point)
            finally:
                self.db.execute("ROLLBACK")  # read only: nothing to keep
            self._announce(known)
        finally:
            replication.close()

    def _copy(self, table: Table, point: int, where: str | None = None) -> None:
        """``table`` as of the snapshot the open DuckDB transaction's PostgreSQL
        transaction adopted, into bronze in one append (``_lsn`` the slot's start);
        ``where``: only its rows matching that, as they are now (no deletes looked for)."""
        shape = table.shape
        select = shape.extra["select"] + (f" WHERE {where}" if where else "")
        rows = self.source.query(select)
        audit = q.Audit(self.ctx.run_id, self._stamp(), self.spec.source)
        known = None
        out = ""
        if self.lake.exists(table.bronze):  # again after the slot was dropped: i, u and d
            scan = self.lake.scan_sql(table.bronze, self.lake.version(table.bronze))
            self.db.execute(
                "CREATE OR REPLACE TEMP TABLE wb_cdc_known AS "
                + q.known_sql(scan, self.spec.source, table.keys, None, None)
            )
            (any_known,) = self.db.execute("SELECT count(*) > 0 FROM wb_cdc_known").fetchone()
            if any_known:  # (none: every row is new, as in a first copy)
                # Staged: read twice (the rows, their keys), and streaming the
                # comparison with bronze into the writer hung DuckDB 1.5.5 (see the
                # extract's _staged).
                self.db.execute(f"CREATE OR REPLACE TEMP TABLE wb_cdc_snap AS SELECT * FROM {rows}")
                rows, known = "wb_cdc_snap", "wb_cdc_known"
                keys = ", ".join(qi(k) for k in table.keys)
                if where is None:
                    self.db.execute(
                        f"CREATE OR REPLACE TEMP TABLE wb_cdc_keys AS SELECT {keys} FROM {rows}"
                    )
                    deletes = q.deletes_sql(audit, table.keys, known, "wb_cdc_keys")
                    out = " UNION ALL BY NAME " + deletes
        upserts = q.upserts_sql(shape, table.languages, audit, rows, table.keys, known, None, False)
        if known is not None and table.carried:  # each key's last value in bronze
            upserts = self._carried_sql(table, upserts)
        final = (
            f"SELECT *, CAST({point} AS BIGINT) AS _lsn, NULL::TIMESTAMPTZ AS _committed_at "
            f"FROM ({upserts}{out})"
        )
        if known is not None:
            self.db.execute(f"CREATE OR REPLACE TEMP TABLE wb_cdc_out AS {final}")
            final = "SELECT * FROM wb_cdc_out"
        try:
            reader = self.db.execute(final).to_arrow_reader(COPY_BATCH_ROWS)
        except duckdb.Error as exc:
            raise SourceUnavailableError(f"{shape.table}: {first_line(exc)}") from None
        written = self._append(table, counted(reader, self.ctx.progress))
        table.done = point
        self._save(table, point)
        if where is None:
            self.ctx.log(f"{shape.table} -> {table.bronze}: snapshot, {written} row(s)")
        table.fill = []  # every column read

    def _fill(self, table: Table) -> None:
        """The rows holding a value in the table's new columns, read as they are now and
        appended after everything streamed before (``_lsn`` one past bronze's last, where
        no commit can end): rows the source filled without a change to stream (a
        column's default, a table rewrite) get their values too. A change streamed after
        this that was made before (the same key, older) is followed by the key's later
        ones, and one made before the column was added keeps the value read here (see
        bronze_rows): once the stream has passed this read, silver is the source's."""
        names = table.fill
        where = " OR ".join(f"{qi(n)} IS NOT NULL" for n in names)
        before = self.ctx.progress.rows
        self._copy(table, table.done + 1, where)
        self.ctx.log(
            f"{table.shape.table}: new column(s) {', '.join(names)}: "
            f"{self.ctx.progress.rows - before} row(s) holding a value in them read into "
            f"{table.bronze}"
        )

    def _carried_sql(self, table: Table, upserts: str) -> str:
        """``upserts`` (a copy's rows) with the columns bronze carries (see :meth:`_carry`):
        each key's last value in bronze."""
        scan = self.lake.scan_sql(table.bronze, self.lake.version(table.bronze))
        carried = [c.name for c in table.carried]
        return q.carried_sql(
            self.db, "wb_cdc_carry", scan, self.spec.source, table.keys, carried, upserts
        )

    # -- the stream --------------------------------------------------------------------
    def _stream(self) -> None:
        import psycopg2

        with self._sql() as conn:
            (target,) = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        target_lsn = pgoutput.parse_lsn(target)
        follow = self.spec.follow
        until = time.monotonic() + follow.total_seconds() if follow is not None else None
        replication = self._replication()
        try:
            cur = replication.cursor()
            try:
                cur.start_replication(
                    slot_name=self.name,
                    decode=False,
                    options={"proto_version": "1", "publication_names": self.name},
                )
            except psycopg2.Error as exc:
                raise SourceUnavailableError(
                    f"slot {self.name}: {str(exc).strip().splitlines()[0]}"
                ) from None
            self._consume(cur, target_lsn, until)
        finally:
            replication.close()
        # New columns of tables no change of this run was written for.
        known = self._versions()
        for table in self.tables.values():
            if table.fill:
                self._fill(table)
        self._announce(known)

    def _consume(self, cur, target: int, until: float | None) -> None:
        """Read the slot until caught up with ``target`` (or, following, until
        ``until``), committing micro-batches to the lake and acknowledging each after."""
        spec, progress = self.spec, self.ctx.progress
        # The open transaction's changes, in parallel lists: no object per change that
        # the garbage collector would walk again and again (a catch-up holds many).
        txn = _Changes()
        in_txn = False
        begun: pgoutput.Begin | None = None
        acked = last_end = kept_alive = 0
        first_pending = 0.0
        last_message = asked_at = moved_at = time.monotonic()
        asked: int | None = None  # wal_end when a keepalive was asked for
        asks = 0  # keepalives asked for since the server last sent or moved on
        while True:
            progress.check()
            message = cur.read_message()
            now = time.monotonic()
            if message is not None:
                last_message = moved_at = now
                asked, asks = None, 0
                payload = message.payload
                fast = self._fast(payload) if in_txn else None
                if fast is not None:  # a change, its values decoded with its batch's
                    if fast[0] is not None:
                        txn.add(*fast)
                    continue
                decoded = pgoutput.decode(payload)
                if isinstance(decoded, pgoutput.Begin):
                    txn, begun, in_txn = _Changes(), decoded, True
                elif isinstance(decoded, pgoutput.Relation):
                    self._relation(decoded)
                elif isinstance(decoded, pgoutput.Change) and in_txn:
                    for change in self._rows(decoded):
                        txn.add(*change)
                elif isinstance(decoded, pgoutput.Truncate):
                    self.ctx.log(
                        f"cdc {self.name}: a TRUNCATE of {len(decoded.relations)} table(s) was "
                        "not applied (compare keys with a full extract)"
                    )
                elif isinstance(decoded, pgoutput.Commit) and in_txn:
                    end = last_end = decoded.end_lsn
                    committed = begun.committed_at if begun else decoded.committed_at
                    for table, op, layout, values in zip(
                        txn.tables, txn.ops, txn.layouts, txn.values, strict=True
                    ):
                        if end <= table.done:
                            self.skipped += 1  # in the lake already (a restart)
                            continue
                        table.add(layout, values, op, end, committed)
                        if not self.pending:
                            first_pending = now
                        self.pending += 1
                    txn, begun, in_txn = _Changes(), None, False
                    if self.pending >= spec.batch_rows or (
                        self.pending and now - first_pending >= spec.batch_seconds
                    ):
                        self._flush(cur, last_end)
                        acked = last_end
                continue
            # Nothing to read now.
            idle = now - last_message >= IDLE_S
            ending = until is not None and now >= until
            if self.pending and (idle or ending or now - first_pending >= spec.batch_seconds):
                self._flush(cur, last_end)
                acked = last_end
            if asked is not None and (cur.wal_end or 0) != asked:
                # The keepalive asked for: how far the server has sent (every transaction
                # committed before it was sent, and none came since it was asked for).
                kept_alive, asked = max(kept_alive, cur.wal_end or 0), None
                moved_at, asks = now, 0
            if not in_txn and not self.pending:
                position = max(last_end, kept_alive)
                if position > acked:  # nothing unwritten before it: the slot may move on
                    cur.send_feedback(flush_lsn=position, write_lsn=position, force=True)
                    acked = position
                # Caught up: past the WAL written before the run, or the server has had
                # nothing to send for a while (its position stays short of that target
                # until it writes another record, which may take 15 s).
                drained = now - moved_at >= DRAINED_S and asks >= 2
                if (until is None and (position >= target or drained)) or ending:
                    return
            elif until is not None and now >= until + 60:
                return  # a transaction still arriving a minute past the end: the next run
            if idle and (asked is None or now - asked_at > 2 * IDLE_S):
                # A keepalive back, with the server's position.
                cur.send_feedback(reply=True, force=True)
                asked, asked_at, asks = cur.wal_end or 0, now, asks + 1
            select.select([cur], [], [], 0.05 if self.pending or in_txn else IDLE_S)

    def _fast(self, payload: bytes):
        """An insert, an update that kept its key, or a delete of a known relation, with
        its tuple left undecoded (``(None, ...)`` for a table not replicated here); None
        for any other message."""
        kind = payload[0]
        if kind == _INSERT or kind == _DELETE or (kind == _UPDATE and payload[5] == _NEW):
            oid = int.from_bytes(payload[1:5], "big")
            if oid not in self.layouts:
                return None  # decoded, and refused, the slow way
            op = "i" if kind == _INSERT else "d" if kind == _DELETE else "u"
            table = self.table_of[oid]
            return (table, op, self.layouts[oid], payload)  # its tuple from byte 6 on
        return None

    def _relation(self, relation: pgoutput.Relation) -> None:
        self.by_oid[relation.oid] = relation
        self.layouts[relation.oid] = tuple(c.name for c in relation.columns)
        table = self.tables.get(relation.qualified)
        self.table_of[relation.oid] = table
        if table is None:
            return
        sent = {c.name for c in relation.columns}
        if any(c.name not in sent for c in table.shape.columns):  # a column was dropped
            self._carry(table, None, sent)
        if table.spec.columns:
            return
        known = {c.name for c in table.shape.columns} | {c.name for c in table.carried}
        added = [c.name for c in relation.columns if c.name not in known]
        if added:  # a column was added
            shape = self.source.shape(self.db, table.spec)
            shape.sql = shape.extra["select"]
            table.shape = shape
            table.fill += [n for n in added if shape.column(n) is not None]
            self.ctx.log(f"{shape.table}: new column(s) added to {table.bronze}")

    def _rows(self, change: pgoutput.Change):
        relation = self.by_oid.get(change.relation)
        if relation is None:
            raise SourceUnavailableError(f"slot {self.name}: a change before its relation")
        table = self.tables.get(relation.qualified)
        if table is None:
            return []
        names = self.layouts[change.relation]
        out = []
        if change.old is not None and change.op in ("u", "d"):
            old_key = _key(names, change.old, table.keys)
            new_key = _key(names, change.new, table.keys) if change.new is not None else None
            if change.op == "d" or old_key != new_key:  # a delete, or an update of the key
                out.append((table, "d", names, change.old))
                if change.new is not None:  # the new key's row, right after the old's
                    out.append((table, MOVED, names, change.new))
                    return out
        if change.new is not None:
            out.append((table, change.op, names, change.new))
        return out

    # -- writing -----------------------------------------------------------------------
    def _flush(self, cur, end_lsn: int) -> None:
        known = self._versions()
        for table in self.tables.values():
            if table.ops:
                self.ctx.progress.check()
                lsn = max(table.lsns)
                written = self._append(table, self._batch(table))
                table.clear()
                table.done = lsn
                self.written += written
                self._save(table, lsn)
            if table.fill:  # after what came before it, in its own commit
                self._fill(table)
        self.pending = 0
        # Only now, with the batch in the lake; sent at once (psycopg2 would wait its
        # status interval, and a run may end before it).
        cur.send_feedback(flush_lsn=end_lsn, write_lsn=end_lsn, force=True)
        # The batch's new versions: one notice per batch to the catalog, the webhook
        # targets and the pipelines that listen (after the acknowledgement: a notice
        # never holds the slot back).
        self._announce(known)

    def _versions(self) -> set[tuple[str, int]]:
        return {(a.table, a.version) for a in self.ctx.tables if a.access == "write"}

    def _announce(self, known: set[tuple[str, int]]) -> None:
        """Tell of the versions written since ``known`` (see .changes)."""
        new = [
            a for a in self.ctx.tables if a.access == "write" and (a.table, a.version) not in known
        ]
        announce(self.ctx, changes_of(self.ctx, new))

    def _batch(self, table: Table) -> pa.Table:
        base = self._stamp(len(table.ops))
        return bronze_rows(self.db, self.lake, self.spec.source, self.ctx.run_id, table, base)

    def _append(self, table: Table, rows: pa.Table | pa.RecordBatchReader) -> int:
        if isinstance(rows, pa.Table) and not rows.num_rows:
            return 0
        try:
            result = self.lake.write(
                table.bronze,
                rows,
                mode="append",
                partition_by=q.PARTITIONS,
                schema_mode="merge",
                writer=self.ctx.writer,
                stats_columns=[*table.keys, q.EXTRACTED_AT, "_op", "_lsn"],
            )
        except InvalidInputError as exc:
            raise self._retyped(table, rows) or exc from None
        self.ctx.wrote(self.lake, result)
        if isinstance(rows, pa.Table):  # a stream is counted as it is read
            self.ctx.progress.rows += rows.num_rows
        return int(result.rows_added or 0)

    def _retyped(self, table: Table, rows: pa.Table | pa.RecordBatchReader) -> Exception | None:
        """Columns the source retyped (``ALTER COLUMN ... TYPE``) that bronze holds in
        their old type, said with the way on; None when that is not why a write failed.
        Nothing of the batch was acknowledged, so after the rebuild the step streams on
        from the change."""
        try:
            held = pa.schema(self.lake.open(table.bronze).schema().to_arrow())
        except Exception:
            return None
        changed = [
            (f.name, held.field(f.name).type)
            for f in rows.schema
            if f.name in held.names and held.field(f.name).type != f.type
        ]
        if not changed:
            return None
        new = {c.name: c.type.upper().replace(" ", "") for c in table.shape.columns}
        old = {n: q.duck_type(t) for n, t in changed}
        casts = ", ".join(f"CAST({qi(n)} AS {new[n]}) AS {qi(n)}" for n, _ in changed)
        said = ", ".join(f"{n} ({old[n]} in bronze, {new[n]} now)" for n, _ in changed)
        return InvalidInputError(
            f"{table.bronze}: the source changed the type of {said}, and a table holds one "
            f"type per column; rebuild bronze in the new type, e.g. %sql CREATE OR REPLACE "
            f"TABLE {table.bronze} PARTITIONED BY ({', '.join(q.PARTITIONS)}) AS SELECT * "
            f"REPLACE ({casts}) FROM {table.bronze}, then run the step again: it goes on "
            "from this change (none was acknowledged)"
        )

    def _save(self, table: Table, lsn: int) -> None:
        version = next(
            (a.version for a in reversed(self.ctx.tables) if a.table == table.bronze), None
        )
        table.mark = watermarks.Mark(None, lsn, version, None)
        watermarks.save(
            self.ctx.workbench, KIND, self.lake.name, table.bronze, self.spec.source,
            table.shape.table, table.mark, self.ctx.run_id, self.ctx.tables,
            (self.ctx.step_id, self.ctx.attempt),
        )  # fmt: skip

    def _stamp(self, count: int = 1) -> datetime:
        """An ``_extracted_at`` after every one given before, with ``count`` microseconds
        for the batch's rows."""
        now = datetime.now(UTC)
        base = max(now, self.last_at + timedelta(microseconds=1))
        self.last_at = base + timedelta(microseconds=count)
        return base


class _Changes:
    """A transaction's changes so far: per change its table, op, columns and values."""

    def __init__(self) -> None:
        self.tables: list[Table] = []
        self.ops: list[str] = []
        self.layouts: list[tuple[str, ...]] = []
        self.values: list[Any] = []

    def add(self, table: Table, op: str, layout: tuple[str, ...], values: Any) -> None:
        self.tables.append(table)
        self.ops.append(op)
        self.layouts.append(layout)
        self.values.append(values)


def _key(names: tuple[str, ...], values: tuple[object, ...] | None, keys: list[str]):
    if values is None:
        return None
    found = dict(zip(names, values, strict=True))
    return tuple(found.get(k) for k in keys)


def run_cdc(ctx: StepContext, spec: ExtractStep, lake: Lake, db: duckdb.DuckDBPyConnection) -> None:
    CdcExtract(ctx, spec, lake, db).run()
