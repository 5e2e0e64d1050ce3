"""Discover a PostgreSQL database through pg_catalog, in a fixed number of queries.

Five queries describe every schema at once (relations, columns, keys, defaults,
comments), whatever the number of tables. When the database is an Odoo database (it
has ``ir_model``), three more read Odoo's own description of it: model and field
labels, help texts, selection values, relations, and the module that defines each
(``ir_model_data``). Everything runs in one read-only transaction with a statement
timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .discovered import Discovery, FoundColumn, FoundTable
from .odoo import OdooRegistry, apply_odoo, odoo_schema, read_odoo
from .pii import DEFAULT_RULES, PiiRules
from .store import COLUMN_FIELDS, TABLE_FIELDS, digest

if TYPE_CHECKING:
    from ..connections.kinds import PostgresConfig

SYSTEM_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"
)
KINDS = {
    "r": "table",
    "p": "partitioned_table",
    "v": "view",
    "m": "materialized_view",
    "f": "foreign_table",
}

# Sizes come from the planner's page counts (table + TOAST + indexes), like row counts:
# estimates that cost no file access, so a thousand tables take no longer than ten.
RELATIONS = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN
         (c.relpages::bigint + coalesce(t.relpages, 0)
          + coalesce(ix.pages, 0)) * current_setting('block_size')::bigint
       END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN (SELECT i.indrelid, sum(ic.relpages) AS pages
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
           GROUP BY i.indrelid) ix ON ix.indrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

# Rows name their relation by oid (RELATIONS maps it): less to send than two names each.
COLUMNS = f"""
SELECT a.attrelid, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

# Defaults and comments are few: read on their own, they cost a fraction of joining them
# to every column (the default's parse tree would travel through the whole join). An
# expression without column references (every default but a generated column's; in the
# stored tree a column is a "{VAR" node) is deparsed without its table: naming the table
# makes a fresh session open each one, two thirds of the query's time.
DEFAULTS = """
SELECT adrelid, adnum,
       CASE WHEN adbin::text LIKE '%{VAR %' THEN pg_get_expr(adbin, adrelid)
            ELSE pg_get_expr(adbin, 0) END
FROM pg_attrdef
"""
COMMENTS = (
    "SELECT objoid, objsubid, description FROM pg_description WHERE classoid = 'pg_class'::regclass"
)

# Key columns come as attribute numbers, named from the columns already read: no join
# per key column (unnesting and joining pg_attribute cost more than the columns query).
KEYS = """
SELECT con.conrelid, con.contype, con.conkey, con.confrelid, con.confkey
FROM pg_constraint con
WHERE con.contype IN ('p', 'f')
"""


# What turns pg_catalog and Odoo registry rows into catalog entries, besides the rows
# themselves and the PII rules (PiiRules.key): changing these (or this version, for a
# change to how this module or odoo.apply_odoo builds entries) changes every signature,
# so the next scan rebuilds and compares every table.
SIGNATURE_SEED = digest(("postgres/3", KINDS, TABLE_FIELDS, COLUMN_FIELDS))


def discover_postgres(
    cfg: PostgresConfig,
    timeout: float = 60.0,
    known: Mapping[tuple[str, str], str] | None = None,
    pii: PiiRules = DEFAULT_RULES,
) -> Discovery:
    """Describe the database; raises ``psycopg.Error`` (e.g. unreachable) untouched.

    ``known`` maps tables to the fingerprint the catalog holds for them. Every table gets
    a signature of its rows in pg_catalog (and in an Odoo database, of what Odoo's
    registry says about it); a table whose signature is the known one comes back
    ``unchanged``, without its columns: a re-scan of a database that did not change
    builds nothing.
    """
    import psycopg

    kwargs = cfg.psycopg_kwargs("workbench-catalog", min(timeout, 30.0))
    with ThreadPoolExecutor(1) as side, psycopg.connect(**kwargs) as conn:
        # The columns (most of the work, on the server and here) come over a second
        # connection while this one reads the rest: two server processes at once. (The
        # queries never shared one snapshot: at READ COMMITTED each statement has its
        # own, so a change during a scan shows at the next one either way.)
        columns_read = side.submit(_read_columns, kwargs, timeout)
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(*_statement_timeout(timeout))
            relations, keys, defaults, comments = (
                cur.execute(query).fetchall() for query in (RELATIONS, KEYS, DEFAULTS, COMMENTS)
            )
            columns = columns_read.result()
            if columns is None:  # no second connection to be had: read them here
                columns = cur.execute(COLUMNS).fetchall()
            rows = _Rows(relations, columns, keys, defaults, comments, pii)
            # Odoo's registry tables are read first: their column types shape its queries.
            odoo_tables = rows.build({}, {}, only=lambda name: name.startswith("ir_model"))
            schema = odoo_schema(odoo_tables)
            registry = None
            if schema is not None:
                registry = read_odoo(lambda q: cur.execute(q).fetchall(), odoo_tables, schema)
            tables = rows.build(rows.signatures(registry), known or {})
            if registry is not None:
                apply_odoo(registry, tables)
    return Discovery(
        tables=list(tables.values()),
        queries=5 + (registry.queries if registry else 0),
        odoo=registry is not None,
    )


