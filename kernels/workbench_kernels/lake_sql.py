"""Which statements of a ``%sql`` cell write lake tables, and what each of them asks for.

A lake table is named ``layer.name`` (``silver.invoices``). Statements that write one are
planned here and carried out through the lake library (lake_writes.py); every other
statement runs in the kernel's DuckDB as before. sqlglot reads the SQL: its tokenizer
finds the statements and the head of a CREATE or INSERT (target, options), so that the
query part runs in DuckDB exactly as written; its parser reads DELETE, UPDATE and MERGE,
whose conditions and expressions delta-rs evaluates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from workbench_server.lake_layout import LAYERS

# Cheap look before tokenizing: a cell without these words writes no table.
WRITE_WORDS = re.compile(r"\b(create|insert|delete|update|merge|drop|alter|truncate)\b", re.I)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
QUERY_STARTS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE", "PIVOT", "UNPIVOT"})
MERGE_SHAPE = (
    "the lake's MERGE is an upsert by key: ON t.<key> = s.<key> [AND ...], then "
    "[WHEN MATCHED AND s.<column> = '<value>' THEN DELETE] WHEN MATCHED THEN UPDATE SET * "
    "WHEN NOT MATCHED THEN INSERT * (or only WHEN MATCHED THEN DELETE); for anything else "
    "compute the rows in SQL and write them with lake.write(..., mode='merge', keys=[...])"
)


@dataclass(frozen=True)
class Passthrough:
    """A statement DuckDB runs as it is."""

    text: str


@dataclass(frozen=True)
class CreateTable:
    """``CREATE [OR REPLACE] TABLE layer.x [PARTITIONED BY (...)] AS <query>`` or
    ``CREATE TABLE layer.x (<column definitions>)``."""

    table: str
    text: str
    query: str | None
    columns_sql: str | None = None
    replace: bool = False
    if_not_exists: bool = False
    partition_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class InsertInto:
    """``INSERT INTO layer.x [(columns)] [BY NAME] <query>``."""

    table: str
    text: str
    query: str
    columns: tuple[str, ...] | None = None
    by_name: bool = False


@dataclass(frozen=True)
class DeleteFrom:
    """``DELETE FROM layer.x [WHERE ...]`` (and ``TRUNCATE layer.x``).

    ``where`` is for delta-rs, ``check`` the same predicate for DuckDB to bind first."""

    table: str
    text: str
    where: str | None = None
    check: str | None = None


@dataclass(frozen=True)
class UpdateSet:
    """``UPDATE layer.x SET c = <expr>, ... [WHERE ...]``."""

    table: str
    text: str
    values: dict[str, str] = field(default_factory=dict)  # column -> delta-rs SQL
    checks: dict[str, str] = field(default_factory=dict)  # column -> DuckDB SQL
    where: str | None = None
    check: str | None = None


@dataclass(frozen=True)
class MergeInto:
    """An upsert by key (see MERGE_SHAPE): the source query runs in DuckDB."""

    table: str
    text: str
    source: str  # a DuckDB query whose rows are the merge's source
    alias: str  # the source's name in the statement (``s``)
    keys: tuple[tuple[str, str], ...]  # (target column, source column)
    columns: tuple[str, ...] | None = None  # written besides the keys; None: all
    delete_marker: tuple[str, str] | None = None  # (source column, value)
    delete_only: bool = False


@dataclass(frozen=True)
class Refused:
    """A statement on a lake table that the lake cannot carry out; ``message`` says why
    and what to do instead."""

    table: str
    text: str
    message: str


LakeStatement = CreateTable | InsertInto | DeleteFrom | UpdateSet | MergeInto | Refused
Statement = Passthrough | LakeStatement


class _Unsupported(Exception):
    """A lake statement this module cannot carry out (becomes :class:`Refused`)."""


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


class _Cursor:
    """Walks a statement's tokens; words are compared by their upper-case text."""

    def __init__(self, text: str, tokens: list) -> None:
        self.text, self.tokens, self.i = text, tokens, 0

    def peek(self, offset: int = 0) -> str:
        at = self.i + offset
        return self.tokens[at].text.upper() if at < len(self.tokens) else ""

    def accept(self, *words: str) -> bool:
        if all(self.peek(n) == w for n, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def partition_by(self) -> bool:
        """``PARTITIONED BY`` (Delta's and Spark's words) or ``PARTITION BY``."""
        from sqlglot.tokens import TokenType

        if self.i < len(self.tokens) and self.tokens[self.i].token_type == TokenType.PARTITION_BY:
            self.i += 1
            return True
        return self.accept("PARTITIONED", "BY") or self.accept("PARTITION", "BY")

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def name(self) -> list[str]:
        """A dotted name (``silver.x``, ``"silver"."x"``): its parts."""
        from sqlglot.tokens import TokenType

        parts = []
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            if token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER) and not (
                parts and NAME.fullmatch(token.text)
            ):
                break
            parts.append(token.text)
            self.i += 1
            if self.peek() != ".":
                break
            self.i += 1
        return parts

    def group(self) -> tuple[int, int] | None:
        """Skip a parenthesised group; its tokens' index range (inside the parentheses)."""
        if self.peek() != "(":
            return None
        depth, start = 0, self.i
        for at in range(self.i, len(self.tokens)):
            text = self.tokens[at].text
            depth += text == "("
            depth -= text == ")"
            if depth == 0:
                self.i = at + 1
                return start + 1, at
        return None

    def rest(self) -> str:
        """The statement's text from the current token on."""
        return self.text[self.tokens[self.i].start :].strip() if not self.done() else ""

    def span(self, first: int, last: int) -> str:
        """The text of tokens ``first`` to ``last - 1``."""
        return self.text[self.tokens[first].start : self.tokens[last - 1].end + 1]


