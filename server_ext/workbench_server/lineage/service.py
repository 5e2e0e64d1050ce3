"""Lineage edges in the metadata DB: record them from SQL, walk them up- or downstream.

A dataset is ``(namespace, name)``: the namespace is the connection the SQL ran on (or
the connection a lake query attached, or ``file`` for paths), the name is
``schema.table``. Edges are table-level (no columns) or column-level; each names the job
that made it (``notebook:<path>`` or ``<pipeline>.<step>``) and its last run. Users see
only datasets of connections they may use (and namespaces that are no connection, such
as the lake or files); edges to anything else are left out of every answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel
from sqlalchemy import and_, literal, select, tuple_, update

from ..connections.service import usable_by
from ..db.models import (
    CatalogTable,
    Connection,
    LineageDataset,
    LineageEdge,
    LineageWarning,
)
from ..errors import InvalidInputError
from ..lake_layout import LAYERS, dataset_key
from ..pipelines.visibility import WriterVisibility
from ..principal import Principal

if TYPE_CHECKING:
    from ..core import Workbench
    from .sql import SqlLineage

FILE = "file"
MAX_DEPTH = 10
FILE_LIKE = re.compile(r"[/\\]|\.(parquet|csv|json|ndjson|xlsx?)$", re.I)


class DatasetRef(BaseModel):
    namespace: str
    name: str
    table_id: int | None = None  # the catalog entry of this dataset, when there is one


class EdgeOut(BaseModel):
    source: DatasetRef
    target: DatasetRef
    source_column: str | None
    target_column: str | None
    transformation: str | None
    job: str
    run_id: str | None
    last_seen: datetime


class WarningOut(BaseModel):
    job: str
    run_id: str | None
    message: str
    created_at: datetime


class LineageGraph(BaseModel):
    root: DatasetRef
    column: str | None
    direction: str
    depth: int
    datasets: list[DatasetRef]
    edges: list[EdgeOut]


class SqlContext(BaseModel):
    """Where SQL ran: the connection, its kind, and connections a lake query may attach."""

    connection: str
    kind: str  # postgres, duckdb, lake, sqlalchemy
    attachable: list[str] = []
    # An attached connection's schema for names without one (``shop.orders``):
    # PostgreSQL's ``public``, else DuckDB's ``main``.
    attached_schemas: dict[str, str] = {}
    lake_root: str | None = None  # the lake's folder or s3://bucket/prefix


@dataclass
class RecordedSql:
    """A statement's lineage as parsed and resolved, and how many edges it made."""

    found: SqlLineage
    context: SqlContext
    edges: int


def _lake_dataset(path: str, context: SqlContext) -> tuple[str, str] | None:
    """A file written inside the lake is the lake dataset it belongs to (``layer.name``),
    the same dataset the lake's views and catalog show."""
    root = (context.lake_root or "").rstrip("/")
    if not root or not path.startswith(root + "/"):
        return None
    key = dataset_key(path[len(root) + 1 :].split("/"))
    if key is None:
        return None
    namespace = context.connection if context.kind == "lake" else "lake"
    return namespace, ".".join(key)


def resolve(name: str, context: SqlContext) -> tuple[str, str]:
    """(namespace, schema.table) of a dataset as the SQL named it."""
    if FILE_LIKE.search(name):
        return _lake_dataset(name, context) or (FILE, name)
    parts = name.split(".")
    if len(parts) == 3:
        catalog, schema, table = parts
        if catalog in context.attachable:
            return catalog, f"{schema}.{table}"
        return context.connection, f"{schema}.{table}"
    if len(parts) == 2:
        if context.kind == "lake" and parts[0] in context.attachable and parts[0] not in LAYERS:
            # DuckDB reads ``shop.orders`` as the attached database's default schema.
            schema = context.attached_schemas.get(parts[0], "main")
            return parts[0], f"{schema}.{parts[1]}"
        return context.connection, name
    default = "public" if context.kind == "postgres" else "main"
    return context.connection, f"{default}.{name}" if context.kind != "lake" else name


