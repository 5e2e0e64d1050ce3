"""The catalog as one principal sees it: scan, browse, search, curate.

Every read is filtered to the connections the principal may use; a table of any other
connection is "not found". Anyone who may use a connection may describe and tag its
tables; certifying a table, or naming its steward, is for the connection's owner and
admins.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Text, cast, func, or_, select, update

from ..connections.egress import EgressPolicy
from ..connections.service import ConnectionService, usable_by
from ..db.models import (
    CatalogChange,
    CatalogColumn,
    CatalogScan,
    CatalogTable,
    Connection,
)
from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from ..principal import Principal
from .discovered import Discovery, gc_paused
from .pii import PiiRules
from .search import FACETS, LABEL, NAME, TAG, TEXT, Doc, SearchIndex, words
from .store import merge

if TYPE_CHECKING:
    from ..core import Workbench

Tag = str


class ColumnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    position: int
    data_type: str
    nullable: bool
    default: str | None
    primary_key: bool
    references: str | None
    comment: str | None
    label: str | None
    help: str | None
    odoo_type: str | None
    relation: str | None
    company_dependent: bool = False
    selection: list[list[str]]
    module: str | None
    auto_tags: list[str]
    description: str | None
    tags: list[str]
    dropped_at: datetime | None


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    change: str
    column: str | None
    old: str | None
    new: str | None
    at: datetime
    scan_id: int | None


class TableOut(BaseModel):
    id: int
    connection: str
    schema_name: str = Field(serialization_alias="schema")
    name: str
    kind: str
    layer: str | None
    label: str | None
    odoo_model: str | None
    module: str | None
    row_estimate: int | None
    size_bytes: int | None
    comment: str | None
    extra: dict[str, Any]
    description: str | None
    tags: list[str]
    auto_tags: list[str]
    steward: str | None
    certified: bool
    usage_count: int
    first_seen: datetime
    last_seen: datetime
    dropped_at: datetime | None


class TableDetail(TableOut):
    columns: list[ColumnOut]
    history: list[ChangeOut]


class ScanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    connection: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    stats: dict[str, Any]


class SourceOut(BaseModel):
    connection: str
    kind: str
    scannable: bool
    tables: int
    last_scan: ScanOut | None


class PreviewColumn(BaseModel):
    name: str
    type: str
    masked: bool = False


class PreviewOut(BaseModel):
    table: str
    columns: list[PreviewColumn]
    rows: list[list[Any]]
    notes: list[str]
    elapsed_ms: float


class SearchHit(BaseModel):
    table: TableOut
    score: float
    matched_columns: list[str]


class SearchPage(BaseModel):
    query: str
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]


class TablePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=20_000)
    tags: list[Tag] | None = Field(None, max_length=50)
    steward: str | None = Field(None, max_length=200)
    certified: bool | None = None


class ColumnPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=20_000)
    tags: list[Tag] | None = Field(None, max_length=50)


SCANNABLE = ("postgres", "duckdb", "lake", "odoo")
# Longer than any scan may run (the worker's activity allows 30 minutes).
STALE_SCAN = timedelta(hours=1)
# Usage counts change with every query; search takes them in this often (no rebuild).
USAGE_REFRESH_S = 30.0
# Members of this group (besides a connection's owner and admins) see pii-tagged values.
PII_READERS = "pii-readers"
MASK = "•••"


def _clean_tags(tags: list[str]) -> list[str]:
    out = []
    for tag in tags:
        tag = tag.strip().lower()
        if not tag or len(tag) > 50 or not all(c.isalnum() or c in "-_:." for c in tag):
            raise InvalidInputError(
                f"tag {tag!r}: use up to 50 letters, digits and '-', '_', ':' or '.'"
            )
        if tag not in out:
            out.append(tag)
    return out


class _IndexCache:
    """The search index of one metadata DB, rebuilt when the catalog changed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.signature: tuple[Any, ...] | None = None
        self.index: SearchIndex | None = None
        self.usage_at = 0.0


_INDEXES: dict[str, _IndexCache] = {}