def _layer_table(parts: list[str]) -> str | None:
    """``layer.name`` when ``parts`` name a lake table, else None."""
    if len(parts) == 2 and parts[0] in LAYERS:
        return f"{parts[0]}.{parts[1]}"
    return None


def _statement(text: str, tokens: list) -> Statement:
    cursor = _Cursor(text, tokens)
    first = cursor.peek()
    handlers = {
        "CREATE": _create,
        "INSERT": _insert,
        "DELETE": _delete,
        "UPDATE": _update,
        "MERGE": _merge,
        "TRUNCATE": _truncate,
        "DROP": _drop_or_alter,
        "ALTER": _drop_or_alter,
    }
    handler = handlers.get(first)
    if handler is None:
        return Passthrough(text)
    try:
        return handler(cursor)
    except _Unsupported as exc:
        table = exc.args[1] if len(exc.args) > 1 else ""
        return Refused(table, text, str(exc.args[0]))


def _create(c: _Cursor) -> Statement:
    c.accept("CREATE")
    replace = c.accept("OR", "REPLACE")
    temporary = c.accept("TEMP") or c.accept("TEMPORARY")
    if c.accept("MATERIALIZED", "VIEW") or c.accept("VIEW"):
        c.accept("IF", "NOT", "EXISTS")
        table = _layer_table(c.name())
        if table is None or temporary:
            return Passthrough(c.text)
        raise _Unsupported(
            f"{table} would be a view in this kernel only, not a lake table: CREATE TABLE "
            f"{table} AS ... writes one to the lake (for a view of your own, use a name "
            "without a layer)",
            table,
        )
    if not c.accept("TABLE"):
        return Passthrough(c.text)
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    table = _layer_table(c.name())
    if table is None or temporary:
        return Passthrough(c.text)
    _check_name(table)
    columns = c.group()
    columns_sql = c.span(columns[0] - 1, columns[1] + 1) if columns else None
    partition_by: tuple[str, ...] = ()
    if c.partition_by():
        inner = c.group()
        if inner is None:
            raise _Unsupported(f"{table}: PARTITIONED BY takes (column, ...)", table)
        partition_by = tuple(_names(c, *inner))
    if c.accept("AS"):
        if columns_sql is not None:
            raise _Unsupported(
                f"{table}: give either column definitions or AS <query>, not both", table
            )
        query = c.rest()
        if not query:
            raise _Unsupported(f"{table}: AS needs a query", table)
        return CreateTable(table, c.text, query, None, replace, if_not_exists, partition_by)
    if c.done() and columns_sql is not None:
        return CreateTable(table, c.text, None, columns_sql, replace, if_not_exists, partition_by)
    raise _Unsupported(
        f"{table}: CREATE TABLE on the lake takes AS <query> or (column definitions) "
        f"[PARTITIONED BY (column, ...)], not {c.peek() or 'nothing'!s}",
        table,
    )


