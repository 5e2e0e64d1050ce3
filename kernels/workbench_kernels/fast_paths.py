"""Per-query costs of jupysql that do not depend on the data, taken off the query path.

For every ``%sql`` query jupysql parses the text with sqlparse three times (split into
statements, format to strip comments, split again in the connection) and compiles it as
a jinja template for ``{{variable}}`` expansion: several milliseconds, as much as DuckDB
needs to aggregate a million rows. Both are pure functions of the text, so the kernel
memoises the sqlparse calls jupysql makes (in jupysql's own modules, nobody else's) and
skips jinja for text that has no template markup. Results are the same as before; see
``tests/test_kernel_fast_paths.py`` and ``benchmarks/sql_magic.py``.
"""

from __future__ import annotations

import types
from functools import lru_cache
from typing import Any

import sqlparse

MEMO_SIZE = 256


@lru_cache(maxsize=MEMO_SIZE)
def _split(sql: str) -> tuple[str, ...]:
    return tuple(sqlparse.split(sql))


@lru_cache(maxsize=MEMO_SIZE)
def _format(sql: str, options: tuple[tuple[str, Any], ...]) -> str:
    return sqlparse.format(sql, **dict(options))


def split(sql: str, encoding: str | None = None, strip_semicolon: bool = False) -> list[str]:
    if encoding is not None or strip_semicolon or not isinstance(sql, str):
        return sqlparse.split(sql, encoding=encoding, strip_semicolon=strip_semicolon)
    return list(_split(sql))  # a list of its own: callers may change it


def format(sql: str, encoding: str | None = None, **options: Any) -> str:
    if encoding is not None or not isinstance(sql, str):
        return sqlparse.format(sql, encoding=encoding, **options)
    try:
        return _format(sql, tuple(sorted(options.items())))
    except TypeError:  # an option value that cannot be a cache key
        return sqlparse.format(sql, **options)


class _MemoisedSqlparse(types.ModuleType):
    """sqlparse as jupysql's modules see it: split and format memoised, the rest as is."""

    split = staticmethod(split)
    format = staticmethod(format)

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlparse, name)


def render(sql: str, user_ns: dict[str, Any]) -> str:
    """``jinja2.Template(sql).render(user_ns)``, without jinja when nothing is templated.

    Jinja acts only on ``{{ }}``, ``{% %}`` and ``{# #}``; a template without them renders
    to itself, less one trailing newline, with newlines normalised (so text with a
    carriage return still goes through jinja)."""
    if "{" in sql or "\r" in sql:
        from jinja2 import Template

        return Template(sql).render(user_ns)
    return sql[:-1] if sql.endswith("\n") else sql


def install() -> None:
    """Point jupysql's modules at the fast paths (idempotent)."""
    from sql import command
    from sql.connection import connection
    from sql.run import run

    memoised = _MemoisedSqlparse("sqlparse")
    for module in (run, connection):
        if getattr(module, "sqlparse", None) is sqlparse:
            module.sqlparse = memoised

    def _var_expand(self: Any, sql: str, user_ns: dict[str, Any]) -> str:
        return render(sql, user_ns)

    command.SQLCommand._var_expand = _var_expand
