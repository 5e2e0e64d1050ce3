"""Table- and column-level lineage of SQL text, with sqlglot, in the query's dialect.

Outputs are what a statement writes: ``CREATE TABLE/VIEW ... AS``, ``INSERT INTO ...
SELECT`` and ``COPY (...) TO 'file'``; inputs are the tables it reads (CTE names are not
datasets). For each output column, sqlglot's lineage walks the query (through CTEs and
subqueries) to the input columns it comes from, and the path says how: ``identity``
(the column as is), ``aggregation`` (an aggregate on the way) or ``expression``.

Lineage never fails a caller: SQL that does not parse, or whose columns cannot be
resolved (``SELECT *`` without a schema), gives what can be known plus a warning.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.lineage import Node, lineage

from .statements import ColumnSource, SqlLineage, StatementLineage

# sqlglot logs what it cannot resolve as warnings on stderr (noise in a notebook); the
# same facts come back here as SqlLineage.warnings instead.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def dataset_name(table: exp.Table) -> str:
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)


def _reads(query: exp.Expression) -> list[str]:
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    names = [
        dataset_name(t)
        for t in query.find_all(exp.Table)
        if t.name and not (not t.db and t.name in ctes)
    ]
    return list(dict.fromkeys(names))


def _target(statement: exp.Expression) -> tuple[str, exp.Expression | None, list[str]]:
    """(kind, the query that produces the rows, explicit target column names)."""
    if isinstance(statement, exp.Create):
        kind = (
            "create_view"
            if str(statement.args.get("kind", "")).upper() == "VIEW"
            else ("create_table_as")
        )
        query = statement.expression if isinstance(statement.expression, exp.Query) else None
        return kind, query, []
    if isinstance(statement, exp.Insert):
        target = statement.this
        names = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
        query = statement.expression if isinstance(statement.expression, exp.Query) else None
        return "insert", query, names
    if isinstance(statement, exp.Copy):
        this = statement.this
        query = this.this if isinstance(this, exp.Subquery) else this
        return "copy", query if isinstance(query, exp.Query) else None, []
    if isinstance(statement, exp.Query):
        return "select", statement, []
    return "other", None, []


def _outputs(statement: exp.Expression) -> list[str]:
    if isinstance(statement, exp.Create | exp.Insert):
        target = statement.this
        table = target.this if isinstance(target, exp.Schema) else target
        return [dataset_name(table)] if isinstance(table, exp.Table) else []
    if isinstance(statement, exp.Copy):
        if _copy_from(statement):  # COPY t FROM 'file': the table is written
            return [dataset_name(statement.this)] if isinstance(statement.this, exp.Table) else []
        return _files(statement)
    return []


def _copy_from(statement: exp.Copy) -> bool:
    return statement.args.get("kind") is True


def _files(statement: exp.Copy) -> list[str]:
    return [f.name for f in statement.args.get("files", []) if isinstance(f, exp.Literal)]


# DuckDB's table functions over files: ``FROM read_parquet('s3://…/x.parquet')`` reads
# that file as surely as ``FROM 's3://…/x.parquet'`` does.
FILE_READERS = {
    "read_parquet",
    "parquet_scan",
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "delta_scan",
}


def _file_reads_as_tables(node: exp.Expression) -> exp.Expression:
    """Rewrite a file-reading table function with one literal path into a table named by
    the path, so that table and column lineage see the file as the dataset it is."""
    if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Func):
        return node
    function = node.this
    name = (function.name if isinstance(function, exp.Anonymous) else function.sql_name()).lower()
    first = function.expressions[0] if function.expressions else function.this
    if name not in FILE_READERS or not isinstance(first, exp.Literal) or not first.is_string:
        return node
    table = exp.Table(this=exp.to_identifier(first.name, quoted=True))
    if node.alias:
        table.set("alias", node.args["alias"])
    return table


def _how(node: Node) -> str:
    """identity / aggregation / expression along one output column's lineage."""
    seen_expression = False
    stack = [node]
    while stack:
        current = stack.pop()
        expression = current.expression
        if isinstance(expression, exp.Alias):
            expression = expression.this
        if expression.find(exp.AggFunc) is not None:
            return "aggregation"
        if not isinstance(expression, exp.Column | exp.Table | exp.Star) and current.downstream:
            seen_expression = True
        stack.extend(current.downstream)
    return "expression" if seen_expression else "identity"


def _sources(node: Node, how: str) -> list[ColumnSource]:
    found: dict[tuple[str, str], ColumnSource] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if not current.downstream and isinstance(current.source, exp.Table):
            column = current.name.rsplit(".", 1)[-1]
            key = (dataset_name(current.source), column)
            found.setdefault(key, ColumnSource(key[0], key[1], how))
        stack.extend(current.downstream)
    return sorted(found.values(), key=lambda s: (s.dataset, s.column))


def sql_lineage(
    sql: str, dialect: str = "duckdb", schema: dict[str, Any] | None = None
) -> SqlLineage:
    """The datasets and columns ``sql`` reads and writes; what cannot be worked out is a
    warning, never an error (lineage never fails the query or step it describes)."""
    try:
        return _sql_lineage(sql, dialect, schema)
    except RecursionError:  # sqlglot parses and walks nested expressions recursively
        out = SqlLineage()
        out.warnings.append(f"SQL could not be parsed ({dialect}): it nests too deeply")
        return out


def _sql_lineage(sql: str, dialect: str, schema: dict[str, Any] | None) -> SqlLineage:
    out = SqlLineage()
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        out.warnings.append(f"SQL could not be parsed ({dialect}): {str(exc).splitlines()[0]}")
        return out

    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):  # sqlglot's fallback for what it cannot parse
            text = statement.sql(dialect=dialect)
            out.warnings.append(
                f"SQL could not be parsed ({dialect}): statement starting {text[:60]!r}"
            )
            continue
        statement = statement.transform(_file_reads_as_tables)
        kind, query, names = _target(statement)
        result = StatementLineage(
            kind=kind,
            inputs=_reads(query if query is not None else statement),
            outputs=_outputs(statement),
        )
        if isinstance(statement, exp.Copy) and _copy_from(statement):
            result.inputs = _files(statement)
        out.statements.append(result)
        if query is None or not result.outputs:
            continue
        try:
            # trim_selects=False: no copy of each SELECT per column (most of the time).
            nodes = lineage(None, query, schema=schema or {}, dialect=dialect, trim_selects=False)
        except Exception as exc:
            out.warnings.append(
                f"column lineage of {', '.join(result.outputs)} unavailable: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
            continue
        for position, (column, node) in enumerate(nodes.items()):
            target = names[position] if position < len(names) else column
            result.columns[target] = _sources(node, _how(node))
    return out
