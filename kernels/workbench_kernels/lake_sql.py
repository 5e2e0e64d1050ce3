"""Which statements of a ``%sql`` cell write lake tables, and what each of them asks for.

A lake table is named ``layer.name`` (``silver.invoices``). Statements that write one are
planned here and carried out through the lake library (lake_writes.py); every other
statement runs in the kernel's DuckDB as before. sqlglot reads the SQL: its tokenizer
finds the statements and the head of a CREATE or INSERT (target, options), so that the
query part runs in DuckDB exactly as written; its parser reads DELETE, UPDATE and MERGE
(lake_dml.py), whose conditions and expressions delta-rs evaluates.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import lake_dml
from .lake_statements import (
    NAME,
    CreateTable,
    Cursor,
    DeleteFrom,
    InsertInto,
    LakeStatement,
    MergeInto,
    Passthrough,
    Refused,
    Statement,
    Unsupported,
    UpdateSet,
    check_name,
    layer_table,
    lineage_sql,
)

__all__ = [
    "CreateTable",
    "DeleteFrom",
    "InsertInto",
    "LakeStatement",
    "MergeInto",
    "Passthrough",
    "Refused",
    "Statement",
    "UpdateSet",
    "lineage_sql",
    "plan",
]

# Cheap look before tokenizing: a cell without these words writes no table.
WRITE_WORDS = re.compile(r"\b(create|insert|delete|update|merge|drop|alter|truncate)\b", re.I)
QUERY_STARTS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE", "PIVOT", "UNPIVOT"})


def plan(sql: str) -> list[Statement] | None:
    """The statements of ``sql`` if one of them is on a lake table, else None."""
    if not WRITE_WORDS.search(sql):
        return None
    return _plan(sql)


@lru_cache(maxsize=256)
def _plan(sql: str) -> list[Statement] | None:
    from sqlglot.errors import SqlglotError

    try:
        tokens = _dialect().tokenize(sql)
    except (SqlglotError, ValueError):
        return None  # DuckDB says what is wrong with it
    statements: list[Statement] = []
    found = False
    for group in _split(tokens):
        text = sql[group[0].start : group[-1].end + 1]
        planned = _statement(text, _dialect().tokenize(text))
        found = found or not isinstance(planned, Passthrough)
        statements.append(planned)
    return statements if found else None


@lru_cache(maxsize=1)
def _dialect():
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise("duckdb")


def _split(tokens: list) -> list[list]:
    from sqlglot.tokens import TokenType

    groups, current = [], []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                groups.append(current)
            current = []
        else:
            current.append(token)
    if current:
        groups.append(current)
    return groups


def _statement(text: str, tokens: list) -> Statement:
    cursor = Cursor(text, tokens)
    first = cursor.peek()
    handlers = {
        "CREATE": _create,
        "INSERT": _insert,
        "DELETE": lake_dml.delete,
        "UPDATE": lake_dml.update,
        "MERGE": lake_dml.merge,
        "TRUNCATE": _truncate,
        "DROP": _drop_or_alter,
        "ALTER": _drop_or_alter,
    }
    handler = handlers.get(first)
    if handler is None:
        return Passthrough(text)
    try:
        return handler(cursor)
    except Unsupported as exc:
        table = exc.args[1] if len(exc.args) > 1 else ""
        return Refused(table, text, str(exc.args[0]))


def _create(c: Cursor) -> Statement:
    c.accept("CREATE")
    replace = c.accept("OR", "REPLACE")
    temporary = c.accept("TEMP") or c.accept("TEMPORARY")
    if c.accept("MATERIALIZED", "VIEW") or c.accept("VIEW"):
        c.accept("IF", "NOT", "EXISTS")
        table = layer_table(c.name())
        if table is None or temporary:
            return Passthrough(c.text)
        raise Unsupported(
            f"{table} would be a view in this kernel only, not a lake table: CREATE TABLE "
            f"{table} AS ... writes one to the lake (for a view of your own, use a name "
            "without a layer)",
            table,
        )
    if not c.accept("TABLE"):
        return Passthrough(c.text)
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    table = layer_table(c.name())
    if table is None or temporary:
        return Passthrough(c.text)
    check_name(table)
    columns = c.group()
    columns_sql = c.span(columns[0] - 1, columns[1] + 1) if columns else None
    partition_by: tuple[str, ...] = ()
    if c.partition_by():
        inner = c.group()
        if inner is None:
            raise Unsupported(f"{table}: PARTITIONED BY takes (column, ...)", table)
        partition_by = tuple(_names(c, *inner))
    if c.accept("AS"):
        if columns_sql is not None:
            raise Unsupported(
                f"{table}: give either column definitions or AS <query>, not both", table
            )
        query = c.rest()
        if not query:
            raise Unsupported(f"{table}: AS needs a query", table)
        return CreateTable(table, c.text, query, None, replace, if_not_exists, partition_by)
    if c.done() and columns_sql is not None:
        return CreateTable(table, c.text, None, columns_sql, replace, if_not_exists, partition_by)
    raise Unsupported(
        f"{table}: CREATE TABLE on the lake takes AS <query> or (column definitions) "
        f"[PARTITIONED BY (column, ...)], not {c.peek() or 'nothing'!s}",
        table,
    )


def _names(c: Cursor, first: int, last: int) -> list[str]:
    """Column names listed between tokens ``first`` and ``last`` (comma-separated)."""
    from sqlglot.tokens import TokenType

    names = []
    for token in c.tokens[first:last]:
        if token.token_type == TokenType.COMMA:
            continue
        if not NAME.fullmatch(token.text):
            raise Unsupported(f"{token.text!r} is not a column name")
        names.append(token.text)
    return names


def _insert(c: Cursor) -> Statement:
    c.accept("INSERT")
    upsert = c.peek() if c.accept("OR") else None
    if upsert:
        c.i += 1
    if not c.accept("INTO"):
        return Passthrough(c.text)
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    check_name(table)
    if upsert:
        raise Unsupported(
            f"{table}: INSERT OR {upsert} needs a primary key, which lake tables do not "
            "have; MERGE INTO ... USING ... ON <key> replaces rows by key",
            table,
        )
    if c.accept("AS"):
        c.name()
    columns = None
    if c.peek() == "(" and c.peek(1) not in QUERY_STARTS and c.peek(1) != "(":
        inner = c.group()
        columns = tuple(_names(c, *inner)) if inner else None
    by_name = False
    if c.accept("BY", "NAME"):
        by_name = True
    else:
        c.accept("BY", "POSITION")
    if c.peek() == "DEFAULT":
        raise Unsupported(f"{table}: DEFAULT VALUES: lake tables have no defaults", table)
    query = c.rest()
    if not query:
        raise Unsupported(f"{table}: INSERT needs a query or VALUES", table)
    tail = _top_level_words(c)
    if "RETURNING" in tail or ("ON", "CONFLICT") in tail:
        raise Unsupported(
            f"{table}: ON CONFLICT and RETURNING need keys DuckDB knows, which lake tables do "
            "not have; MERGE INTO ... USING ... ON <key> replaces rows by key",
            table,
        )
    return InsertInto(table, c.text, query, columns, by_name)


def _top_level_words(c: Cursor) -> set:
    """Words (and ``ON CONFLICT``) outside parentheses from the cursor on."""
    found: set = set()
    depth = 0
    for at in range(c.i, len(c.tokens)):
        text = c.tokens[at].text.upper()
        depth += text == "("
        depth -= text == ")"
        if depth == 0:
            found.add(text)
            if text == "ON" and at + 1 < len(c.tokens):
                found.add(("ON", c.tokens[at + 1].text.upper()))
    return found


def _truncate(c: Cursor) -> Statement:
    c.accept("TRUNCATE")
    c.accept("TABLE")
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    check_name(table)
    return DeleteFrom(table, c.text)


def _drop_or_alter(c: Cursor) -> Statement:
    verb = c.peek()
    c.i += 1
    if not (c.accept("TABLE") or c.accept("VIEW")):
        return Passthrough(c.text)
    c.accept("IF", "EXISTS")
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    if verb == "DROP":
        raise Unsupported(
            f"{table}: lake tables are not dropped from %sql (their versions are the "
            "record of past runs); DELETE FROM removes the rows in a new version, and the "
            "lake's owner can remove the table's folder",
            table,
        )
    raise Unsupported(
        f"{table}: ALTER is not supported on lake tables; CREATE OR REPLACE TABLE {table} AS "
        "SELECT ... writes a new version with the columns you want",
        table,
    )
