"""Plain lake queries skip jupysql's per-query parsing (issue 22) and give what jupysql gives.

A real IPython shell with jupysql and the workbench's ``%sql`` (as the kernel loads them
at the first query), on a lake folder: each query runs twice, once on the direct path
and once with ``WorkbenchSqlMagics.direct = False`` (jupysql's own path), and everything a
user gets is compared: the value, its type, its text and HTML, and what was shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from IPython.utils.capture import capture_output

ROWS = 30


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from sql.connection import ConnectionManager

    from workbench_kernels.api import Bootstrap
    from workbench_kernels.extension import KernelExtension
    from workbench_kernels.registry import KernelConnections

    lake = tmp_path_factory.mktemp("lake")
    folder = lake / "bronze" / "events"
    folder.mkdir(parents=True)
    amounts = pa.array([Decimal(f"{i}.25") for i in range(ROWS)], type=pa.decimal128(12, 2))
    accounts = [i % 4 for i in range(ROWS)]
    pq.write_table(
        pa.table({"id": list(range(ROWS)), "account": accounts, "amount": amounts}),
        folder / "part-0.parquet",
    )
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    extension = KernelExtension(shell)  # its parts, without the start-up hooks
    extension._connections = KernelConnections(lambda: Bootstrap(connections={}, lake=str(lake)))
    extension._connections.refresh()
    extension.load_sql()
    yield shell
    ConnectionManager.close_all()
    ConnectionManager.current = None
    InteractiveShell.clear_instance()


def magics(shell: Any) -> Any:
    return shell.magics_manager.registry["WorkbenchSqlMagics"]


def run(shell: Any, code: str, direct: bool) -> dict[str, Any]:
    """What a user gets from ``code``: a cell whose value is the query's result, shown
    as a notebook shows it, then read whole."""
    magics(shell).direct = direct
    with capture_output() as said:
        outcome = shell.run_cell(code)
    failed = outcome.error_in_exec
    value = None if failed is not None else outcome.result
    got: dict[str, Any] = {
        "type": type(value),
        "stdout": said.stdout,
        "stderr": said.stderr,
        "error": None if failed is None else str(failed),
        "shown": [output.data for output in said.outputs],
    }
    if hasattr(value, "DataFrame"):  # jupysql's ResultSet
        got.update(text=str(value), html=value._repr_html_(), keys=value.keys)
        got.update(rows=list(value), text_after=str(value))
    elif value is not None:
        got.update(frame=value.to_dict("list"))
    return got


def same_both_ways(shell: Any, code: str) -> dict[str, Any]:
    from sql.run.resultset import ResultSet

    from workbench_kernels.direct_sql import LakeResultSet

    direct, jupysql = run(shell, code, True), run(shell, code, False)
    assert jupysql["error"] is None and direct["error"] is None, (code, jupysql, direct)
    if jupysql["type"] is ResultSet:
        assert direct["type"] is LakeResultSet, code  # the direct path ran it
        direct["type"] = ResultSet
    assert direct == jupysql, code
    return direct


@pytest.mark.parametrize(
    "code",
    [
        "%sql lake SELECT 1 AS one",
        "%sql lake SELECT 2 AS two -- and a comment",
        "%sql SELECT count(*) AS n, sum(amount) AS total FROM bronze.events",
        "%%sql lake\nSELECT account, sum(amount) AS total FROM events GROUP BY 1 ORDER BY 1",
        "%%sql\nSELECT * FROM bronze.events ORDER BY id",  # more rows than displaylimit
        "%%sql lake\n-- what each account holds\nSELECT account /* the key */, count(*) AS n\n"
        "FROM bronze.events GROUP BY 1 ORDER BY 1;\n",
        "%%sql lake\nSELECT {{ limit }} AS n, '{{ word }}' AS w",
        "%sql lake SELECT {{ limit }} AS n, '{word}' AS braces",  # jinja's, as in jupysql
        "%%sql lake\nCREATE OR REPLACE TABLE scratch AS SELECT 1 AS a",
        "%sql lake SELECT a FROM scratch",
    ],
)
def test_plain_lake_queries_give_what_jupysql_gives(shell: Any, code: str) -> None:
    shell.user_ns.update(limit=3, word="three")
    got = same_both_ways(shell, code)
    assert "Running query in 'lake'" in str(got["shown"])  # displaycon, as jupysql says it
    if "{word}" in code:  # IPython's own expansion would have made it {limit} and three
        assert got["rows"] == [(3, "{word}")]
    if "ORDER BY id" in code:
        assert "Truncated to displaylimit of 10" in got["stdout"]  # the result as shown
        assert got["rows"][-1][0] == ROWS - 1


def test_what_a_query_shows_follows_jupysqls_settings(shell: Any) -> None:
    code = "%%sql lake\nSELECT id, amount FROM bronze.events ORDER BY id"
    try:
        shell.run_line_magic("config", "SqlMagic.displaylimit = 3")
        assert "Truncated to displaylimit of 3" in same_both_ways(shell, code)["text"]
        shell.run_line_magic("config", "SqlMagic.autolimit = 1")
        assert len(same_both_ways(shell, code)["rows"]) == 1
        shell.run_line_magic("config", "SqlMagic.displaycon = False")
        shell.run_line_magic("config", "SqlMagic.feedback = 0")
        assert "Running query" not in str(same_both_ways(shell, code)["shown"])
        shell.run_line_magic("config", "SqlMagic.style = 'MARKDOWN'")
        assert same_both_ways(shell, code)["text"].startswith("|  id | amount |\n| :-: |")
        shell.run_line_magic("config", "SqlMagic.autopandas = True")
        frame = same_both_ways(shell, code)["frame"]
        assert frame["amount"][:2] == [Decimal("0.25"), Decimal("1.25")]  # money stays DECIMAL
        commented = "%%sql lake\n-- the ids\n/* all */ SELECT id FROM bronze.events -- sorted\n"
        assert same_both_ways(shell, commented + "ORDER BY id")["frame"]["id"] == list(range(ROWS))
    finally:
        for setting in (
            "displaylimit = 10",
            "autolimit = 0",
            "displaycon = True",
            "feedback = 1",
            "style = 'DEFAULT'",
            "autopandas = False",
        ):
            shell.run_line_magic("config", f"SqlMagic.{setting}")


def test_a_data_frame_in_the_notebook_is_queryable(shell: Any) -> None:
    shell.run_cell("import pandas as pd\nprices = pd.DataFrame({'v': [1, 2, 4]})")
    got = same_both_ways(shell, "%sql lake SELECT sum(v) AS s FROM prices")
    assert got["rows"] == [(7,)]


@pytest.mark.parametrize(
    "code",
    [
        "%%sql lake\nSELECT 1 AS a; SELECT 2 AS b",  # several statements
        "%%sql lake --save first_snippet\nSELECT 41 AS n",  # an option
        "%%sql lake\nSELECT n + 1 AS n FROM first_snippet",  # uses a saved snippet
        "%sql SELECT -1 AS minus",  # a dash in the line: maybe an option
    ],
)
def test_what_jupysql_acts_on_is_left_to_jupysql(shell: Any, code: str) -> None:
    from sql.run.resultset import ResultSet

    got = run(shell, code, True)
    assert got["error"] is None, got
    assert got["type"] is ResultSet, code  # jupysql's own, not the direct path's
    if "FROM first_snippet" in code:
        assert got["rows"] == [(42,)]


@pytest.mark.parametrize(
    "code",
    [
        "%%sql answer <<\nSELECT 42 AS n",
        "%%sql lake answer <<\nSELECT 42 AS n",
        "%sql answer << SELECT 42 AS n",
    ],
)
def test_assignment_with_double_angle_brackets(shell: Any, code: str) -> None:
    """``name <<`` stores the result in ``name`` (jupysql's form), with or without the
    connection's name first."""
    shell.user_ns.pop("answer", None)
    got = run(shell, code, True)
    assert got["error"] is None, got
    assert list(shell.user_ns["answer"]) == [(42,)]
    assert "Switching to connection" not in str(got["shown"])


def test_errors_are_the_same_one_line(shell: Any) -> None:
    for code in ("%sql lake SELECT * FROM nowhere", "%%sql lake\nSELEC 1"):
        direct, jupysql = run(shell, code, True), run(shell, code, False)
        assert direct["error"] == jupysql["error"], code
        assert direct["error"].startswith("connection 'lake': "), direct
        assert "\n" not in direct["error"]


def test_the_table_text_is_made_when_shown(shell: Any) -> None:
    magics(shell).direct = True
    shell.run_cell("r = %sql lake SELECT id FROM bronze.events ORDER BY id")
    result = shell.user_ns["r"]
    assert result.__dict__.get("_table") is None  # nothing made for a result not shown
    lines = str(result).splitlines()
    assert [line.split() for line in lines[3:5]] == [["|", "0", "|"], ["|", "1", "|"]]
    assert lines[-1] == "Truncated to displaylimit of 10."
    assert list(result)[-1] == (ROWS - 1,)


def test_direct_can_be_turned_off_with_config(shell: Any) -> None:
    from sql.run.resultset import ResultSet

    shell.run_line_magic("config", "WorkbenchSqlMagics.direct = False")
    try:
        shell.run_cell("r = %sql lake SELECT 1 AS one")
        assert type(shell.user_ns["r"]) is ResultSet
    finally:
        shell.run_line_magic("config", "WorkbenchSqlMagics.direct = True")
    shell.run_cell("r = %sql lake SELECT 1 AS one")
    assert type(shell.user_ns["r"]) is not ResultSet
    assert isinstance(shell.user_ns["r"], ResultSet)


def test_results_are_not_held_by_the_connection(shell: Any) -> None:
    """jupysql keeps every result of a connection until it closes; the direct path's
    results go when the notebook lets them go."""
    from sql.connection import ConnectionManager

    magics(shell).direct = True
    held = ConnectionManager.connections["lake"]._result_sets
    before = len(held)
    for n in range(20):
        shell.run_cell(f"%sql lake SELECT {n} AS n")
    assert len(held) <= before


def test_a_cursor_serves_the_next_query_only_once_its_rows_are_read(shell: Any) -> None:
    """A read query's cursor goes on to the next query once every row has been read:
    a result still being read keeps its rows, and an earlier result's ``.DataFrame()``
    (which re-runs its query, as jupysql's) leaves a later result's rows alone."""
    magics(shell).direct = True
    everything = [(i,) for i in range(ROWS)]
    shell.run_cell("partly = %sql lake SELECT id FROM bronze.events ORDER BY id")
    shell.run_cell("one = %sql lake SELECT 1 AS one")  # read whole at once: cursor goes on
    shell.run_cell("later = %sql lake SELECT id FROM bronze.events ORDER BY id DESC")
    assert shell.user_ns["one"].DataFrame().to_dict("list") == {"one": [1]}
    assert list(shell.user_ns["later"]) == everything[::-1]
    assert list(shell.user_ns["partly"]) == everything
    assert list(shell.user_ns["one"]) == [(1,)]
    frame = shell.user_ns["later"].DataFrame()  # read to its end, its cursor gone on
    assert frame["id"].tolist() == list(range(ROWS))[::-1]


def test_a_statement_that_sets_something_keeps_a_session_of_its_own(shell: Any) -> None:
    """As with jupysql, each statement that is not a query runs in a session of its own:
    a ``SET`` of the session does not reach the next query, even after a query whose
    cursor went on."""
    code = "%sql lake SELECT current_setting('search_path') AS path"
    before = same_both_ways(shell, code)["rows"]
    for direct in (True, False):
        run(shell, "%sql lake SELECT 1 AS one", direct)
        run(shell, "%sql lake SET search_path = 'bronze'", direct)
    assert same_both_ways(shell, code)["rows"] == before


def test_amounts_come_back_exact_and_read_as_written(shell: Any) -> None:
    """A lake's DECIMAL columns in ``.DataFrame()`` and ``autopandas`` hold ``Decimal``s,
    both ways (jupysql's DuckDB ``.df()`` made them floats: 0.10 + 0.20 was
    0.30000000000000004), the other columns as before; and the table shows a zero of
    ``DECIMAL(38,10)`` as 0.0000000000, not '0E-10'."""
    query = (
        "SELECT CAST(0 AS DECIMAL(38, 10)) AS debit, CAST(0.10 AS DECIMAL(12, 2)) "
        "+ CAST(0.20 AS DECIMAL(12, 2)) AS total, 1.5::DOUBLE AS rate, 'x' AS code, "
        "sum(amount) AS amount FROM bronze.events"
    )
    got = same_both_ways(shell, f"%sql lake {query}")
    assert "0.0000000000" in got["text"] and "0.0000000000" in got["html"]
    assert "E-10" not in got["text"] + got["html"]
    expected_total = sum(Decimal(f"{i}.25") for i in range(ROWS))
    for direct in (True, False):
        magics(shell).direct = direct
        shell.run_cell(f"r = %sql lake {query}\nframe = r.DataFrame()")
        frame = shell.user_ns["frame"]
        row = frame.iloc[0].tolist()
        assert row == [Decimal("0E-10"), Decimal("0.30"), 1.5, "x", expected_total], direct
        assert [type(v) for v in row[:2]] == [Decimal, Decimal], direct
        assert str(row[1]) == "0.30" and frame["rate"].dtype == "float64", direct
    try:
        shell.run_line_magic("config", "SqlMagic.autopandas = True")
        frame = same_both_ways(shell, f"%sql lake {query}")["frame"]
        assert [type(frame[c][0]) for c in ("debit", "total", "amount")] == [Decimal] * 3
    finally:
        shell.run_line_magic("config", "SqlMagic.autopandas = False")
