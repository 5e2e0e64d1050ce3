"""The DuckDB SQL of an extract: bronze rows from source rows, with audit columns.

Bronze is append-only. Each row carries ``_run_id``, ``_extracted_at``, ``_source`` and
``_op`` (``i`` a key bronze has not seen alive, ``u`` a key it has, ``d`` a key gone from
the source), and the partition columns ``_company_id`` and ``_extracted_on``. What
bronze already holds of a source (its live keys and their latest cursor value) is read
from bronze itself, so a run that read rows again (the overlap window, an attempt that
died after its commit) adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from .sources import Shape

if TYPE_CHECKING:
    import pyarrow as pa

PARTITIONS = ["_source", "_company_id", "_extracted_on"]
EXTRACTED_AT = "_extracted_at"
AUDIT = ["_run_id", "_extracted_at", "_source", "_op", "_company_id", "_extracted_on"]
SIDE_SUFFIX = "_by_company"  # bronze.res_partner -> bronze.res_partner_by_company


@dataclass(frozen=True)
class Audit:
    """The audit values every row of one extraction gets."""

    run_id: str
    extracted_at: datetime
    source: str

    def columns(self, op: str, company: str) -> str:
        return ", ".join(
            [
                f"{ql(self.run_id)} AS _run_id",
                f"TIMESTAMPTZ {ql(self.extracted_at.isoformat())} AS _extracted_at",
                f"{ql(self.source)} AS _source",
                f"{op} AS _op",
                f"CAST({company} AS BIGINT) AS _company_id",
                f"DATE {ql(self.extracted_at.date().isoformat())} AS _extracted_on",
            ]
        )


def translation_name(column: str, language: str) -> str:
    """``name`` in ``fr_FR``: ``name_fr_fr``."""
    return f"{column}_{language.lower()}"


def row_columns(shape: Shape, languages: list[str], alias: str = "c") -> str:
    """The source columns, and each translated column's text per language."""
    parts = [f"{alias}.{qi(c.name)}" for c in shape.columns]
    taken = {c.name for c in shape.columns}
    for column in shape.translated:
        for language in languages:
            name = translation_name(column.name, language)
            if name not in taken:
                path = ql(f'$."{language}"')
                parts.append(
                    f"json_extract_string({alias}.{qi(column.name)}, {path}) AS {qi(name)}"
                )
    return ", ".join(parts)


