"""What a ``%sql`` statement on a lake table asks for (planned by lake_sql.py, carried
out by lake_writes.py), and the token cursor both SQL readers share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench_server.lake_layout import LAYERS

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
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
    source_table: str | None = None  # USING names a table (not a query): its name


@dataclass(frozen=True)
class Refused:
    """A statement on a lake table that the lake cannot carry out; ``message`` says why
    and what to do instead."""

    table: str
    text: str
    message: str


LakeStatement = CreateTable | InsertInto | DeleteFrom | UpdateSet | MergeInto | Refused
Statement = Passthrough | LakeStatement


class Unsupported(Exception):
    """A lake statement this module cannot carry out (becomes :class:`Refused`)."""


class Cursor:
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


def layer_table(parts: list[str]) -> str | None:
    """``layer.name`` when ``parts`` name a lake table, else None. The layer is
    DuckDB's schema, whose names are not case sensitive: ``SILVER.x`` is ``silver.x``
    (read as the lake's view, it must not be written to the kernel's memory)."""
    if len(parts) == 2 and parts[0].lower() in LAYERS:
        return f"{parts[0].lower()}.{parts[1]}"
    return None


def check_name(table: str) -> None:
    name = table.split(".", 1)[1]
    if not NAME.fullmatch(name):
        raise Unsupported(
            f"{table!r} is not a lake table name: use layer.name with a name of letters, "
            "digits and _ (e.g. silver.invoices)",
            table,
        )


def lineage_sql(
    statement: LakeStatement, written: Sequence[tuple[str, str]] | None = None
) -> str | None:
    """SQL the workbench's lineage reads for a lake write (None: no lineage to record).

    A MERGE is the insert of its source's columns: ``written`` (target, source column)
    pairs, as the write found them, or those the statement names."""
    if isinstance(statement, CreateTable) and statement.query is not None:
        return statement.text
    if isinstance(statement, InsertInto):
        return statement.text
    if isinstance(statement, MergeInto) and not statement.delete_only:
        if written is None:
            written = [*statement.keys, *((c, c) for c in statement.columns or ())]
        alias = statement.alias
        if statement.columns is None and not written:
            select, target = f"SELECT {alias}.*", statement.table
        else:
            select = "SELECT " + ", ".join(f"{alias}.{s} AS {t}" for t, s in written)
            target = f"{statement.table} ({', '.join(t for t, _ in written)})"
        source = statement.source_table or f"({statement.source})"
        return f"INSERT INTO {target} {select} FROM {source} AS {alias}"
    return None