Rows = list[tuple[Any, ...]]


def _statement_timeout(timeout: float) -> tuple[str, tuple[str]]:
    return "SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout)}s",)


def _read_columns(kwargs: dict[str, Any], timeout: float) -> Rows | None:
    """COLUMNS over a connection of its own; None if the server refuses one more (e.g.
    at its connection limit), so that the scan reads them over its first one."""
    import psycopg

    try:
        conn = psycopg.connect(**kwargs)
    except psycopg.OperationalError:
        return None
    with conn:
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(*_statement_timeout(timeout))
            return cur.execute(COLUMNS).fetchall()


def _grouped(rows: Rows) -> dict[int, Rows]:
    """Rows by the relation (oid) they describe (first field), in the order sent."""
    out: dict[int, Rows] = {}
    for row in rows:
        if (group := out.get(row[0])) is None:
            out[row[0]] = group = []
        group.append(row)
    return out


class _Rows:
    """The five queries' rows, turned into signatures and found tables."""

    def __init__(
        self,
        relations: Rows,
        columns: Rows,
        keys: Rows,
        defaults: Rows,
        comments: Rows,
        pii: PiiRules = DEFAULT_RULES,
    ) -> None:
        self.relations = relations
        self.pii = pii
        self.seed = digest((SIGNATURE_SEED, pii.key))
        self.where = {oid: (schema, name) for oid, schema, name, *_ in relations}
        self.names = set(self.where.values())
        self.columns_of, self.keys_of, self.defaults_of, self.comments_of = map(
            _grouped, (columns, keys, defaults, comments)
        )

    def _target(self, f_oid: int, f_attnum: int) -> str | None:
        """ "schema.table.column" a foreign key points to (usually the first column)."""
        if (where := self.where.get(f_oid)) is not None:
            for row in self.columns_of.get(f_oid, ()):
                if row[2] == f_attnum:
                    return f"{where[0]}.{where[1]}.{row[1]}"
        return None

    def signatures(self, registry: OdooRegistry | None) -> dict[int, tuple[str, int]]:
        """Each relation's signature and column count. Everything a table's catalog entry
        is built from goes in: foreign keys by the name of their target (renaming it
        changes the table pointing to it), Odoo's labels and whether the tables its
        relations point to exist, and the rules that derive the rest."""
        out: dict[int, tuple[str, int]] = {}
        for relation in self.relations:
            oid = relation[0]
            odoo = None
            if registry is not None and relation[1] == registry.schema:
                odoo = registry.describing(relation[2])
                odoo += tuple(
                    (registry.schema, row[5].replace(".", "_")) in self.names
                    for row in registry.fields.get(relation[2], ())
                    if row[5]
                )
            own = self.columns_of.get(oid, ())
            keys = [
                (kind, attnums, [self._target(f_oid, n) for n in f_attnums or ()])
                for _, kind, attnums, f_oid, f_attnums in self.keys_of.get(oid, ())
            ]
            defaults, comments = self.defaults_of.get(oid), self.comments_of.get(oid)
            signature = digest((self.seed, relation, own, defaults, comments, keys, odoo))
            out[oid] = (signature, len(own))
        return out

    def build(
        self,
        signatures: dict[int, tuple[str, int]],
        known: Mapping[tuple[str, str], str],
        only: Callable[[str], bool] | None = None,
    ) -> dict[tuple[str, str], FoundTable]:
        """Every relation (or those whose name passes ``only``) as a found table; columns,
        keys and comments only for those whose signature is not the known one."""
        tables: dict[tuple[str, str], FoundTable] = {}
        for oid, schema, name, kind, rows, size in self.relations:
            if only is not None and not only(name):
                continue
            signature, count = signatures.get(oid, (None, 0))
            table = tables[(schema, name)] = FoundTable(
                schema=schema,
                name=name,
                kind=KINDS[kind],
                row_estimate=rows,
                size_bytes=size,
                signature=signature,
            )
            if signature is not None and known.get((schema, name)) == signature:
                table.unchanged, table.column_count = True, count
            else:
                self._fill(oid, table)
        return tables

    def _fill(self, oid: int, table: FoundTable) -> None:
        by_attnum: dict[int, FoundColumn] = {}
        for _, name, pos, type_, nullable in self.columns_of.get(oid, ()):
            column = FoundColumn(
                name, pos, type_, nullable, auto_tags=self.pii.tags(table.name, name)
            )
            table.columns.append(column)
            by_attnum[pos] = column
        for _, pos, default in self.defaults_of.get(oid, ()):
            if (column := by_attnum.get(pos)) is not None:
                column.default = default
        for _, pos, comment in self.comments_of.get(oid, ()):
            if pos == 0:
                table.comment = comment
            elif (column := by_attnum.get(pos)) is not None:
                column.comment = comment
        for _, kind, attnums, f_oid, f_attnums in self.keys_of.get(oid, ()):
            for position, attnum in enumerate(attnums):
                if (column := by_attnum.get(attnum)) is None:
                    continue
                if kind == "p":
                    column.primary_key = True
                elif f_attnums:
                    column.references = self._target(f_oid, f_attnums[position])