class LineageService:
    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    # -- recording -------------------------------------------------------------------
    def record(
        self, found: SqlLineage, context: SqlContext, job: str, run_id: str | None = None
    ) -> int:
        """Store the edges of ``found``; returns how many edges it touched."""
        wanted: list[tuple[tuple[str, str], tuple[str, str], str, str, str]] = []
        for statement in found.statements:
            targets = [resolve(o, context) for o in statement.outputs]
            sources = [resolve(i, context) for i in statement.inputs]
            for target in targets:
                wanted += [(source, target, "", "", "") for source in sources if source != target]
                for column, origins in statement.columns.items():
                    for origin in origins:
                        if origin.column == "*":
                            continue
                        source = resolve(origin.dataset, context)
                        wanted.append(
                            (source, target, origin.column, column, origin.transformation)
                        )
        return self._store(wanted, job, run_id)

    def _store(
        self,
        wanted: list[tuple[tuple[str, str], tuple[str, str], str, str, str]],
        job: str,
        run_id: str | None,
    ) -> int:
        if not wanted:
            return 0
        now = datetime.now(UTC)
        with self.workbench.sessions.begin() as session:
            ids = self._dataset_ids(session, {k for w in wanted for k in (w[0], w[1])})
            keys = {(ids[s], ids[t], sc, tc): how for s, t, sc, tc, how in wanted}
            pairs = list({(k[0], k[1]) for k in keys})
            existing = {
                (source_id, target_id, source_column, target_column): edge_id
                for edge_id, source_id, target_id, source_column, target_column in session.execute(
                    select(
                        LineageEdge.id,
                        LineageEdge.source_id,
                        LineageEdge.target_id,
                        LineageEdge.source_column,
                        LineageEdge.target_column,
                    ).where(
                        LineageEdge.job == job,
                        tuple_(LineageEdge.source_id, LineageEdge.target_id).in_(pairs),
                    )
                )
            }
            # Edges seen again get one UPDATE per transformation, not one each: a step's
            # every run touches every edge of its table.
            seen: dict[str, list[int]] = {}
            for key, how in keys.items():
                edge_id = existing.get(key)
                if edge_id is not None:
                    seen.setdefault(how, []).append(edge_id)
                    continue
                session.add(
                    LineageEdge(
                        source_id=key[0],
                        target_id=key[1],
                        source_column=key[2],
                        target_column=key[3],
                        transformation=how,
                        job=job,
                        run_id=run_id,
                        first_seen=now,
                        last_seen=now,
                    )
                )
            for how, edge_ids in seen.items():
                session.execute(
                    update(LineageEdge)
                    .where(LineageEdge.id.in_(edge_ids))
                    .values(transformation=how, run_id=run_id, last_seen=now)
                    .execution_options(synchronize_session=False)
                )
        return len(keys)

    def record_declared(
        self, inputs: list[str], outputs: list[str], job: str, run_id: str | None = None
    ) -> int:
        """Table-level edges a pipeline step declares (``namespace.schema.table`` names),
        recorded whatever its SQL was, so lineage never depends on parsing it."""

        def split(dotted: str) -> tuple[str, str]:
            namespace, _, name = dotted.partition(".")
            return namespace, name

        allowed = set(self.writable([*inputs, *outputs], job, run_id))
        inputs, outputs = [n for n in inputs if n in allowed], [n for n in outputs if n in allowed]
        wanted = [
            (split(source), split(target), "", "", "")
            for target in outputs
            for source in inputs
            if source != target
        ]
        return self._store(wanted, job, run_id)

    def writable(
        self, names: list[str], job: str | None = None, run_id: str | None = None
    ) -> list[str]:
        """The declared datasets (``namespace.schema.table``) the principal may record
        lineage of: not those of a connection they may not use (whose owner would see the
        edges). Each one left out is kept as a warning of ``job``, if given."""
        hidden = self._hidden_namespaces()
        refused = [n for n in names if n.partition(".")[0] in hidden]
        if job is None:
            return [n for n in names if n not in refused]
        self.record_warnings(
            [
                f"lineage of {name} not recorded: {self.principal.name} may not use "
                f"connection {name.partition('.')[0]!r}"
                for name in refused
            ],
            job,
            run_id,
        )
        return [n for n in names if n not in refused]

    def record_warnings(self, messages: list[str], job: str, run_id: str | None = None) -> None:
        """Keep what could not be worked out, so a gap in lineage is visible, not silent."""
        if not messages:
            return
        with self.workbench.sessions.begin() as session:
            session.add_all(
                LineageWarning(
                    job=job, run_id=run_id, principal=self.principal.name, message=m[:2000]
                )
                for m in messages[:20]
            )

    def warnings(
        self, job: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[WarningOut]:
        """Recent parse warnings (the principal's own; all of them for an admin)."""
        query = select(LineageWarning).order_by(LineageWarning.id.desc()).limit(limit)
        if not self.principal.admin:
            query = query.where(LineageWarning.principal == self.principal.name)
        if job is not None:
            query = query.where(LineageWarning.job == job)
        if run_id is not None:
            query = query.where(LineageWarning.run_id == run_id)
        with self.workbench.sessions() as session:
            return [
                WarningOut(job=w.job, run_id=w.run_id, message=w.message, created_at=w.created_at)
                for w in session.scalars(query)
            ]

    @staticmethod
    def _dataset_ids(session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found = {
            (d.namespace, d.name): d.id
            for d in session.scalars(
                select(LineageDataset).where(
                    tuple_(LineageDataset.namespace, LineageDataset.name).in_(list(keys))
                )
            )
        }
        for namespace, name in keys - found.keys():
            row = LineageDataset(namespace=namespace, name=name)
            session.add(row)
            session.flush()
            found[(namespace, name)] = row.id
        return found

    # -- reading ---------------------------------------------------------------------
    def _hidden_namespaces(self) -> set[str]:
        with self.workbench.sessions() as session:
            return {
                c.name
                for c in session.scalars(select(Connection))
                if not usable_by(self.principal, c)
            }

    def _hidden_jobs(self, edges: list[LineageEdge]) -> dict[int, str]:
        """What the job of each edge the principal may not be told of reads instead: one
        written by a pipeline they may not see (404 to them, as its runs), or by another
        user's notebook (a name of their files)."""
        if not edges or self.principal.admin:
            return {}
        visibility = WriterVisibility(self.workbench, self.principal)
        visibility.know_runs(e.run_id for e in edges)
        hidden = {e.id: visibility.hides_job(e.job, e.run_id) for e in edges}
        return {k: v for k, v in hidden.items() if v is not None}

    @staticmethod
    def _catalog_refs(session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], DatasetRef]:
        """Each dataset with the id of its catalog entry (a connection's table of that
        schema and name), in one query."""
        schema_name = CatalogTable.schema_name + literal(".") + CatalogTable.name
        found = {
            (namespace, dotted): table_id
            for table_id, namespace, dotted in session.execute(
                select(CatalogTable.id, Connection.name, schema_name)
                .join(Connection, Connection.id == CatalogTable.connection_id)
                .where(
                    Connection.name.in_({n for n, _ in keys}),
                    schema_name.in_({m for _, m in keys}),
                )
            )
        }
        return {
            (n, m): DatasetRef(namespace=n, name=m, table_id=found.get((n, m))) for n, m in keys
        }

    def graph(
        self,
        namespace: str,
        name: str,
        column: str | None = None,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: int = 3,
    ) -> LineageGraph:
        """Everything ``depth`` steps up- or downstream of a dataset (or of one column)."""
        if direction not in ("upstream", "downstream"):
            raise InvalidInputError("direction: upstream or downstream")
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInputError(f"depth: 1 to {MAX_DEPTH}")
        hidden = self._hidden_namespaces()
        if namespace in hidden:
            # As for a name nobody has: an empty graph, no catalog id. A 404 here (200
            # for an unknown name) told that the name is someone's connection.
            ref = DatasetRef(namespace=namespace, name=name, table_id=None)
            return LineageGraph(
                root=ref, column=column, direction=direction, depth=depth,
                datasets=[ref], edges=[],
            )  # fmt: skip
        up = direction == "upstream"
        near, far = (
            (LineageEdge.target_id, LineageEdge.source_id)
            if up
            else (LineageEdge.source_id, LineageEdge.target_id)
        )
        near_col, far_col = (
            (LineageEdge.target_column, LineageEdge.source_column)
            if up
            else (LineageEdge.source_column, LineageEdge.target_column)
        )
        with self.workbench.sessions() as session:
            root = session.scalar(
                select(LineageDataset).where(
                    LineageDataset.namespace == namespace, LineageDataset.name == name
                )
            )
            if root is None:
                # Nothing recorded yet: an empty graph, not an error (the table view asks
                # for every table it shows, most of which have no lineage).
                ref = self._catalog_refs(session, {(namespace, name)})[(namespace, name)]
                return LineageGraph(
                    root=ref, column=column, direction=direction, depth=depth,
                    datasets=[ref], edges=[],
                )  # fmt: skip
            # One recursive query walks the graph (shallowest visit of each dataset and
            # column); it never walks through a dataset the user may not see.
            D = LineageDataset
            walk = select(
                literal(root.id).label("id"),
                literal(column or "").label("col"),
                literal(0).label("depth"),
            ).cte("walk", recursive=True)
            hidden_ids = (
                list(session.scalars(select(D.id).where(D.namespace.in_(hidden)))) if hidden else []
            )
            allowed = far.not_in(hidden_ids) if hidden_ids else literal(True)
            walk = walk.union(
                select(far, far_col, walk.c.depth + 1)
                .join(walk, and_(near == walk.c.id, near_col == walk.c.col))
                .where(walk.c.depth < depth, allowed)
            )
            edge_ids = (
                select(LineageEdge.id)
                .join(walk, and_(near == walk.c.id, near_col == walk.c.col))
                .where(walk.c.depth < depth, allowed)
            )
            edges = list(session.scalars(select(LineageEdge).where(LineageEdge.id.in_(edge_ids))))
            unseen = self._hidden_jobs(edges)
            ids = {e.source_id for e in edges} | {e.target_id for e in edges} | {root.id}
            names = {
                d.id: (d.namespace, d.name) for d in session.scalars(select(D).where(D.id.in_(ids)))
            }
            datasets = {names[e.source_id] for e in edges} | {names[e.target_id] for e in edges}
            refs = self._catalog_refs(session, datasets | {names[root.id]})
            return LineageGraph(
                root=refs[names[root.id]],
                column=column,
                direction=direction,
                depth=depth,
                datasets=[refs[key] for key in sorted(refs)],
                edges=[
                    EdgeOut(
                        source=refs[names[e.source_id]],
                        target=refs[names[e.target_id]],
                        source_column=e.source_column or None,
                        target_column=e.target_column or None,
                        transformation=e.transformation or None,
                        job=unseen.get(e.id, e.job),
                        run_id=None if e.id in unseen else e.run_id,
                        last_seen=e.last_seen,
                    )
                    for e in edges
                ],
            )
