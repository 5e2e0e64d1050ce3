"""Lineage next to its raw tools: SQL lineage vs bare sqlglot, graph walk vs a bare query.

- ``sql_lineage_ms``: ``workbench_server.lineage.sql_lineage`` on a generated, valid
  200-line statement (``CREATE TABLE ... AS WITH`` twelve chained CTEs, a join and
  aggregates), next to bare ``sqlglot.lineage.lineage(None, sql)`` on the same text.
- ``depth5_query_ms``: ``LineageService.graph`` five levels upstream of a column, over a
  seeded graph of 10,000 datasets (each built from three earlier ones, column to column),
  in a SQLite metadata DB, next to one bare recursive SQL query returning the same edges.

    python benchmarks/lineage.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

DATASETS = 10_000
PARENTS = 3
COLUMNS = ("id", "amount", "account")
SEED = 20_261_125


def statement() -> str:
    """A valid statement of about 200 lines."""
    ctes = []
    for i in range(16):
        source = "bronze.journal_items" if i == 0 else f"step{i - 1}"
        ctes.append(
            f"step{i} AS (\n"
            "    SELECT account_id,\n"
            "           partner_id,\n"
            "           date,\n"
            f"           debit + {i} AS debit,\n"
            "           credit,\n"
            "           coalesce(ref, name) AS ref,\n"
            "           name\n"
            f"    FROM {source}\n"
            "    WHERE state = 'posted'\n"
            "      AND date >= DATE '2026-01-01'\n"
            ")"
        )
    body = ",\n".join(ctes)
    return (
        "CREATE TABLE gold.report AS\nWITH "
        + body
        + "\nSELECT s.account_id,\n       p.name AS partner,\n"
        "       date_trunc('month', s.date) AS month,\n"
        "       sum(s.debit) AS debit,\n       sum(s.credit) AS credit,\n"
        "       sum(s.debit - s.credit) AS balance,\n       count(*) AS lines,\n"
        "       max(s.ref) AS last_ref\n"
        "FROM step15 AS s\nJOIN silver.partners AS p ON p.id = s.partner_id\n"
        "GROUP BY 1, 2, 3\n"
    )


def build_graph(workbench) -> None:
    from sqlalchemy import insert

    from workbench_server.db.models import LineageDataset, LineageEdge

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with workbench.sessions.begin() as session:
        session.execute(
            insert(LineageDataset),
            [{"namespace": "lake", "name": f"d.t{i}", "created_at": now} for i in range(DATASETS)],
        )
    edges = []
    for target in range(PARENTS, DATASETS):
        for source in rng.sample(range(target), PARENTS):
            for column in COLUMNS:
                edges.append(
                    {
                        "source_id": source + 1,
                        "target_id": target + 1,
                        "source_column": column,
                        "target_column": column,
                        "transformation": "identity",
                        "job": f"job{target % 50}",
                        "run_id": None,
                        "first_seen": now,
                        "last_seen": now,
                    }
                )
    with workbench.sessions.begin() as session:
        session.execute(insert(LineageEdge), edges)


BARE = """
WITH RECURSIVE up(id, col, depth) AS (
    SELECT :root, :col, 0
    UNION
    SELECT e.source_id, e.source_column, up.depth + 1
    FROM lineage_edges e JOIN up ON e.target_id = up.id AND e.target_column = up.col
    WHERE up.depth < 5
)
SELECT DISTINCT e.id, e.source_id, e.source_column, e.job
FROM lineage_edges e JOIN up ON e.target_id = up.id AND e.target_column = up.col
WHERE up.depth < 5
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    from sqlalchemy import text
    from sqlglot.lineage import lineage

    from workbench_server.core import Workbench
    from workbench_server.lineage import sql_lineage
    from workbench_server.lineage.service import LineageService
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    sql = statement()
    lines = len(sql.splitlines())
    ours, bare = [], []
    found = sql_lineage(sql)
    if found.warnings or len(found.statements[0].columns) != 8:
        raise RuntimeError(f"the statement's lineage is incomplete: {found.warnings}")
    for rep in range(args.repeat):
        for which in ("ours", "bare") if rep % 2 == 0 else ("bare", "ours"):
            started = time.perf_counter()
            if which == "ours":
                sql_lineage(sql)
            else:
                lineage(None, sql, schema={}, dialect="duckdb")
            (ours if which == "ours" else bare).append((time.perf_counter() - started) * 1000)

    home = Path(tempfile.mkdtemp(prefix="wb-bench-lineage-"))
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    workbench = Workbench(settings)
    build_graph(workbench)
    service = LineageService(workbench, local_principal())
    root = DATASETS - 1
    walks, queries, sizes = [], [], set()
    for rep in range(args.repeat):
        for which in ("walk", "bare") if rep % 2 == 0 else ("bare", "walk"):
            started = time.perf_counter()
            if which == "walk":
                graph = service.graph("lake", f"d.t{root}", column="amount", depth=5)
                sizes.add(len(graph.edges))
                walks.append((time.perf_counter() - started) * 1000)
            else:
                with workbench.engine.connect() as conn:
                    rows = conn.execute(text(BARE), {"root": root + 1, "col": "amount"}).all()
                sizes.add(len(rows))
                queries.append((time.perf_counter() - started) * 1000)
    workbench.close()
    if len(sizes) != 1:
        raise RuntimeError(f"the walk and the bare query disagree: {sorted(sizes)} edges")

    figures = {
        "sql_lineage_ms": statistics.median(ours),
        "bare_sqlglot_lineage_ms": statistics.median(bare),
        "sql_lineage_ratio": statistics.median(a / b for a, b in zip(ours, bare, strict=True)),
        "depth5_query_ms": statistics.median(walks),
        "bare_recursive_query_ms": statistics.median(queries),
        "depth5_ratio": statistics.median(a / b for a, b in zip(walks, queries, strict=True)),
        "depth5_edges": float(sizes.pop()),
    }
    print(f"statement: {lines} lines; graph: {DATASETS:,} datasets x {PARENTS} parents")
    for key, value in figures.items():
        print(f"{key:28} {value:10.3f}")
    units = {
        k: "ratio" if "ratio" in k else "ms" if k.endswith("_ms") else "edges" for k in figures
    }
    print(
        json.dumps(
            {
                "benchmark": "lineage",
                "figures": {k: round(v, 3) for k, v in figures.items()},
                "units": units,
                "goals": {"sql_lineage_ms": "<= 100", "depth5_query_ms": "<= 50"},
            }
        )
    )


if __name__ == "__main__":
    main()