class CatalogService:
    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    # -- permissions -----------------------------------------------------------------
    def _connections(self) -> dict[int, Connection]:
        with self.workbench.sessions() as session:
            rows = session.scalars(select(Connection))
            return {c.id: c for c in rows if usable_by(self.principal, c)}

    def _connection(self, name: str) -> Connection:
        found = next((c for c in self._connections().values() if c.name == name), None)
        if found is None:
            raise NotFoundError(f"no connection named {name!r}")
        return found

    def sources(self) -> list[SourceOut]:
        """Every connection the principal may use, with its catalog's size and last scan."""
        connections = self._connections()
        with self.workbench.sessions() as session:
            counts = dict(
                session.execute(
                    select(CatalogTable.connection_id, func.count())
                    .where(CatalogTable.dropped_at.is_(None))
                    .group_by(CatalogTable.connection_id)
                ).all()
            )
            last = {
                r.connection_id: r
                for r in session.scalars(
                    select(CatalogScan).where(
                        CatalogScan.id.in_(
                            select(func.max(CatalogScan.id)).group_by(CatalogScan.connection_id)
                        )
                    )
                )
            }
            return [
                SourceOut(
                    connection=c.name,
                    kind=c.kind,
                    scannable=c.kind in SCANNABLE,
                    tables=counts.get(c.id, 0),
                    last_scan=self._scan_out(last[c.id], c.name) if c.id in last else None,
                )
                for c in sorted(connections.values(), key=lambda c: c.name)
            ]

    @staticmethod
    def _scan_out(row: CatalogScan, connection: str) -> ScanOut:
        values = {k: getattr(row, k) for k in ScanOut.model_fields if k != "connection"}
        return ScanOut(**values, connection=connection)

    # -- scanning --------------------------------------------------------------------
    def scan(
        self, name: str, timeout: float = 60.0, interrupted_before: datetime | None = None
    ) -> ScanOut:
        """Discover the connection now and merge it into the catalog.

        Discovery happens before anything is written: a source that cannot be read
        leaves the catalog as it was, and the scan is recorded as failed with the reason.
        """
        connection = self._connection(name)
        if connection.kind not in SCANNABLE:
            raise InvalidInputError(
                f"connection {name!r} is a {connection.kind} connection; the catalog can "
                f"scan {', '.join(SCANNABLE)} connections"
            )
        settings = ConnectionService(self.workbench, self.principal).resolve(name)
        # A scan whose process died stays "running"; once it is older than any scan may
        # take (or its worker is known to be gone), it is marked as interrupted.
        stale = interrupted_before or datetime.now(UTC) - STALE_SCAN
        with self.workbench.sessions.begin() as session:
            session.execute(
                update(CatalogScan)
                .where(
                    CatalogScan.connection_id == connection.id,
                    CatalogScan.status == "running",
                    CatalogScan.started_at < stale,
                )
                .values(
                    status="interrupted",
                    finished_at=datetime.now(UTC),
                    error="the process running this scan stopped before it finished",
                )
            )
            first = not session.scalar(
                select(func.count())
                .select_from(CatalogScan)
                .where(
                    CatalogScan.connection_id == connection.id,
                    CatalogScan.status == "succeeded",
                )
            )
            scan = CatalogScan(
                connection_id=connection.id,
                status="running",
                requested_by=self.principal.name,
                stats={},
            )
            session.add(scan)
            session.flush()
            scan_id = scan.id
            # What the catalog holds, so that a source can skip building what did not change.
            known = {
                (schema, table): fingerprint
                for schema, table, fingerprint in session.execute(
                    select(
                        CatalogTable.schema_name, CatalogTable.name, CatalogTable.fingerprint
                    ).where(
                        CatalogTable.connection_id == connection.id,
                        CatalogTable.dropped_at.is_(None),
                    )
                )
            }
        try:
            with gc_paused():  # tens of thousands of small objects, built and compared
                found = self._discover(
                    name,
                    settings,
                    timeout,
                    known,
                    self._egress,
                    PiiRules.from_settings(self.workbench.settings),
                )
        except SourceUnavailableError as exc:  # the network policy's refusal included
            self._finish(scan_id, "failed", error=str(exc))
            raise
        with self.workbench.sessions.begin() as session, gc_paused():
            stats = merge(session, connection.id, scan_id, found, first)
            row = session.get(CatalogScan, scan_id)
            row.status, row.finished_at = "succeeded", datetime.now(UTC)
            row.stats = {
                "tables": stats.tables,
                "columns": stats.columns,
                "changes": stats.changes,
                "queries": found.queries,
                "odoo": found.odoo,
            }
        return self.scans(name, limit=1)[0]

    @property
    def _egress(self) -> EgressPolicy:
        """Where scans and previews may connect for the principal (see connections.egress)."""
        return EgressPolicy.from_settings(self.workbench.settings)

    @staticmethod
    def _discover(
        name: str,
        settings: Any,
        timeout: float,
        known: dict[tuple[str, str], str],
        egress: EgressPolicy,
        pii: PiiRules,
    ) -> Discovery:
        """Read the source; what makes it unreadable becomes one line naming the cause."""
        import psycopg

        from ..connections.egress import UnknownHostError, pin
        from ..connections.odoo import OdooError
        from .duckdb import DuckDBUnavailable, discover_duckdb
        from .lake import LakeUnavailable, discover_lake
        from .odoo_api import discover_odoo_api
        from .postgres import discover_postgres

        try:
            settings = pin(name, settings, egress)
            if settings.kind == "odoo":
                return discover_odoo_api(settings, timeout, pii)
            if settings.kind == "lake":
                return discover_lake(settings, pii)
            if settings.kind == "duckdb":
                return discover_duckdb(settings, pii)
            return discover_postgres(settings, timeout, known, pii)
        except OdooError as exc:
            reason = exc.reason.replace("_", " ")
            raise SourceUnavailableError(
                f"cannot scan connection {name!r}: {reason}: {exc}"
            ) from None
        except (LakeUnavailable, DuckDBUnavailable, UnknownHostError) as exc:
            raise SourceUnavailableError(f"cannot scan connection {name!r}: {exc}") from None
        except psycopg.Error as exc:
            raise _unavailable("scan connection", name, exc) from None

    def _finish(self, scan_id: int, status: str, error: str | None = None) -> None:
        with self.workbench.sessions.begin() as session:
            row = session.get(CatalogScan, scan_id)
            row.status, row.finished_at, row.error = status, datetime.now(UTC), error

    def scans(self, name: str, limit: int = 20) -> list[ScanOut]:
        connection = self._connection(name)
        with self.workbench.sessions() as session:
            rows = session.scalars(
                select(CatalogScan)
                .where(CatalogScan.connection_id == connection.id)
                .order_by(CatalogScan.id.desc())
                .limit(limit)
            )
            return [
                ScanOut.model_validate(
                    {
                        **{k: getattr(r, k) for k in ScanOut.model_fields if k != "connection"},
                        "connection": name,
                    }
                )
                for r in rows
            ]

    # -- browsing --------------------------------------------------------------------
    def _out(self, row: CatalogTable, connections: dict[int, Connection]) -> TableOut:
        values = {k: getattr(row, k) for k in TableOut.model_fields if k != "connection"}
        return TableOut(**values, connection=connections[row.connection_id].name)

    def tables(
        self,
        connection: str | None = None,
        schema: str | None = None,
        include_dropped: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[TableOut]]:
        connections = self._connections()
        ids = list(connections)
        if connection is not None:
            ids = [self._connection(connection).id]
        query = select(CatalogTable).where(CatalogTable.connection_id.in_(ids))
        if schema is not None:
            query = query.where(CatalogTable.schema_name == schema)
        if not include_dropped:
            query = query.where(CatalogTable.dropped_at.is_(None))
        with self.workbench.sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(
                    CatalogTable.connection_id, CatalogTable.schema_name, CatalogTable.name
                )
                .offset(offset)
                .limit(limit)
            )
            return total, [self._out(r, connections) for r in rows]

    def _row(self, session: Any, table_id: int) -> tuple[CatalogTable, dict[int, Connection]]:
        connections = self._connections()
        row = session.get(CatalogTable, table_id)
        if row is None or row.connection_id not in connections:
            raise NotFoundError(f"no catalog table {table_id}")
        return row, connections

    def table(self, table_id: int) -> TableDetail:
        with self.workbench.sessions() as session:
            row, connections = self._row(session, table_id)
            columns = session.scalars(
                select(CatalogColumn)
                .where(CatalogColumn.table_id == table_id)
                .order_by(CatalogColumn.dropped_at.is_not(None), CatalogColumn.position)
            )
            history = session.scalars(
                select(CatalogChange)
                .where(CatalogChange.table_id == table_id)
                .order_by(CatalogChange.id.desc())
                .limit(200)
            )
            base = self._out(row, connections)
            return TableDetail(
                **base.model_dump(),
                columns=[ColumnOut.model_validate(c) for c in columns],
                history=[ChangeOut.model_validate(h) for h in history],
            )

    def find(self, connection: str, schema: str, name: str) -> TableDetail:
        conn = self._connection(connection)
        with self.workbench.sessions() as session:
            table_id = session.scalar(
                select(CatalogTable.id).where(
                    CatalogTable.connection_id == conn.id,
                    CatalogTable.schema_name == schema,
                    CatalogTable.name == name,
                )
            )
        if table_id is None:
            raise NotFoundError(f"no table {schema}.{name} in the catalog of {connection!r}")
        return self.table(table_id)

    # -- previewing ------------------------------------------------------------------
    def may_see_pii(self, connection: Connection) -> bool:
        p = self.principal
        return p.admin or p.name == connection.owner or PII_READERS in p.groups

    def preview(
        self,
        table_id: int,
        limit: int = 100,
        max_bytes: int = 1_000_000,
        timeout_s: float = 5.0,
    ) -> PreviewOut:
        """The first rows, read-only and bounded; pii values masked unless allowed."""
        import duckdb
        import psycopg

        from ..connections.egress import UnknownHostError, pin
        from ..connections.odoo import OdooError
        from .lake import LakeUnavailable, preview_lake
        from .odoo_api import UNPREVIEWABLE, preview_odoo_api
        from .preview import preview_duckdb, preview_postgres

        with self.workbench.sessions() as session:
            row, connections = self._row(session, table_id)
            connection = connections[row.connection_id]
            schema, name = row.schema_name, row.name
            known = list(
                session.scalars(
                    select(CatalogColumn)
                    .where(CatalogColumn.table_id == table_id, CatalogColumn.dropped_at.is_(None))
                    .order_by(CatalogColumn.position)
                )
            )
            pii = {c.name for c in known if "pii" in {*(c.tags or []), *(c.auto_tags or [])}}
            columns = [(c.name, c.data_type) for c in known]
        if connection.kind not in SCANNABLE:
            raise InvalidInputError(f"previews of {connection.kind} connections are not available")
        if row.dropped_at is not None:
            raise NotFoundError(f"{schema}.{name} was dropped from {connection.name!r}")
        settings = ConnectionService(self.workbench, self.principal).resolve(connection.name)
        try:
            settings = pin(connection.name, settings, self._egress)
            if connection.kind == "odoo":
                readable = [c for c, t in columns if t not in UNPREVIEWABLE]
                found = preview_odoo_api(settings, name, readable, limit, timeout_s * 4)
            elif connection.kind == "lake":
                found = preview_lake(settings, schema, name, limit)
            elif connection.kind == "duckdb":
                found = preview_duckdb(settings, schema, name, limit, max_bytes, timeout_s)
            else:
                found = preview_postgres(settings, schema, name, limit, max_bytes, timeout_s)
        except UnknownHostError as exc:
            raise SourceUnavailableError(
                f"cannot preview a table of {connection.name!r}: {exc}"
            ) from None
        except (psycopg.Error, duckdb.Error, OSError, LakeUnavailable, OdooError) as exc:
            raise _unavailable("preview a table of", connection.name, exc) from None
        if not self.may_see_pii(connection):
            # A column the source gained since its last scan is not in the catalog yet:
            # the scan's own rules decide whether it is masked.
            rules = PiiRules.from_settings(self.workbench.settings)
            scanned = {column for column, _ in columns}
            table_name = name.replace(".", "_")
            pii |= {
                column
                for column, _ in found.columns
                if column not in scanned and rules.tags(table_name, column)
            }
        masked = set() if self.may_see_pii(connection) else pii
        positions = [i for i, (column, _) in enumerate(found.columns) if column in masked]
        for values in found.rows:
            for i in positions:
                if values[i] is not None:
                    values[i] = MASK
        notes = list(found.notes)
        if positions:
            notes.append(
                f"{len(positions)} column(s) tagged pii are masked; ask the connection's owner "
                f"for the {PII_READERS!r} group to see them"
            )
        return PreviewOut(
            table=f"{schema}.{name}",
            columns=[
                PreviewColumn(name=column, type=type_, masked=column in masked)
                for column, type_ in found.columns
            ],
            rows=found.rows,
            notes=notes,
            elapsed_ms=round(found.elapsed_ms, 1),
        )

    # -- curating --------------------------------------------------------------------
    def edit_table(self, table_id: int, patch: TablePatch) -> TableDetail:
        with self.workbench.sessions.begin() as session:
            row, connections = self._row(session, table_id)
            changes = patch.model_dump(exclude_unset=True)
            if {"certified", "steward"} & changes.keys():
                owner = connections[row.connection_id].owner
                if not self.principal.may_change(owner):
                    from ..errors import PermissionDeniedError

                    raise PermissionDeniedError(
                        "only the connection's owner or an admin may certify a table or "
                        "name its steward"
                    )
            if "tags" in changes:
                changes["tags"] = _clean_tags(changes["tags"] or [])
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = datetime.now(UTC)
        return self.table(table_id)

    def edit_column(self, table_id: int, column: str, patch: ColumnPatch) -> TableDetail:
        with self.workbench.sessions.begin() as session:
            row, _ = self._row(session, table_id)
            found = session.scalar(
                select(CatalogColumn).where(
                    CatalogColumn.table_id == table_id, CatalogColumn.name == column
                )
            )
            if found is None:
                raise NotFoundError(f"table {row.name} has no column {column!r}")
            changes = patch.model_dump(exclude_unset=True)
            if "tags" in changes:
                changes["tags"] = _clean_tags(changes["tags"] or [])
            for key, value in changes.items():
                setattr(found, key, value)
            row.updated_at = datetime.now(UTC)
        return self.table(table_id)

    # -- usage -----------------------------------------------------------------------
    def record_usage(
        self, connection: str, tables: list[tuple[str | None, str]], count: int = 1
    ) -> int:
        """Count a query over ``tables`` of ``connection`` (search ranks used tables up).

        A table named without its schema counts for every schema that has it. Unknown
        connections and tables are ignored: usage is a hint, never an error.
        """
        found = next((c for c in self._connections().values() if c.name == connection), None)
        if found is None or not tables:
            return 0
        conditions = [
            (CatalogTable.name == name)
            if schema is None
            else ((CatalogTable.name == name) & (CatalogTable.schema_name == schema))
            for schema, name in tables[:50]
        ]
        with self.workbench.sessions.begin() as session:
            result = session.execute(
                update(CatalogTable)
                .where(CatalogTable.connection_id == found.id, or_(*conditions))
                .values(usage_count=CatalogTable.usage_count + count)
            )
            return result.rowcount or 0

    # -- searching -------------------------------------------------------------------
    def _index(self) -> SearchIndex:
        cache = _INDEXES.setdefault(str(self.workbench.engine.url), _IndexCache())
        with self.workbench.sessions() as session:
            signature = tuple(
                session.execute(
                    select(
                        func.count(CatalogTable.id),
                        func.max(CatalogTable.updated_at),
                        select(func.max(Connection.updated_at)).scalar_subquery(),
                    )
                ).one()
            )
        with cache.lock:
            if (
                cache.index is not None
                and cache.signature is not None
                and (cache.signature != signature)
            ):
                cache.index = self._refreshed(cache.index, cache.signature, signature)
                cache.signature = signature
            if cache.index is None or cache.signature != signature:
                cache.index = self._build_index()
                cache.signature = signature
                cache.usage_at = time.monotonic()
            elif time.monotonic() - cache.usage_at > USAGE_REFRESH_S:
                with self.workbench.sessions() as session:
                    usage = dict(
                        session.execute(
                            select(CatalogTable.id, CatalogTable.usage_count).where(
                                CatalogTable.usage_count > 0
                            )
                        ).all()
                    )
                cache.index.set_usage(usage)
                cache.usage_at = time.monotonic()
            return cache.index

    def _refreshed(
        self, index: SearchIndex, before: tuple[Any, ...], now: tuple[Any, ...]
    ) -> SearchIndex | None:
        """The index with only the tables changed since ``before`` rebuilt; None when a
        full rebuild is due (connections changed, or too much changed to patch)."""
        if before[2] != now[2] or before[1] is None:
            return None
        with self.workbench.sessions() as session:
            changed = list(
                session.scalars(
                    select(CatalogTable.id).where(CatalogTable.updated_at > before[1]).limit(501)
                )
            )
        if not changed or len(changed) > 500:
            return None
        fresh = self._docs(set(changed))
        return index.replaced(fresh, set(changed))

    def _build_index(self) -> SearchIndex:
        return SearchIndex(self._docs(None).values())

    def _docs(self, only: set[int] | None) -> dict[int, Doc]:
        """Search documents of the live tables (of ``only`` those ids, when given)."""
        with self.workbench.sessions() as session:
            names = dict(session.execute(select(Connection.id, Connection.name)).all())
            query = select(CatalogTable).where(CatalogTable.dropped_at.is_(None))
            if only is not None:
                query = query.where(CatalogTable.id.in_(only))
            tables = session.scalars(query).all()
            docs: dict[int, Doc] = {}
            for t in tables:
                doc = Doc(
                    id=t.id,
                    connection_id=t.connection_id,
                    connection=names.get(t.connection_id, "?"),
                    schema=t.schema_name,
                    name=t.name,
                    kind=t.kind,
                    layer=t.layer,
                    label=t.label,
                    odoo_model=t.odoo_model,
                    tags=sorted({*t.tags, *t.auto_tags}),
                    steward=t.steward,
                    certified=t.certified,
                    usage=t.usage_count,
                    name_words=words(t.name),
                )
                for weight, text in (
                    (TEXT, t.comment),
                    (TEXT, t.description),
                    (TAG, " ".join(doc.tags)),
                    (LABEL, t.label),
                    (NAME, t.odoo_model),
                    (NAME, t.name),
                ):
                    for word in words(text):
                        doc.fields[word] = max(doc.fields.get(word, 0.0), weight)
                docs[t.id] = doc
            # JSON arrives as text and is decoded only when not empty: most columns have
            # no tags and no selection, and decoding 300,000 "[]" costs seconds.
            column_query = select(
                CatalogColumn.table_id,
                CatalogColumn.name,
                CatalogColumn.label,
                CatalogColumn.description,
                cast(CatalogColumn.tags, Text),
                cast(CatalogColumn.auto_tags, Text),
                cast(CatalogColumn.selection, Text),
            ).where(CatalogColumn.dropped_at.is_(None))
            if only is not None:
                column_query = column_query.where(CatalogColumn.table_id.in_(only))
            rows = session.execute(column_query)
            for table_id, name, label, description, *json_texts in rows:
                doc = docs.get(table_id)
                if doc is None:
                    continue
                tags, auto_tags, selection = (_json_list(text) for text in json_texts)
                texts = [name, label, description, *tags, *auto_tags]
                texts += [pair[1] for pair in selection if len(pair) > 1]
                for word in words(*texts):
                    doc.columns.setdefault(word, []).append(name)
                for tag in {*tags, *auto_tags}:
                    if tag not in doc.tags:
                        doc.tags.append(tag)
        return docs

    def search(
        self,
        query: str,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> SearchPage:
        if len(query) > 200:
            raise InvalidInputError("q: a search is at most 200 characters")
        unknown = sorted(set(filters or {}) - set(FACETS))
        if unknown:
            raise InvalidInputError(f"{unknown[0]}: filter by one of {', '.join(FACETS)}")
        connections = self._connections()
        result = self._index().search(query, set(connections), filters, offset, limit)
        page = result.hits
        with self.workbench.sessions() as session:
            rows = {
                r.id: r
                for r in session.scalars(
                    select(CatalogTable).where(CatalogTable.id.in_([h.doc.id for h in page]))
                )
            }
        return SearchPage(
            query=query,
            total=result.total,
            hits=[
                SearchHit(
                    table=self._out(rows[h.doc.id], connections),
                    score=h.score,
                    matched_columns=h.columns,
                )
                for h in page
                if h.doc.id in rows
            ],
            facets=result.facets,
        )


def _json_list(text: str | None) -> list[Any]:
    if not text or text == "[]":
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []


def _unavailable(action: str, connection: str, exc: Exception) -> SourceUnavailableError:
    """A one-line reason from a driver error: "cannot scan connection 'x': host not found: …"."""
    from ..connections.probes import PG_REASONS, classify

    text = str(exc).strip()
    message = text.splitlines()[-1] if text else type(exc).__name__
    reason = classify(text, PG_REASONS)
    prefix = f"cannot {action} {connection!r}"
    if reason == "error":
        return SourceUnavailableError(f"{prefix}: {message}")
    return SourceUnavailableError(f"{prefix}: {reason.replace('_', ' ')}: {message}")


__all__ = ["CatalogService", "ColumnPatch", "TablePatch"]
