"""A workbench kernel starts light (issue 22) and loads what a cell needs at its first use,
with nothing else a user would notice: real kernels of a real server, each first use in a
fresh kernel, since what comes first is what is tested."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.kernels import KernelSession
from tests.support.servers import workbench_server

ROOT = Path(__file__).resolve().parents[1]
# What the extension loaded at start before, and a cell that needs none of it must not wait for.
HEAVY = ("sql", "pandas", "sqlalchemy", "duckdb", "sqlglot", "workbench_server")


@pytest.fixture
def jp_server_config(home: Path, workbench_kernelspec: None):
    return workbench_server(home)


@pytest.fixture
def lake_table(home: Path) -> None:
    folder = home / "lake" / "bronze" / "events"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3]}), folder / "part-0.parquet")


@pytest.fixture
def start(jp_serverapp, jp_asyncio_loop, http_server_client, lake_table) -> Iterator:
    """Starts workbench kernels of the server (``http_server_client`` makes it listen, so
    kernels can reach its API); shuts them down after the test."""
    manager = jp_serverapp.kernel_manager
    started: list[tuple[str, KernelSession]] = []

    async def kernel() -> KernelSession:
        kernel_id = await manager.start_kernel(kernel_name="workbench")
        client = manager.get_kernel(kernel_id).client()
        client.start_channels()
        await client.wait_for_ready(timeout=90)
        session = KernelSession(client)
        started.append((kernel_id, session))
        return session

    yield kernel
    for kernel_id, session in started:
        session.client.stop_channels()
        jp_asyncio_loop.run_until_complete(manager.shutdown_kernel(kernel_id, now=True))


async def first(start, code: str) -> tuple[KernelSession, str]:
    kernel = await start()
    ran = await kernel.run(code)
    assert ran.status == "ok", ran.everything
    return kernel, ran.stdout


async def test_a_cell_without_sql_waits_for_none_of_it(start, home: Path) -> None:
    kernel, printed = await first(
        start, f"import sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert json.loads(printed) == []
    # Names the extension gives every kernel are there when a cell uses them.
    ran = await kernel.run("print(lake_root)")
    assert ran.stdout.strip() == str(home / "lake"), ran.everything
    ran = await kernel.run("%sql SELECT count(*) AS n FROM bronze.events")
    assert ran.status == "ok", ran.everything
    assert "3" in json.dumps(ran.displays)
    assert "toml" not in ran.everything  # what jupysql says as it loads is the log's


async def test_config_before_the_first_query_applies(start) -> None:
    kernel, _ = await first(start, "%config SqlMagic.autopandas = True")
    ran = await kernel.run("r = %sql SELECT 42 AS answer\nprint(type(r).__name__, r['answer'][0])")
    assert ran.stdout.strip() == "DataFrame 42", ran.everything
    # The workbench's own %sql settings load it too (plain lake queries go to jupysql).
    listed, _ = await first(start, "%config WorkbenchSqlMagics.direct = False")
    ran = await listed.run("%config")
    assert "SqlMagic" in ran.stdout and "WorkbenchSqlMagics" in ran.stdout, ran.everything
    ran = await listed.run("r = %sql SELECT 1 AS one\nprint(type(r).__module__)")
    assert ran.stdout.strip() == "sql.run.resultset", ran.everything


async def test_load_ext_sql_first_keeps_the_workbench_sql(start) -> None:
    kernel, printed = await first(start, "%load_ext sql")
    assert "already loaded" in printed  # as when jupysql was loaded at start
    ran = await kernel.run("r = %sql lake SELECT count(*) AS n FROM bronze.events\nprint(r)")
    assert ran.status == "ok" and "3" in ran.stdout, ran.everything


async def test_lake_from_python_first(start) -> None:
    _, printed = await first(
        start,
        "from workbench_kernels import lake\n"
        "print(lake.sql('SELECT count(*) FROM bronze.events').fetchone()[0])",
    )
    assert printed.strip() == "3"


async def test_odoo_and_workbench_first_say_what_they_said(start) -> None:
    kernel, _ = await first(start, "x = 1")
    ran = await kernel.run("%odoo nonsense res.partner")
    assert (ran.status, ran.error.get("ename")) == ("error", "UsageError"), ran.everything
    assert ran.stderr.startswith("UsageError: %odoo: method must be one of"), ran.everything
    ran = await kernel.run("%workbench connections")
    assert ran.status == "ok" and "lake" in json.dumps(ran.displays), ran.everything


def test_after_import_runs_once_and_never_fails_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """How DuckDB is watched from its import on: the callback runs right after the
    module's code, once; the module keeps its own loader; a failing callback is said on
    stderr and the import still succeeds."""
    import importlib
    import sys

    from workbench_kernels.after_import import when_imported

    for name in ("wb_probe_a", "wb_probe_b"):
        (tmp_path / f"{name}.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[int] = []
    when_imported("wb_probe_a", lambda module: seen.append(module.VALUE))
    when_imported("wb_probe_b", lambda module: 1 / 0)
    try:
        module = importlib.import_module("wb_probe_a")
        importlib.reload(module)
        assert seen == [7]
        assert type(module.__loader__).__name__ == "SourceFileLoader"
        assert importlib.import_module("wb_probe_b").VALUE == 7
        assert "after importing wb_probe_b: division by zero" in capsys.readouterr().err
        when_imported("wb_probe_a", lambda module: seen.append(-module.VALUE))  # imported: now
        assert seen == [7, -7]
    finally:
        for name in ("wb_probe_a", "wb_probe_b"):
            sys.modules.pop(name, None)


def test_the_sql_stand_in_says_what_the_sql_magic_says() -> None:
    """``%sql?`` before the first query shows the workbench %sql's own help."""
    from workbench_kernels.extension import JupysqlStandIns
    from workbench_kernels.sql_magic import WorkbenchSqlMagics

    assert JupysqlStandIns.sql.__doc__ == WorkbenchSqlMagics.sql.__doc__