def on_keys(keys: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{qi(k)} = {right}.{qi(k)}" for k in keys)


def carried_sql(
    db: Any, temp: str, scan: str, source: str, keys: list[str], carried: list[str], rows: str
) -> str:
    """``rows`` (bronze rows about to be appended) with the columns bronze carries (the
    source no longer has them): each key's last value in bronze ``scan`` of ``source``,
    none for a new key. Those values are kept in the temporary table ``temp``."""
    b_keys = ", ".join(f"b.{qi(k)}" for k in keys)
    values = ", ".join(f"arg_max(b.{qi(c)}, b._extracted_at) AS {qi(c)}" for c in carried)
    db.execute(
        f"CREATE OR REPLACE TEMP TABLE {temp} AS SELECT {b_keys}, {values} FROM {scan} b "
        f"WHERE b._source = {ql(source)} AND b._op <> 'd' GROUP BY {b_keys}"
    )
    kept = ", ".join(f"p.{qi(c)}" for c in carried)
    return f"SELECT o.*, {kept} FROM ({rows}) o LEFT JOIN {temp} p ON {on_keys(keys, 'o', 'p')}"


def known_sql(
    scan: str,
    source: str,
    keys: list[str],
    cursor: str | None,
    within: str | None,
    extracted_since: datetime | None = None,
) -> str:
    """What bronze holds of ``source`` per key: its latest op, cursor value and company
    (``within``: only keys of that relation; ``extracted_since``: only rows extracted
    from then on, see :func:`extracted_since_sql`)."""
    key_list = ", ".join(f"b.{qi(k)}" for k in keys)
    cursor_expr = f"arg_max(b.{qi(cursor)}, b._extracted_at)" if cursor else "NULL"
    restrict = f" SEMI JOIN {within} w ON {on_keys(keys, 'b', 'w')}" if within else ""
    return (
        f"SELECT {key_list}, arg_max(b._op, b._extracted_at) AS _op, {cursor_expr} AS _cursor, "
        "arg_max(b._company_id, b._extracted_at) AS _company_id "
        f"FROM {scan} b{restrict} WHERE b._source = {ql(source)}"
        f"{extracted_since_sql(extracted_since)} GROUP BY {key_list}"
    )


def extracted_since_sql(since: datetime | None) -> str:
    """`` AND`` the bronze row was extracted at ``since`` (UTC) or later: a condition on
    the partition (``_extracted_on``) and on ``_extracted_at`` (one value per file), so
    the scan skips every older run's files without opening them."""
    if since is None:
        return ""
    stamp = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
    return (
        f" AND b._extracted_on >= DATE {ql(stamp.date().isoformat())}"
        f" AND b._extracted_at >= TIMESTAMPTZ {ql(stamp.isoformat())}"
    )


def upserts_sql(
    shape: Shape,
    languages: list[str],
    audit: Audit,
    rows: str,
    keys: list[str],
    known: str | None,
    cursor: str | None,
    only_changed: bool,
    filled: Sequence[str] = (),
) -> str:
    """Source rows as bronze rows; with ``known``, ``_op`` says whether bronze has the key
    alive, and ``only_changed`` leaves out rows whose cursor bronze already has, except
    those holding a value in one of the ``filled`` columns (new to bronze)."""
    company = f"c.{qi(shape.company)}" if shape.company else "NULL"
    columns = row_columns(shape, languages)
    if known is None:
        return f"SELECT {columns}, {audit.columns(ql('i'), company)} FROM {rows} c"
    absent = f"k.{qi(keys[0])} IS NULL OR k._op = 'd'"
    op = f"CASE WHEN {absent} THEN 'i' ELSE 'u' END"
    sql = (
        f"SELECT {columns}, {audit.columns(op, company)} FROM {rows} c "
        f"LEFT JOIN {known} k ON {on_keys(keys, 'c', 'k')}"
    )
    if only_changed:
        changed = f"k._cursor IS DISTINCT FROM c.{qi(cursor)}" if cursor else "true"
        sql += f" WHERE {absent} OR {changed}{filled_sql(filled, ' OR ')}"
    return sql


def filled_sql(filled: Sequence[str], before: str = "", alias: str = "c") -> str:
    """``before`` and a condition that a row holds a value in one of ``filled`` (the
    source's columns new to bronze); "" for none."""
    if not filled:
        return ""
    return before + "(" + " OR ".join(f"{alias}.{qi(n)} IS NOT NULL" for n in filled) + ")"


def seen_sql(
    scan: str,
    source: str,
    keys: list[str],
    cursor: str,
    window: tuple[str, str],
    within: str,
    extracted_since: datetime | None = None,
) -> str:
    """The rows of ``within`` (key and cursor value) that bronze already holds, looking
    only at bronze rows whose cursor lies in ``window`` (two SQL literals): the rows an
    incremental run read again in its overlap window. The cursor bounds let the scan
    skip every file whose statistics lie outside the window, ``extracted_since`` every
    file of runs before it."""
    low, high = window
    return (
        f"SELECT DISTINCT {', '.join(f'b.{qi(k)}' for k in keys)}, b.{qi(cursor)} AS _cursor "
        f"FROM {scan} b SEMI JOIN {within} w ON {on_keys(keys, 'b', 'w')} "
        f"AND b.{qi(cursor)} = w.{qi(cursor)} WHERE b._source = {ql(source)} "
        f"AND b.{qi(cursor)} >= {low} AND b.{qi(cursor)} <= {high}"
        f"{extracted_since_sql(extracted_since)}"
    )


def created_upserts_sql(
    shape: Shape,
    languages: list[str],
    audit: Audit,
    rows: str,
    keys: list[str],
    cursor: str,
    created: tuple[str, str, str],
    known: str | None,
    seen: str | None,
    filled: Sequence[str] = (),
) -> str:
    """Source rows of an incremental read as bronze rows, ``_op`` told by their creation
    time where it can: ``created`` is the creation column and the window's bounds (SQL
    literals); a row created after the window (after the last run's watermark) is new to
    bronze, one created before it was read by an earlier run, and one created inside it
    is looked up in ``known`` (its keys' latest bronze rows). Rows ``seen`` (the same key
    and cursor value already in bronze) are left out, unless they hold a value in one of
    the ``filled`` columns (new to bronze)."""
    column, low, high = created
    company = f"c.{qi(shape.company)}" if shape.company else "NULL"
    created_at = f"c.{qi(column)}"
    looked_up = "'u'"
    joined = ""
    if known is not None:
        looked_up = f"CASE WHEN k.{qi(keys[0])} IS NULL OR k._op = 'd' THEN 'i' ELSE 'u' END"
        joined = f" LEFT JOIN {known} k ON {on_keys(keys, 'c', 'k')}"
    op = (
        f"CASE WHEN {created_at} > {high} THEN 'i' WHEN {created_at} < {low} THEN 'u' "
        f"ELSE {looked_up} END"
    )
    sql = f"SELECT {row_columns(shape, languages)}, {audit.columns(op, company)} FROM {rows} c"
    sql += joined
    if seen is not None:
        sql += (
            f" WHERE NOT EXISTS (SELECT 1 FROM {seen} s "
            f"WHERE {on_keys(keys, 's', 'c')} AND s._cursor = c.{qi(cursor)})"
            + filled_sql(filled, " OR ")
        )
    return sql


def deletes_sql(audit: Audit, keys: list[str], known: str, current_keys: str) -> str:
    """A ``d`` row for each key bronze has alive that the source no longer has (rows with
    a NULL key name no key: whether one went cannot be told, and none is deleted)."""
    named = " AND ".join(f"k.{qi(k)} IS NOT NULL" for k in keys)
    return (
        f"SELECT {', '.join(f'k.{qi(k)}' for k in keys)}, "
        f"{audit.columns(ql('d'), 'k._company_id')} FROM {known} k "
        f"WHERE k._op <> 'd' AND {named} AND NOT EXISTS "
        f"(SELECT 1 FROM {current_keys} s WHERE {on_keys(keys, 's', 'k')})"
    )


# Keys' checksum: count, sum and sum of squares modulo a prime (which fit 64-bit
# integers whatever the key), summed exactly by PostgreSQL and DuckDB alike.
CHECKSUM_PRIME = 1_000_003


def live_keys_sql(rows: str, source: str | None, key: str) -> str:
    """The checksum of the keys alive in bronze rows ``rows`` (of ``source``): a key is
    alive after an ``i`` row and dead after a ``d`` row, which alternate, so the keys
    alive are the ``i`` rows counted +1 and the ``d`` rows -1, with no lookup per key."""
    where = "_op IN ('i', 'd')" + (f" AND _source = {ql(source)}" if source is not None else "")
    w = "CAST(CASE WHEN _op = 'i' THEN 1 ELSE -1 END AS HUGEINT)"
    k, p = f"CAST({qi(key)} AS BIGINT)", CHECKSUM_PRIME
    return (
        f"SELECT coalesce(sum({w}), 0), coalesce(sum({w} * {k}), 0), "
        f"coalesce(sum({w} * (({k} % {p}) * ({k} % {p}))), 0) FROM {rows} WHERE {where}"
    )


def side_sql(shape: Shape, audit: Audit, keys: list[str], main: str, side_known: str | None) -> str:
    """Company-dependent values, one row per key and company: from the main rows just
    written (``main``), and a ``d`` row for each (key, company) bronze had alive whose
    key was written (changed or deleted) without a value for that company now."""
    dependent = shape.by_company
    key_cols = ", ".join(f"m.{qi(k)}" for k in keys)
    pairs = " UNION ".join(
        f"SELECT {key_cols}, TRY_CAST(j.key AS BIGINT) AS company_id FROM {main} m, "
        f"json_each(m.{qi(c.name)}) j WHERE m._op <> 'd' AND m.{qi(c.name)} IS NOT NULL"
        for c in dependent
    )
    values = ", ".join(
        f"TRY_CAST(m.{qi(c.name)} ->> CAST(p.company_id AS VARCHAR) AS {c.company_type}) "
        f"AS {qi(c.name)}"
        for c in dependent
    )
    p_keys = ", ".join(f"p.{qi(k)}" for k in keys)
    op = "'i'"
    joined = ""
    if side_known is not None:
        joined = f" LEFT JOIN {side_known} k ON {on_keys([*keys, 'company_id'], 'p', 'k')}"
        op = f"CASE WHEN k.{qi(keys[0])} IS NULL OR k._op = 'd' THEN 'i' ELSE 'u' END"
    sql = (
        f"SELECT {p_keys}, p.company_id, {values}, {audit.columns(op, 'p.company_id')} "
        f"FROM ({pairs}) p JOIN {main} m ON {on_keys(keys, 'p', 'm')}{joined} "
        "WHERE p.company_id IS NOT NULL"
    )
    if side_known is None:
        return sql
    gone = (
        f"SELECT {', '.join(f'k.{qi(k)}' for k in keys)}, k.company_id, "
        f"{audit.columns(ql('d'), 'k.company_id')} FROM {side_known} k "
        f"SEMI JOIN {main} m ON {on_keys(keys, 'k', 'm')} "
        f"WHERE k._op <> 'd' AND NOT EXISTS (SELECT 1 FROM ({pairs}) p "
        f"WHERE {on_keys([*keys, 'company_id'], 'p', 'k')})"
    )
    return f"{sql} UNION ALL BY NAME {gone}"


def duck_type(arrow_type: pa.DataType) -> str:
    """DuckDB's name of an Arrow type (to say it, or to cast to it)."""
    import pyarrow as pa  # not at import: the idle worker imports this module

    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    names = {
        pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER",
        pa.int64(): "BIGINT", pa.float32(): "REAL", pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN", pa.date32(): "DATE", pa.string(): "VARCHAR",
        pa.large_string(): "VARCHAR", pa.string_view(): "VARCHAR",
    }  # fmt: skip
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    return names.get(arrow_type, str(arrow_type).upper())
