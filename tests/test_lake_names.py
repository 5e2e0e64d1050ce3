"""Lake table names as people type them in a real workbench kernel: DuckDB's schema
names are not case sensitive, so ``SILVER.x`` and ``"Silver".x`` are the lake's
``silver.x`` and must be written to the lake, not to the kernel's memory (where they
were gone at the next restart and seen by no other kernel, pipeline or catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_kernel_lake import Kernels, jp_server_config, kernels, odoo  # noqa: F401
from workbench_server.lake import Lake


@pytest.mark.timeout(300)
async def test_a_layer_in_capitals_writes_the_lake(kernels: Kernels, home: Path) -> None:  # noqa: F811
    lake = Lake.at(str(home / "lake"))
    first = await kernels.start()
    made = await first.run(
        '%sql CREATE TABLE "Silver".totals AS SELECT 1.25::DECIMAL(12, 2) AS amount'
    )
    assert made.status == "ok", made.everything
    assert "silver.totals: version 1" in made.stdout
    added = await first.run("%sql INSERT INTO SILVER.totals VALUES (2.50)")
    assert added.status == "ok", added.everything
    amounts = lake.read("silver.totals").column("amount").to_pylist()
    assert sorted(str(v) for v in amounts) == ["1.25", "2.50"]  # Decimal, in the lake
    other = await kernels.start()  # another kernel sees the lake's table, exact
    seen = await other.value(
        "import json\nr = %sql SELECT sum(amount)::VARCHAR AS s, typeof(sum(amount)) AS t "
        "FROM silver.totals\nprint(json.dumps(list(r[0])))"
    )
    assert seen == ["3.75", "DECIMAL(38,2)"]


@pytest.mark.timeout(300)
async def test_a_name_in_another_case_is_the_same_table(kernels: Kernels, home: Path) -> None:  # noqa: F811
    """``gold.positive`` after ``gold.Positive``: DuckDB reads both as one view, so the
    writes must go to that one table, not make a second whose rows no query shows."""
    first = await kernels.start()
    made = await first.run("%sql CREATE TABLE gold.Positive AS SELECT 1 AS x")
    assert made.status == "ok", made.everything
    again = await first.run("%sql CREATE TABLE gold.positive AS SELECT 2 AS x")
    assert again.status == "error" and "gold.Positive already exists" in again.everything
    added = await first.run("%sql INSERT INTO gold.POSITIVE VALUES (3)")
    assert added.status == "ok" and "gold.Positive: version 2" in added.stdout, added.everything
    replaced = await first.run("%sql CREATE OR REPLACE TABLE gold.positive AS SELECT 4 AS x")
    assert replaced.status == "ok" and "gold.Positive: version 3" in replaced.stdout
    seen = await first.value(
        "import json\nr = %sql SELECT list(x ORDER BY x) AS xs FROM gold.positive\n"
        "print(json.dumps(r[0][0]))"
    )
    assert seen == [4]
    assert sorted(p.name for p in (home / "lake" / "gold").iterdir()) == ["Positive"]


def test_the_library_refuses_a_new_table_whose_name_differs_only_by_case(tmp_path) -> None:
    """Python's ``lake.write`` and pipeline targets: ``gold.positive`` beside
    ``gold.Positive`` would be a second table that SQL cannot tell from the first."""
    import pyarrow as pa

    from workbench_server.errors import InvalidInputError

    lake = Lake.at(str(tmp_path / "lake"))
    lake.write("gold.Positive", pa.table({"x": [1]}))
    with pytest.raises(InvalidInputError) as refused:
        lake.write("gold.positive", pa.table({"x": [2]}))
    assert "gold.Positive" in str(refused.value)
    assert [t.table for t in lake.tables()] == ["gold.Positive"]
    lake.write("gold.Positive", pa.table({"x": [3]}))  # its own name: as before
    assert sorted(lake.read("gold.Positive").column("x").to_pylist()) == [1, 3]
