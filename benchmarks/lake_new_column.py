"""A column the source gains, filled at the source without touching write_date (Odoo
installing a module: ``ALTER TABLE ... ADD COLUMN`` and an SQL ``UPDATE`` for its default
or stored computed value), until silver holds it for every row.

On the 1M-row ``account_move_line``-shaped table of benchmarks/lake.py (PostgreSQL, the
extract and merge steps' own code, as the worker runs them), per repetition, alternating
the order of the contenders:

- ``fill``: the next incremental run, which reads the rows changed since the last run and
  those holding a value in the new column (what the extract does when it sees a new
  column), then the merge into silver;
- ``full``: the other way to fill it, a full extract (``mode: full``: every row read and
  written to bronze again), then the merge;
- ``copy_raw``: the raw tool, a binary ``COPY (SELECT * ...) TO STDOUT`` of the table into
  memory.

Two shapes of column: ``dense`` (a default every row gets, as a new boolean or amount
field does) and ``sparse`` (1% of the rows hold a value, as an optional field filled for
a few records). Each contender fills its own bronze and silver tables, made the same way
before the column is added; the silver tables are checked to hold the same values.
Figures: ``fill_vs_full_{dense,sparse}`` (extract and merge, fill over full; goal <= 1.0:
never slower than the full extract it replaces), ``fill_extract_vs_copy_{dense,sparse}``,
and the medians in ms.

    python benchmarks/lake_new_column.py [--rows 1000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT / "server_ext"),
    str(ROOT / "pipelines"),
    str(ROOT),
    str(ROOT / "benchmarks"),
]
from lake import EXTRACT_TABLE, _copy_raw, _extract_home  # noqa: E402

SHAPES = {
    # A default: PostgreSQL gives every row the value (as Odoo's column default does).
    "dense": ["ALTER TABLE account_move_line ADD COLUMN wb_new numeric(16,2) DEFAULT 0"],
    # An optional field filled for 1% of the records, write_date untouched.
    "sparse": [
        "ALTER TABLE account_move_line ADD COLUMN wb_new numeric(16,2)",
        "UPDATE account_move_line SET wb_new = id % 1000 WHERE id % 100 = 0",
    ],
}


def _step(workbench: Any, kind: str, config: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One attempt of a step (a run of its own, as the worker makes one); seconds, stats."""
    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_pipelines.ingest.merge import run_merge
    from workbench_server.principal import local_principal

    ctx = step_context(workbench, local_principal(), kind, config)
    os.sync()  # earlier runs' writeback lands in no run's time
    started = time.perf_counter()
    (run_extract if kind == "extract" else run_merge)(ctx)
    return time.perf_counter() - started, ctx.stats


def _extract(workbench: Any, target: str, mode: str) -> tuple[float, dict[str, Any]]:
    table = {"table": "account_move_line", "target": f"bronze.{target}"}
    config = {"source": "bench_pg", "mode": mode, "deletes": "never", "tables": [table]}
    seconds, stats = _step(workbench, "extract", config)
    return seconds, stats[f"bronze.{target}"]


def _merge(workbench: Any, target: str) -> float:
    config = {"tables": [f"bronze.{target}"]}
    return _step(workbench, "merge", config)[0]


def _sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for statement in statements:
            db.execute(statement)
        db.execute("VACUUM ANALYZE account_move_line")


