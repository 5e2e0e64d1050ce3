"""The kernel's fast paths through jupysql give exactly what jupysql's own code gives."""

from __future__ import annotations

import pytest
import sqlparse
from jinja2 import Template

from workbench_kernels import fast_paths

TEXTS = [
    "SELECT 1",
    "SELECT 1\n",
    "SELECT 1\n\n",
    "  select * from t ;  ",
    "SELECT 1; SELECT 2;",
    "SELECT 1; -- trailing comment",
    "/* block */ SELECT a -- why\nFROM t; INSERT INTO u VALUES (';')",
    "SELECT '{not a template}' AS braces",
    "SELECT '{{ x }}' AS templated",
    "SELECT {{ limit }} AS n {# a jinja comment #}",
    "{% if limit %}SELECT {{ limit }}{% endif %}",
    "SELECT 1\r\nFROM t\r\n",
    "",
    "   ",
    "CREATE TABLE t AS SELECT $$;$$ AS semi",
]


@pytest.mark.parametrize("text", TEXTS)
def test_split_and_format_are_sqlparse(text: str) -> None:
    for _ in range(2):  # the memoised second call too
        assert fast_paths.split(text) == sqlparse.split(text)
        assert fast_paths.format(text, strip_comments=True) == sqlparse.format(
            text, strip_comments=True
        )
        assert fast_paths.format(text, reindent=True, keyword_case="upper") == sqlparse.format(
            text, reindent=True, keyword_case="upper"
        )


def test_callers_get_a_list_of_their_own() -> None:
    first = fast_paths.split("SELECT 1; SELECT 2")
    first.append("changed")
    assert fast_paths.split("SELECT 1; SELECT 2") == ["SELECT 1;", "SELECT 2"]


@pytest.mark.parametrize("text", TEXTS)
def test_render_is_jinja(text: str) -> None:
    names = {"limit": 5, "x": "y"}
    assert fast_paths.render(text, names) == Template(text).render(names)


def test_jupysql_modules_use_the_fast_paths_and_others_do_not() -> None:
    from sql import command
    from sql.connection import connection
    from sql.run import run

    fast_paths.install()
    fast_paths.install()  # idempotent
    assert run.sqlparse.split is fast_paths.split
    assert connection.sqlparse.split is fast_paths.split
    assert run.sqlparse.tokens is sqlparse.tokens  # everything else is sqlparse's own
    assert sqlparse.split is not fast_paths.split  # sqlparse itself is untouched
    rendered = command.SQLCommand._var_expand(None, "SELECT {{ n }}\n", {"n": 3})
    assert rendered == "SELECT 3"