def _names(c: _Cursor, first: int, last: int) -> list[str]:
    """Column names listed between tokens ``first`` and ``last`` (comma-separated)."""
    from sqlglot.tokens import TokenType

    names = []
    for token in c.tokens[first:last]:
        if token.token_type == TokenType.COMMA:
            continue
        if not NAME.fullmatch(token.text):
            raise _Unsupported(f"{token.text!r} is not a column name")
        names.append(token.text)
    return names


def _insert(c: _Cursor) -> Statement:
    c.accept("INSERT")
    upsert = c.peek() if c.accept("OR") else None
    if upsert:
        c.i += 1
    if not c.accept("INTO"):
        return Passthrough(c.text)
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    _check_name(table)
    if upsert:
        raise _Unsupported(
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
        raise _Unsupported(f"{table}: DEFAULT VALUES: lake tables have no defaults", table)
    query = c.rest()
    if not query:
        raise _Unsupported(f"{table}: INSERT needs a query or VALUES", table)
    tail = _top_level_words(c)
    if "RETURNING" in tail or ("ON", "CONFLICT") in tail:
        raise _Unsupported(
            f"{table}: ON CONFLICT and RETURNING need keys DuckDB knows, which lake tables do "
            "not have; MERGE INTO ... USING ... ON <key> replaces rows by key",
            table,
        )
    return InsertInto(table, c.text, query, columns, by_name)


def _top_level_words(c: _Cursor) -> set:
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


def _truncate(c: _Cursor) -> Statement:
    c.accept("TRUNCATE")
    c.accept("TABLE")
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    _check_name(table)
    return DeleteFrom(table, c.text)


def _drop_or_alter(c: _Cursor) -> Statement:
    verb = c.peek()
    c.i += 1
    if not (c.accept("TABLE") or c.accept("VIEW")):
        return Passthrough(c.text)
    c.accept("IF", "EXISTS")
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    if verb == "DROP":
        raise _Unsupported(
            f"{table}: lake tables are not dropped from %sql (their versions are the "
            "record of past runs); DELETE FROM removes the rows in a new version, and the "
            "lake's owner can remove the table's folder",
            table,
        )
    raise _Unsupported(
        f"{table}: ALTER is not supported on lake tables; CREATE OR REPLACE TABLE {table} AS "
        "SELECT ... writes a new version with the columns you want",
        table,
    )


def _check_name(table: str) -> None:
    name = table.split(".", 1)[1]
    if not NAME.fullmatch(name):
        raise _Unsupported(
            f"{table!r} is not a lake table name: use layer.name with a name of letters, "
            "digits and _ (e.g. silver.invoices)",
            table,
        )


# -- statements delta-rs evaluates: DELETE, UPDATE, MERGE --------------------------------
def _parse(c: _Cursor, table: str):
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return sqlglot.parse_one(c.text, read="duckdb")
    except (SqlglotError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:200]
        raise _Unsupported(f"{table}: this statement could not be read ({reason})", table) from None


def _delete(c: _Cursor) -> Statement:
    from sqlglot import exp

    c.accept("DELETE")
    c.accept("FROM")
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    _check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Delete):
        raise _Unsupported(f"{table}: this statement could not be read as a DELETE", table)
    if node.args.get("using") or node.args.get("returning"):
        raise _Unsupported(
            f"{table}: DELETE ... USING/RETURNING is not supported on lake tables; "
            f"MERGE INTO {table} USING (SELECT ...) AS s ON ... WHEN MATCHED THEN DELETE "
            "deletes the rows a query finds",
            table,
        )
    where = node.args.get("where")
    aliases = _aliases(node.this)
    if where is None:
        return DeleteFrom(table, c.text)
    return DeleteFrom(
        table,
        c.text,
        _for_delta(where.this, aliases, table),
        _for_duckdb(where.this, aliases),
    )