def measure(
    rows: int, repeat: int, shapes: list[str]
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    import psycopg

    from tests.support.postgres import running_cluster
    from workbench_server.lake import Lake

    root = Path(tempfile.mkdtemp(prefix="wb-bench-newcol-"))
    root.chmod(0o755)  # the cluster may run as another account
    times: dict[str, list[float]] = {}
    extra: dict[str, Any] = {}
    try:
        with running_cluster(root / "pg") as cluster:
            with psycopg.connect(cluster.url(), autocommit=True) as db:
                db.execute("CREATE DATABASE bench")
            url = cluster.url("bench")
            _sql(url, EXTRACT_TABLE.format(rows=int(rows)))
            workbench = _extract_home(root / "home", url)
            lake = Lake.default(workbench.settings)
            try:
                _copy_raw(url)  # warm-up
                for shape in shapes:
                    statements = SHAPES[shape]
                    for round_no in range(repeat):
                        names = {c: f"{c}_{shape}_{round_no}" for c in ("fill", "full")}
                        for name in names.values():  # the same bronze and silver for both
                            _extract(workbench, name, "incremental")  # the first run is full
                            _merge(workbench, name)
                        _sql(url, *statements)
                        order = ["fill", "full", "copy_raw"]
                        if round_no % 2:
                            order.reverse()
                        for contender in order:
                            if contender == "copy_raw":
                                times.setdefault(f"copy_raw_{shape}", []).append(
                                    _copy_raw(url)[0] * 1000
                                )
                                continue
                            mode = "incremental" if contender == "fill" else "full"
                            seconds, stats = _extract(workbench, names[contender], mode)
                            merged = _merge(workbench, names[contender])
                            times.setdefault(f"{contender}_extract_{shape}", []).append(
                                seconds * 1000
                            )
                            times.setdefault(f"{contender}_merge_{shape}", []).append(merged * 1000)
                            extra[f"{contender}_rows_written_{shape}"] = stats["rows_written"]
                        silver = {
                            c: lake.read(f"silver.{n}", columns=["id", "wb_new"]).sort_by("id")
                            for c, n in names.items()
                        }
                        assert silver["fill"].equals(silver["full"]), "fill and full differ"
                        extra[f"silver_filled_{shape}"] = silver["fill"]["wb_new"].null_count
                        _sql(url, "ALTER TABLE account_move_line DROP COLUMN wb_new")
            finally:
                workbench.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return times, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    args = parser.parse_args()
    load_before = os.getloadavg()
    times, extra = measure(args.rows, args.repeat, args.shapes)
    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in times.items()}

    def paired(numerators: list[str], denominators: list[str]) -> float:
        tops = [sum(v) for v in zip(*(times[n] for n in numerators), strict=True)]
        bottoms = [sum(v) for v in zip(*(times[d] for d in denominators), strict=True)]
        return statistics.median(a / b for a, b in zip(tops, bottoms, strict=True))

    print(f"{args.rows:,} journal items, {args.repeat} repetition(s) per shape; load "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")  # fmt: skip
    print(f"{'measure':32} {'median':>10} {'min':>10} {'max':>10}  (each run)")
    for name, values in times.items():
        each = " ".join(f"{v:.0f}" for v in values)  # in the order run
        low, high = min(values), max(values)
        print(f"{name:32} {med[name]:8.1f}ms {low:8.1f}ms {high:8.1f}ms  ({each})")
    figures: dict[str, float] = {}
    for shape in args.shapes:
        figures[f"fill_vs_full_{shape}"] = paired(
            [f"fill_extract_{shape}", f"fill_merge_{shape}"],
            [f"full_extract_{shape}", f"full_merge_{shape}"],
        )
        figures[f"fill_extract_vs_full_extract_{shape}"] = paired(
            [f"fill_extract_{shape}"], [f"full_extract_{shape}"]
        )
        figures[f"fill_extract_vs_copy_{shape}"] = paired(
            [f"fill_extract_{shape}"], [f"copy_raw_{shape}"]
        )
        for name in ("fill_extract", "fill_merge", "full_extract", "full_merge", "copy_raw"):
            figures[f"{name}_{shape}_ms"] = med[f"{name}_{shape}"]
        for name in ("fill_rows_written", "full_rows_written"):
            figures[f"{name}_{shape}"] = extra[f"{name}_{shape}"]
    goals = {f"fill_vs_full_{s}": "<= 1.0" for s in args.shapes}
    for name, value in figures.items():
        print(f"{name:40} {value:12.3f}  goal {goals.get(name, '-')}")
    units = {k: "ms" if k.endswith("_ms") else "rows" if "rows" in k else "ratio" for k in figures}
    figures["load_before"], figures["load_after"] = load_before[0], load_after[0]
    units["load_before"] = units["load_after"] = "load"
    print(json.dumps({"benchmark": "lake_new_column",
                      "figures": {k: round(v, 3) for k, v in figures.items()},
                      "units": units, "goals": goals}))  # fmt: skip


if __name__ == "__main__":
    main()
