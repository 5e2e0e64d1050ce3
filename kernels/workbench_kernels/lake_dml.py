"""DELETE, UPDATE and MERGE on lake tables, read with sqlglot's parser.

delta-rs evaluates a DELETE's or UPDATE's condition and values on the table's files, so
they are turned into SQL it reads (identifiers quoted, a SET value's fractional numbers
exact); they may name only the table's columns. A MERGE is the lake's upsert by key: its
source query runs in DuckDB as written, its clauses say which columns are written and
which source rows delete their key.
"""

from __future__ import annotations

from .lake_statements import (
    MERGE_SHAPE,
    Cursor,
    DeleteFrom,
    MergeInto,
    Passthrough,
    Statement,
    Unsupported,
    UpdateSet,
    check_name,
    layer_table,
)


def _parse(c: Cursor, table: str):
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return sqlglot.parse_one(c.text, read="duckdb")
    except (SqlglotError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:200]
        raise Unsupported(f"{table}: this statement could not be read ({reason})", table) from None


def delete(c: Cursor) -> Statement:
    from sqlglot import exp

    c.accept("DELETE")
    c.accept("FROM")
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Delete):
        raise Unsupported(f"{table}: this statement could not be read as a DELETE", table)
    if node.args.get("using") or node.args.get("returning"):
        raise Unsupported(
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


def update(c: Cursor) -> Statement:
    from sqlglot import exp

    c.accept("UPDATE")
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Update):
        raise Unsupported(f"{table}: this statement could not be read as an UPDATE", table)
    if node.args.get("from_") or node.args.get("from") or node.args.get("returning"):
        raise Unsupported(
            f"{table}: UPDATE ... FROM/RETURNING is not supported on lake tables; "
            f"MERGE INTO {table} USING (SELECT ...) AS s ON ... WHEN MATCHED THEN UPDATE "
            "SET * sets rows from a query",
            table,
        )
    aliases = _aliases(node.this)
    values, checks = {}, {}
    for assignment in node.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise Unsupported(f"{table}: SET takes column = expression", table)
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
        raise Unsupported(
            f"{table}: a subquery here is not supported on lake tables (delta-rs evaluates the "
            f"condition on {table} alone); MERGE INTO {table} USING (SELECT ...) AS s ON ... "
            "acts on the rows a query finds",
            table,
        )
    copy = expression.copy()
    for column in copy.find_all(exp.Column):
        qualifier = ".".join(p for p in (column.db, column.table) if p)
        if qualifier and qualifier not in aliases:
            raise Unsupported(
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


def merge(c: Cursor) -> Statement:
    from sqlglot import exp

    c.accept("MERGE")
    c.accept("INTO")
    table = layer_table(c.name())
    if table is None:
        return Passthrough(c.text)
    check_name(table)
    node = _parse(c, table)
    if not isinstance(node, exp.Merge):
        raise Unsupported(f"{table}: this statement could not be read as a MERGE", table)
    source_sql, source_table = _merge_source(c, table)
    using = node.args["using"]
    alias = using.alias or (using.name if isinstance(using, exp.Table) else "")
    if not alias:
        raise Unsupported(f"{table}: name the MERGE's source: USING (...) AS s", table)
    target_names = _aliases(node.this)
    keys = _merge_keys(node, target_names, alias, table)
    delete_marker, delete_all, update, insert = None, False, None, None
    for when in node.args["whens"].expressions:
        then, condition = when.args.get("then"), when.args.get("condition")
        if when.args.get("source"):
            raise Unsupported(f"{table}: WHEN NOT MATCHED BY SOURCE: {MERGE_SHAPE}", table)
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
            raise Unsupported(f"{table}: {when.sql(dialect='duckdb')}: {MERGE_SHAPE}", table)
    if delete_all:
        if update is not None or insert is not None or delete_marker is not None:
            raise Unsupported(f"{table}: {MERGE_SHAPE}", table)
        return MergeInto(table, c.text, source_sql, alias, keys, (), None, True, source_table)
    if update is None or insert is None:
        raise Unsupported(f"{table}: {MERGE_SHAPE}", table)
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
        raise Unsupported(
            f"{table}: UPDATE SET and INSERT must write the same columns "
            f"({', '.join(update)} vs {', '.join(insert)})",
            table,
        )
    return MergeInto(
        table, c.text, source_sql, alias, keys, columns, delete_marker, False, source_table
    )


def _merge_source(c: Cursor, table: str) -> tuple[str, str | None]:
    """The DuckDB query of ``USING <source>`` as written, and the table it names (if it
    names one rather than a query)."""
    c.accept("AS") and c.name()
    if c.peek() not in ("USING",):
        c.name()  # an alias without AS
    if not c.accept("USING"):
        raise Unsupported(f"{table}: MERGE needs USING <source>", table)
    inner = c.group()
    if inner is not None:
        return c.span(*inner).strip(), None
    start = c.i
    parts = c.name()
    if not parts:
        raise Unsupported(f"{table}: MERGE's USING takes a table or (query)", table)
    name = c.span(start, c.i)
    return f"SELECT * FROM {name}", name


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
            raise Unsupported(
                f"{table}: ON {condition.sql(dialect='duckdb')}: the lake merges by key "
                "equality only (t.key = s.key AND ...)",
                table,
            )
        left, right = part.this, part.expression
        if left.table == alias and right.table in target:
            left, right = right, left
        if left.table not in target or right.table != alias:
            raise Unsupported(
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
    raise Unsupported(
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
            raise Unsupported(
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
        raise Unsupported(
            f"{table}: INSERT {shown}: insert the source's columns of "
            f"the same names (INSERT (a, b) VALUES ({alias}.a, {alias}.b), or INSERT *)",
            table,
        )
    return names