def _update(c: _Cursor) -> Statement:
    from sqlglot import exp

    c.accept("UPDATE")
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    _check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Update):
        raise _Unsupported(f"{table}: this statement could not be read as an UPDATE", table)
    if node.args.get("from_") or node.args.get("from") or node.args.get("returning"):
        raise _Unsupported(
            f"{table}: UPDATE ... FROM/RETURNING is not supported on lake tables; "
            f"MERGE INTO {table} USING (SELECT ...) AS s ON ... WHEN MATCHED THEN UPDATE "
            "SET * sets rows from a query",
            table,
        )
    aliases = _aliases(node.this)
    values, checks = {}, {}
    for assignment in node.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise _Unsupported(f"{table}: SET takes column = expression", table)
        column = assignment.this.name
        values[column] = _for_delta(assignment.expression, aliases, table, exact=True)
        checks[column] = _for_duckdb(assignment.expression, aliases)
    where = node.args.get("where")
    return UpdateSet(
        table,
        c.text,
        values,
        checks,
        _for_delta(where.this, aliases, table) if where is not None else None,
        _for_duckdb(where.this, aliases) if where is not None else None,
    )


def _aliases(target) -> set[str]:
    """The names a statement's columns may be qualified with for its target table."""
    names = {target.name, f"{target.db}.{target.name}"}
    if target.alias:
        names.add(target.alias)
    return names


def _unqualified(expression, aliases: set[str], table: str):
    """A copy of ``expression`` with the target's qualifiers removed; refused when it reads
    another table (delta-rs sees only the target's columns)."""
    from sqlglot import exp

    if expression.find(exp.Subquery, exp.Select, exp.Exists):
        raise _Unsupported(
            f"{table}: a subquery here is not supported on lake tables (delta-rs evaluates the "
            f"condition on {table} alone); MERGE INTO {table} USING (SELECT ...) AS s ON ... "
            "acts on the rows a query finds",
            table,
        )
    copy = expression.copy()
    for column in copy.find_all(exp.Column):
        qualifier = ".".join(p for p in (column.db, column.table) if p)
        if qualifier and qualifier not in aliases:
            raise _Unsupported(
                f"{table}: {column.sql()} is not a column of {table}; MERGE INTO {table} "
                "USING ... reads other tables",
                table,
            )
        column.set("table", None)
        column.set("db", None)
    return copy


def _for_duckdb(expression, aliases: set[str]) -> str:
    return _unqualified(expression, aliases, "").sql(dialect="duckdb")


def _for_delta(expression, aliases: set[str], table: str, exact: bool = False) -> str:
    """SQL for delta-rs (DataFusion), identifiers quoted (it lower-cases bare ones).

    With ``exact`` (a SET value), numbers with a fraction become DECIMAL: DataFusion reads
    them as DOUBLE, and ``amount * 1.1`` would drift. A condition keeps them as written:
    delta-rs compares a DECIMAL column only with a number of the very same type there."""
    from sqlglot import exp

    copy = _unqualified(expression, aliases, table)
    if not exact:
        return copy.sql(dialect="duckdb", identify=True)

    def decimal(node):
        if isinstance(node, exp.Literal) and not node.is_string and "." in node.this:
            digits = node.this.lstrip("-+")
            whole, _, fraction = digits.partition(".")
            if whole.isdigit() or not whole:
                if fraction.isdigit():
                    precision = max(len(whole.lstrip("0")) + len(fraction), 1)
                    return exp.cast(
                        exp.Literal.string(node.this),
                        exp.DataType.build(f"DECIMAL({min(precision, 38)}, {len(fraction)})"),
                    )
        return node

    return copy.transform(decimal).sql(dialect="duckdb", identify=True)


