"""Column-level lineage of declarative steps, recorded like a notebook's SQL lineage.

An extract maps each source column to its bronze column (identity) and a translated
column to its text per language (expression); a merge and an SCD2 map each kept column
through (identity, or expression when a declared type casts it); a sql step's query is
parsed with :func:`~workbench_server.lineage.sql.sql_lineage`. Edges go to the metadata
DB under the job ``<pipeline>.<step>`` and the run, and into the attempt's OpenLineage
COMPLETE event. Lineage never fails a step: what cannot be recorded is logged.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from typing import TYPE_CHECKING, Any

from workbench_server.lineage.service import LineageService, RecordedSql, SqlContext
from workbench_server.lineage.statements import ColumnSource, SqlLineage, StatementLineage

from .extract_sql import translation_name

if TYPE_CHECKING:
    from workbench_server.lake import Lake

    from .context import StepContext, TableAccess
    from .sources import Shape, Source

log = logging.getLogger(__name__)


def context_of(lake: Lake, sources: list[str] | None = None) -> SqlContext:
    """Names as a lake step uses them: ``layer.name`` in the lake, ``<conn>.<schema>.<t>``
    in a source connection."""
    return SqlContext(
        connection=lake.name, kind="lake", attachable=sources or [], lake_root=lake.location.root
    )


def record(ctx: StepContext, found: SqlLineage, context: SqlContext, sql: str) -> None:
    """Store ``found``'s edges for the step's job and run, and keep them for OpenLineage."""
    try:
        service = LineageService(ctx.workbench, ctx.principal)
        edges = service.record(found, context, ctx.job, ctx.run_id)
        if found.warnings:
            service.record_warnings(found.warnings, ctx.job, ctx.run_id)
        ctx.lineage.append((sql, RecordedSql(found, context, edges)))
    except Exception:  # lineage never fails a step
        log.warning("lineage of step %s not recorded", ctx.job, exc_info=True)


def extract_lineage(
    ctx: StepContext,
    source: Source,
    shape: Shape,
    lake: Lake,
    bronze: str,
    side: str,
    languages: list[str],
    keys: list[str],
) -> None:
    dataset = f"{source.name}.{shape.dataset}"
    columns: dict[str, list[ColumnSource]] = {}
    for column in shape.columns:
        columns[column.name] = [ColumnSource(dataset, column.name, "identity")]
        if column.translated:
            for language in languages:
                name = translation_name(column.name, language)
                columns.setdefault(name, [ColumnSource(dataset, column.name, "expression")])
    statements = [StatementLineage("insert", [dataset], [bronze], columns)]
    if shape.by_company and any(t.table == side for t in ctx.tables):
        keyed = {c.name: [ColumnSource(dataset, c.name, "identity")] for c in shape.columns}
        dependent = {
            c.name: [ColumnSource(dataset, c.name, "expression")] for c in shape.by_company
        }
        statements.append(
            StatementLineage(
                "insert",
                [dataset],
                [side],
                {
                    **{k: keyed[k] for k in keys if k in keyed},
                    "company_id": [s for v in dependent.values() for s in v],
                    **dependent,
                },
            )
        )
    record(ctx, SqlLineage(statements), context_of(lake, [source.name]), shape.sql)


def copy_lineage(
    ctx: StepContext,
    lake: Lake,
    source: str,
    target: str,
    columns: list[str],
    cast: set[str] | None = None,
    description: str = "",
) -> None:
    """``target``'s columns from the same columns of ``source`` (a merge, an SCD2)."""
    cast = cast or set()
    mapping = {
        c: [ColumnSource(source, c, "expression" if c in cast else "identity")] for c in columns
    }
    found = SqlLineage([StatementLineage("insert", [source], [target], mapping)])
    record(ctx, found, context_of(lake), description)


def query_lineage(
    ctx: StepContext, lake: Lake, target: str, sql: str, schema: dict[str, dict[str, dict]]
) -> None:
    """A sql step's query, as if it were ``CREATE TABLE <target> AS <query>``."""
    found = copy.deepcopy(_query_lineage(target, sql, json.dumps(schema, sort_keys=True)))
    record(ctx, found, context_of(lake), sql)


@functools.lru_cache(maxsize=256)
def _query_lineage(target: str, sql: str, schema: str) -> SqlLineage:
    """The lineage of one query over tables of these columns: the same every time a
    scheduled step runs it again, and sqlglot's analysis of a close's query costs 0.1-0.2 s
    (the caller copies it: recording may not change the cached one)."""
    from workbench_server.lineage.sql import sql_lineage

    return sql_lineage(
        f"CREATE TABLE {target} AS {sql}", dialect="duckdb", schema=json.loads(schema)
    )


def with_versions(event: Any, tables: list[TableAccess]) -> Any:
    """An OpenLineage event whose lake datasets carry the version read or written
    (OpenLineage's ``version`` dataset facet), so a consumer can read back exactly the
    data a run used."""
    import attr
    from openlineage.client.facet_v2 import dataset_version_dataset

    read = {(t.lake, t.table): t.version for t in tables if t.access == "read"}
    written = {(t.lake, t.table): t.version for t in tables if t.access == "write"}

    def tagged(dataset: Any, versions: dict[tuple[str, str], int]) -> Any:
        version = versions.get((dataset.namespace, dataset.name))
        if version is None:
            return dataset
        facet = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))
        return attr.evolve(dataset, facets={**(dataset.facets or {}), "version": facet})

    return attr.evolve(
        event,
        inputs=[tagged(d, read) for d in event.inputs or []],
        outputs=[tagged(d, written) for d in event.outputs or []],
    )