def _merge(c: _Cursor) -> Statement:
    from sqlglot import exp

    c.accept("MERGE")
    c.accept("INTO")
    table = _layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    _check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Merge):
        raise _Unsupported(f"{table}: this statement could not be read as a MERGE", table)
    source_sql = _merge_source(c, table)
    using = node.args["using"]
    alias = using.alias or (using.name if isinstance(using, exp.Table) else "")
    if not alias:
        raise _Unsupported(f"{table}: name the MERGE's source: USING (...) AS s", table)
    target_names = _aliases(node.this)
    keys = _merge_keys(node, target_names, alias, table)
    delete_marker, delete_all, update, insert = None, False, None, None
    for when in node.args["whens"].expressions:
        then, condition = when.args.get("then"), when.args.get("condition")
        if when.args.get("source"):
            raise _Unsupported(f"{table}: WHEN NOT MATCHED BY SOURCE: {MERGE_SHAPE}", table)
        is_delete = isinstance(then, exp.Var) and then.name.upper() == "DELETE"
        if when.args.get("matched") and is_delete and update is None:
            if condition is None:
                delete_all = True
            else:
                delete_marker = _marker(condition, alias, table)
        elif when.args.get("matched") and isinstance(then, exp.Update) and condition is None:
            update = _set_columns(then, alias, dict(keys), table)
        elif not when.args.get("matched") and isinstance(then, exp.Insert) and condition is None:
            insert = _insert_columns(then, alias, dict(keys), table)
        else:
            raise _Unsupported(f"{table}: {when.sql(dialect='duckdb')}: {MERGE_SHAPE}", table)
    if delete_all:
        if update is not None or insert is not None or delete_marker is not None:
            raise _Unsupported(f"{table}: {MERGE_SHAPE}", table)
        return MergeInto(table, c.text, source_sql, alias, keys, (), None, True)
    if update is None or insert is None:
        raise _Unsupported(f"{table}: {MERGE_SHAPE}", table)
    key_names = {k for k, _ in keys}
    if update == ["*"] and insert == ["*"]:
        columns = None
    elif (
        "*" not in update
        and "*" not in insert
        and set(update) - key_names == set(insert) - key_names
    ):
        columns = tuple(name for name in update if name not in key_names)
    else:
        raise _Unsupported(
            f"{table}: UPDATE SET and INSERT must write the same columns "
            f"({', '.join(update)} vs {', '.join(insert)})",
            table,
        )
    return MergeInto(table, c.text, source_sql, alias, keys, columns, delete_marker)


def _merge_source(c: _Cursor, table: str) -> str:
    """The DuckDB query of ``USING <source>``, as written."""
    c.accept("AS") and c.name()
    if c.peek() not in ("USING",):
        c.name()  # an alias without AS
    if not c.accept("USING"):
        raise _Unsupported(f"{table}: MERGE needs USING <source>", table)
    inner = c.group()
    if inner is not None:
        return c.span(*inner).strip()
    start = c.i
    parts = c.name()
    if not parts:
        raise _Unsupported(f"{table}: MERGE's USING takes a table or (query)", table)
    return f"SELECT * FROM {c.span(start, c.i)}"


def _merge_keys(node, target: set[str], alias: str, table: str) -> tuple[tuple[str, str], ...]:
    from sqlglot import exp

    using_columns = node.args.get("using_cond")
    if using_columns:
        return tuple((i.name, i.name) for i in using_columns)
    condition = node.args.get("on")
    pairs = []
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    for part in parts:
        if isinstance(part, exp.Paren):
            part = part.unnest()
        if not (
            isinstance(part, exp.EQ)
            and isinstance(part.this, exp.Column)
            and isinstance(part.expression, exp.Column)
        ):
            raise _Unsupported(
                f"{table}: ON {condition.sql(dialect='duckdb')}: the lake merges by key "
                "equality only (t.key = s.key AND ...)",
                table,
            )
        left, right = part.this, part.expression
        if left.table == alias and right.table in target:
            left, right = right, left
        if left.table not in target or right.table != alias:
            raise _Unsupported(
                f"{table}: ON {part.sql(dialect='duckdb')}: qualify each side "
                f"(target.column = {alias}.column)",
                table,
            )
        pairs.append((left.name, right.name))
    return tuple(pairs)


def _marker(condition, alias: str, table: str) -> tuple[str, str]:
    from sqlglot import exp

    if (
        isinstance(condition, exp.EQ)
        and isinstance(condition.this, exp.Column)
        and condition.this.table == alias
        and isinstance(condition.expression, exp.Literal)
        and condition.expression.is_string
    ):
        return condition.this.name, condition.expression.this
    raise _Unsupported(
        f"{table}: WHEN MATCHED AND {condition.sql(dialect='duckdb')} THEN DELETE: the "
        f"condition must be {alias}.<column> = '<value>' (a delete marker)",
        table,
    )


def _from_source(value, alias: str, column: str, keys: dict[str, str]) -> bool:
    """Whether ``value`` is the source's column for target ``column`` (same name, or the
    source's key column the ON clause pairs with it)."""
    from sqlglot import exp

    return (
        isinstance(value, exp.Column)
        and value.table == alias
        and value.name == keys.get(column, column)
    )


def _set_columns(update, alias: str, keys: dict[str, str], table: str) -> list[str]:
    """``["*"]`` for ``UPDATE SET *`` (or bare ``UPDATE``), else the columns set, each
    from the source's column of the same name."""
    from sqlglot import exp

    expressions = update.expressions or []
    if not expressions or (len(expressions) == 1 and isinstance(expressions[0], exp.Star)):
        return ["*"]
    columns = []
    for assignment in expressions:
        value = assignment.expression if isinstance(assignment, exp.EQ) else None
        if not _from_source(value, alias, assignment.this.name, keys):
            raise _Unsupported(
                f"{table}: SET {assignment.sql(dialect='duckdb')}: each column is set from "
                f"the source's column of the same name ({alias}.<column>); compute other "
                "values in the source query",
                table,
            )
        columns.append(assignment.this.name)
    return columns


def _insert_columns(insert, alias: str, keys: dict[str, str], table: str) -> list[str]:
    from sqlglot import exp

    target, values = insert.this, insert.args.get("expression")
    if target is None or isinstance(target, exp.Star):
        return ["*"]
    names = [col.name for col in target.expressions]
    given = values.expressions if isinstance(values, exp.Tuple) else []
    ok = len(given) == len(names) and all(
        _from_source(v, alias, n, keys) for v, n in zip(given, names, strict=False)
    )
    if not ok:
        shown = f"({', '.join(names)}) VALUES ({', '.join(v.sql() for v in given)})"
        raise _Unsupported(
            f"{table}: INSERT {shown}: insert the source's columns of "
            f"the same names (INSERT (a, b) VALUES ({alias}.a, {alias}.b), or INSERT *)",
            table,
        )
    return names


def lineage_sql(statement: LakeStatement) -> str | None:
    """SQL the workbench's lineage reads for a lake write (None: no lineage to record)."""
    if isinstance(statement, CreateTable) and statement.query is not None:
        return statement.text
    if isinstance(statement, InsertInto):
        return statement.text
    if isinstance(statement, MergeInto) and not statement.delete_only:
        keys = [(t, s) for t, s in statement.keys]
        columns = [(t, s) for t, s in keys] + [(c, c) for c in statement.columns or ()]
        if statement.columns is None:
            select = f"SELECT {statement.alias}.*"
            target = statement.table
        else:
            select = "SELECT " + ", ".join(f"{statement.alias}.{s} AS {t}" for t, s in columns)
            target = f"{statement.table} ({', '.join(t for t, _ in columns)})"
        return f"INSERT INTO {target} {select} FROM ({statement.source}) AS {statement.alias}"
    return None
