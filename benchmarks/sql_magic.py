"""`%sql` through the workbench kernel layer, next to plain jupysql and raw DuckDB.

Writes a seeded lake (``bronze/events``: 1,000,000 rows in 8 Parquet files) to a temporary
folder, then runs three contenders, each in its own spawned process because jupysql keeps
its connections and its magic in class- and module-level state:

- ``duckdb``: ``duckdb.connect()`` with the same ``bronze.events`` view the lake session
  makes (``read_parquet(... '**/*.parquet', hive_partitioning, union_by_name)``), then
  ``con.execute(query).fetchall()``.
- ``jupysql``: a real ``InteractiveShell`` with ``%load_ext sql``, a DuckDB connection to
  the same view registered with ``%sql db --alias plain``, and
  ``shell.run_line_magic("sql", query)``.
- ``workbench``: a real ``InteractiveShell`` set up by the kernel extension's own
  ``load_ipython_extension`` (jupysql, ``WorkbenchSqlMagics``, the ``lake`` connection made
  current, all loaded by the first ``%config SqlMagic...``), with ``KernelConnections``
  fed by a local ``Bootstrap`` instead of the workbench server; then
  ``shell.run_line_magic("sql", "lake " + query)``, the alias-first form.

All three run DuckDB with the same settings (threads, memory_limit, insertion order,
object cache: DuckDB's defaults on every side), checked before anything is timed and
printed with the figures. Both shells get the same jupysql settings (displaycon off,
feedback 0, autopandas off, named parameters disabled), so the two differ only by the
workbench layer.

Like with like: with autopandas off, ``%sql`` returns jupysql's ``ResultSet``, which has
fetched only 2 rows (the query itself has run to the end in DuckDB). Every contender
therefore materialises the whole result as Python tuples inside the timed region: raw
DuckDB with ``.fetchall()``, the shells with ``list(result_set)`` (jupysql's own
``fetchall()`` on the DuckDB cursor). No DataFrame is built on either side.

The magics are timed around ``run_line_magic`` (IPython's magic dispatch included, its
cell machinery not): the stricter of the two choices, since ``run_cell`` adds the same
cost to both shells and shrinks the ratio.

Contenders alternate within each repetition (their order rotates), after a warm-up that
also checks the three return the same rows. Times are medians; a ratio is the median of
the per-repetition ratios (the two were measured back to back), which cancels most of the
load that other work puts on a shared machine. Extra figures:
``%sql SELECT 1`` on the current ``lake`` connection (no alias), jupysql's alias cell form
``%%sql plain`` (what the workbench turns ``%sql lake ...`` into), the aggregate on a
plain ``read_parquet('part-*.parquet')`` view (what the lake view's options cost), and the
workbench's aggregate with a text it has never seen (a comment that changes every run,
``new_text_aggregate_vs_duckdb_ratio``).

The workbench runs these plain lake queries itself (kernels/workbench_kernels/direct_sql.py:
no options, one statement), not through jupysql's parsing, and returns jupysql's
``ResultSet`` all the same; ``--jupysql-path`` measures it with
``WorkbenchSqlMagics.direct = False`` instead (every query through jupysql, as before).
The load average is printed with the figures: on a loaded machine, rerun.

``--against DIR`` adds a fourth contender, the workbench with the kernel package found in
DIR (``DIR/workbench_kernels``, e.g. an older commit's ``kernels/`` unpacked there with
``git archive COMMIT kernels | tar -x -C /tmp/x``, then ``--against /tmp/x/kernels``),
alternating with the others: before/after in the same run, whatever the load.

    python benchmarks/sql_magic.py [--one-row-repeat 60] [--aggregate-repeat 21] [--jupysql-path]
                                   [--against DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROWS = 1_000_000
FILES = 8
ACCOUNTS = 1_000
SEED = 20_240_601

ONE_ROW = "SELECT 1 AS one"
AGGREGATE = (
    "SELECT account, count(*), sum(amount), avg(amount) FROM bronze.events "
    "GROUP BY account ORDER BY account"
)
CONTENDERS = ("duckdb", "jupysql", "workbench")
# What decides an aggregate's speed besides the query: all three must run with the same.
SETTINGS = (
    "SELECT current_setting('threads'), current_setting('memory_limit'), "
    "current_setting('preserve_insertion_order'), current_setting('enable_object_cache')"
)
# phase -> contender -> the operations timed in that phase (the first is the headline one)
PHASES: dict[str, dict[str, tuple[str, ...]]] = {
    "one_row": {
        "duckdb": ("one_row",),
        "jupysql": ("one_row", "one_row_alias_cell"),
        "workbench": ("one_row", "one_row_current"),
    },
    "aggregate": {
        "duckdb": ("aggregate", "aggregate_plain_scan"),
        "jupysql": ("aggregate",),
        "workbench": ("aggregate", "aggregate_new_text"),
    },
}
LABELS = {
    ("duckdb", "one_row"): "raw duckdb: execute(SELECT 1).fetchall()",
    ("jupysql", "one_row"): "jupysql: %sql SELECT 1",
    ("jupysql", "one_row_alias_cell"): "jupysql: %%sql plain / SELECT 1",
    ("workbench", "one_row"): "workbench: %sql lake SELECT 1",
    ("workbench", "one_row_current"): "workbench: %sql SELECT 1 (lake current)",
    ("duckdb", "aggregate"): "raw duckdb: aggregate .fetchall()",
    ("duckdb", "aggregate_plain_scan"): "raw duckdb: aggregate, plain read_parquet",
    ("jupysql", "aggregate"): "jupysql: %sql aggregate, list(result)",
    ("workbench", "aggregate"): "workbench: %sql lake aggregate, list(result)",
    ("workbench", "aggregate_new_text"): "workbench: same, text never seen before",
}

Rows = list[tuple[Any, ...]]
Op = Callable[[], Rows]


def make_lake(root: Path) -> Path:
    """A lake folder with ``bronze/events/part-*.parquet``: ROWS seeded rows."""
    import datetime

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    lake = root / "lake"
    folder = lake / "bronze" / "events"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    per_file = ROWS // FILES
    start = np.datetime64(datetime.date(2024, 1, 1), "D")
    for part in range(FILES):
        first = part * per_file
        table = pa.table(
            {
                "id": pa.array(np.arange(first, first + per_file, dtype=np.int64)),
                "account": pa.array(rng.integers(0, ACCOUNTS, per_file, dtype=np.int32)),
                "amount": pa.array(np.round(rng.gamma(2.0, 150.0, per_file), 2)),
                "day": pa.array(start + rng.integers(0, 366, per_file), type=pa.date32()),
            }
        )
        pq.write_table(table, folder / f"part-{part:05d}.parquet")
    return lake


def lake_view_statements(lake: Path) -> list[str]:
    """The view the lake session creates for ``bronze/events`` (see lake.py), verbatim."""
    pattern = f"{lake / 'bronze' / 'events'}/**/*.parquet".replace("'", "''")
    return [
        'CREATE SCHEMA IF NOT EXISTS "bronze"',
        'CREATE OR REPLACE VIEW "bronze"."events" AS SELECT * FROM '
        f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)",
    ]


def raw_connection(lake: Path) -> Any:
    import duckdb

    db = duckdb.connect(":memory:")
    for statement in lake_view_statements(lake):
        db.execute(statement)
    return db


def configure_jupysql(shell: Any) -> None:
    """The same jupysql settings in both shells."""
    for setting in (
        "SqlMagic.displaycon = False",
        "SqlMagic.feedback = 0",
        "SqlMagic.autopandas = False",
        "SqlMagic.autopolars = False",
        "SqlMagic.named_parameters = 'disabled'",
    ):
        shell.run_line_magic("config", setting)


def new_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def duckdb_ops(lake: Path) -> dict[str, Op]:
    db = raw_connection(lake)
    plain = f"{lake / 'bronze' / 'events'}/part-*.parquet".replace("'", "''")
    db.execute(f"CREATE SCHEMA plain; CREATE VIEW plain.events AS FROM read_parquet('{plain}')")
    plain_aggregate = AGGREGATE.replace("bronze.events", "plain.events")
    return {
        "settings": lambda: db.execute(SETTINGS).fetchall(),
        "one_row": lambda: db.execute(ONE_ROW).fetchall(),
        "aggregate": lambda: db.execute(AGGREGATE).fetchall(),
        "aggregate_plain_scan": lambda: db.execute(plain_aggregate).fetchall(),
    }


def jupysql_ops(lake: Path) -> dict[str, Op]:
    shell = new_shell()
    shell.run_line_magic("load_ext", "sql")
    configure_jupysql(shell)
    shell.user_ns["plain_db"] = raw_connection(lake)
    shell.run_line_magic("sql", "plain_db --alias plain")
    plain_db = shell.user_ns["plain_db"]

    def line(query: str) -> Rows:
        return list(shell.run_line_magic("sql", query))

    def cell(query: str) -> Rows:
        return list(shell.run_cell_magic("sql", "plain", query))

    return {
        "settings": lambda: plain_db.execute(SETTINGS).fetchall(),
        "one_row": lambda: line(ONE_ROW),
        "one_row_alias_cell": lambda: cell(ONE_ROW),
        "aggregate": lambda: line(AGGREGATE),
    }


def workbench_ops(lake: Path, direct: bool = True) -> dict[str, Op]:
    import workbench_kernels
    from workbench_kernels import registry
    from workbench_kernels.api import Bootstrap

    class LocalConnections(registry.KernelConnections):
        """The kernel's connections, bootstrapped without a workbench server."""

        def __init__(self, fetch: Callable[[], Bootstrap] | None = None) -> None:
            super().__init__(fetch or (lambda: Bootstrap(connections={}, lake=str(lake))))

    shell = new_shell()
    original = registry.KernelConnections
    registry.KernelConnections = LocalConnections  # type: ignore[misc]
    try:
        workbench_kernels.load_ipython_extension(shell)
        # The first %config SqlMagic loads jupysql, the workbench's %sql and the
        # connections (the kernel loads them at first use, not at start).
        configure_jupysql(shell)
        shell.run_line_magic("config", f"WorkbenchSqlMagics.direct = {direct}")
    finally:
        registry.KernelConnections = original  # type: ignore[misc]
    from sql.connection import ConnectionManager

    current = ConnectionManager.current
    if current is None or current.alias != registry.LAKE:
        raise RuntimeError("the workbench extension did not make `lake` the current connection")

    def line(query: str) -> Rows:
        return list(shell.run_line_magic("sql", query))

    runs = iter(range(10**9))

    def new_text() -> Rows:
        # The kernel memoises jupysql's parsing of a query's text: a comment that differs
        # on every run shows the cost of a query the kernel has not seen yet.
        return line(f"lake {AGGREGATE} -- run {next(runs)}")

    lake_db = current._connection  # the lake session's own DuckDB connection
    return {
        "settings": lambda: lake_db.execute(SETTINGS).fetchall(),
        "aggregate_new_text": new_text,
        "one_row": lambda: line(f"lake {ONE_ROW}"),
        "one_row_current": lambda: line(ONE_ROW),
        "aggregate": lambda: line(f"lake {AGGREGATE}"),
    }


BUILDERS: dict[str, Callable[[Path], dict[str, Op]]] = {
    "duckdb": duckdb_ops,
    "jupysql": jupysql_ops,
    "workbench": workbench_ops,
}


def worker(
    kind: str, lake: str, pipe: Connection, direct: bool = True, kernels: str | None = None
) -> None:
    """Runs in a spawned process: answers (name, want_rows) with (ms, rows or row count).
    ``kernels``: the folder to import ``workbench_kernels`` from (``--against``)."""
    sys.stdout = sys.stderr  # jupysql's chatter (e.g. "Closing lake" at exit) stays off stdout
    try:
        if kernels is not None:
            sys.path.insert(0, kernels)
            kind = "workbench"
        build = BUILDERS[kind]
        ops = workbench_ops(Path(lake), direct) if kind == "workbench" else build(Path(lake))
        if kernels is not None:
            import workbench_kernels

            if not workbench_kernels.__file__.startswith(kernels):
                raise RuntimeError(f"--against imported {workbench_kernels.__file__}")
    except BaseException as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    pipe.send(("ready", None))
    while (message := pipe.recv()) is not None:
        name, want_rows = message
        op = ops[name]
        gc.collect()
        started = time.perf_counter()
        rows = op()
        elapsed_ms = (time.perf_counter() - started) * 1000
        pipe.send((elapsed_ms, rows if want_rows else len(rows)))
    pipe.close()


class Contender:
    def __init__(
        self, kind: str, lake: Path, direct: bool = True, kernels: str | None = None
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.kind = kind
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=worker, args=(kind, str(lake), child, direct, kernels), daemon=True
        )
        self.process.start()
        child.close()
        status, detail = self.pipe.recv()
        if status != "ready":
            raise RuntimeError(f"{kind} contender failed to start: {detail}")

    def run(self, name: str, want_rows: bool = False) -> tuple[float, Any]:
        self.pipe.send((name, want_rows))
        return self.pipe.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.pipe.send(None)
            except OSError:
                pass
            self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def normalised(rows: Rows) -> list[tuple[Any, ...]]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def warm_up(contenders: dict[str, Contender]) -> None:
    """Two untimed runs of every operation; every contender must return the same rows."""
    for phase, plan in PHASES.items():
        results: dict[str, list[tuple[Any, ...]]] = {}
        for _ in range(2):
            for kind, names in plan.items():
                for name in names:
                    results[f"{kind}.{name}"] = normalised(contenders[kind].run(name, True)[1])
        reference = results[f"duckdb.{plan['duckdb'][0]}"]
        expected_rows = 1 if phase == "one_row" else ACCOUNTS
        if len(reference) != expected_rows:
            raise RuntimeError(f"{phase}: raw duckdb returned {len(reference)} rows")
        if phase == "aggregate" and sum(row[1] for row in reference) != ROWS:
            raise RuntimeError("aggregate: the counts do not add up to the lake's rows")
        for key, rows in results.items():
            if rows != reference:
                raise RuntimeError(f"{phase}: {key} returned other rows than raw duckdb")


def measure(contenders: dict[str, Contender], repeat: dict[str, int]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for phase, plan in PHASES.items():
        kinds = list(plan)
        for rep in range(repeat[phase]):
            shift = rep % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                for name in plan[kind]:
                    elapsed_ms, _ = contenders[kind].run(name)
                    times.setdefault(f"{kind}.{name}", []).append(elapsed_ms)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-row-repeat", type=int, default=60)
    parser.add_argument("--aggregate-repeat", type=int, default=21)
    parser.add_argument(
        "--jupysql-path",
        action="store_true",
        help="the workbench sends every query through jupysql (WorkbenchSqlMagics.direct off)",
    )
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="also time the workbench with the workbench_kernels package in DIR (A/B)",
    )
    args = parser.parse_args()
    repeat = {"one_row": args.one_row_repeat, "aggregate": args.aggregate_repeat}
    against = None
    if args.against:
        against = str(Path(args.against).resolve())
        if not (Path(against) / "workbench_kernels" / "__init__.py").is_file():
            parser.error(f"--against: no workbench_kernels package in {against}")
        PHASES["one_row"]["against"] = ("one_row",)
        PHASES["aggregate"]["against"] = ("aggregate",)
        LABELS[("against", "one_row")] = "workbench from --against: %sql lake SELECT 1"
        LABELS[("against", "aggregate")] = "workbench from --against: aggregate"

    root = Path(tempfile.mkdtemp(prefix="wb-bench-sql-magic-"))
    contenders: dict[str, Contender] = {}
    try:
        started = time.perf_counter()
        lake = make_lake(root)
        made_s = time.perf_counter() - started
        for kind in CONTENDERS:
            contenders[kind] = Contender(kind, lake, direct=not args.jupysql_path)
        if against is not None:
            contenders["against"] = Contender(
                "against", lake, direct=not args.jupysql_path, kernels=against
            )
        settings = {kind: c.run("settings", True)[1] for kind, c in contenders.items()}
        if len({repr(rows) for rows in settings.values()}) != 1:
            raise RuntimeError(f"the contenders' DuckDB settings differ: {settings}")
        warm_up(contenders)
        times = measure(contenders, repeat)
    finally:
        for contender in contenders.values():
            contender.stop()
        shutil.rmtree(root, ignore_errors=True)

    med = {key: statistics.median(values) for key, values in times.items()}
    load = os.getloadavg()
    print(f"lake: {ROWS:,} rows in {FILES} Parquet files, written in {made_s:.1f}s")
    path = "jupysql's path (direct off)" if args.jupysql_path else "direct path"
    print(f"workbench on its {path}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    threads, memory, order, cache = settings["duckdb"][0]
    print(
        f"DuckDB settings, the same in all three: threads {threads}, memory_limit {memory}, "
        f"preserve_insertion_order {order}, enable_object_cache {cache}"
    )
    print(f"{'measure':50} {'median':>9} {'min':>9} {'max':>9}  runs")
    for (kind, name), label in LABELS.items():
        values = times[f"{kind}.{name}"]
        print(
            f"{label:50} {med[f'{kind}.{name}']:7.2f}ms {min(values):7.2f}ms "
            f"{max(values):7.2f}ms  {len(values)}"
        )

    def best(numerator: str, denominator: str) -> float:
        return min(times[numerator]) / min(times[denominator])

    def paired(numerator: str, denominator: str) -> float:
        """Median of the per-repetition ratios (both measured back to back in one round)."""
        pairs = zip(times[numerator], times[denominator], strict=True)
        return statistics.median(a / b for a, b in pairs)

    figures = {
        "one_row_ms": med["workbench.one_row"],
        "one_row_vs_jupysql_ratio": paired("workbench.one_row", "jupysql.one_row"),
        "aggregate_vs_duckdb_ratio": paired("workbench.aggregate", "duckdb.aggregate"),
        "jupysql_one_row_ms": med["jupysql.one_row"],
        "jupysql_alias_cell_one_row_ms": med["jupysql.one_row_alias_cell"],
        "workbench_current_one_row_ms": med["workbench.one_row_current"],
        "duckdb_one_row_ms": med["duckdb.one_row"],
        "workbench_aggregate_ms": med["workbench.aggregate"],
        "jupysql_aggregate_ms": med["jupysql.aggregate"],
        "duckdb_aggregate_ms": med["duckdb.aggregate"],
        "duckdb_plain_scan_aggregate_ms": med["duckdb.aggregate_plain_scan"],
        "jupysql_aggregate_vs_duckdb_ratio": paired("jupysql.aggregate", "duckdb.aggregate"),
        "new_text_aggregate_vs_duckdb_ratio": paired(
            "workbench.aggregate_new_text", "duckdb.aggregate"
        ),
        "workbench_aggregate_vs_jupysql_ratio": paired("workbench.aggregate", "jupysql.aggregate"),
        # Best of the runs: load only ever adds time, so on a busy machine the fastest
        # run of each is the closest to what it costs (shown beside the paired medians).
        "one_row_vs_jupysql_best_ratio": best("workbench.one_row", "jupysql.one_row"),
        "aggregate_vs_duckdb_best_ratio": best("workbench.aggregate", "duckdb.aggregate"),
    }
    if against is not None:
        print(f"--against: workbench_kernels from {against}")
        figures["against_one_row_vs_jupysql_ratio"] = paired("against.one_row", "jupysql.one_row")
        figures["against_aggregate_vs_duckdb_ratio"] = paired(
            "against.aggregate", "duckdb.aggregate"
        )
        figures["one_row_vs_against_ratio"] = paired("workbench.one_row", "against.one_row")
        figures["aggregate_vs_against_ratio"] = paired("workbench.aggregate", "against.aggregate")
    for label, key in (
        ("ratio workbench / jupysql, 1-row", "one_row_vs_jupysql_ratio"),
        ("ratio workbench / raw duckdb, aggregate", "aggregate_vs_duckdb_ratio"),
        ("ratio jupysql / raw duckdb, aggregate", "jupysql_aggregate_vs_duckdb_ratio"),
        ("ratio workbench (new text) / raw duckdb", "new_text_aggregate_vs_duckdb_ratio"),
        ("ratio workbench / jupysql, aggregate", "workbench_aggregate_vs_jupysql_ratio"),
        ("best runs' ratio workbench / jupysql, 1-row", "one_row_vs_jupysql_best_ratio"),
        ("best runs' ratio workbench / raw duckdb, aggregate", "aggregate_vs_duckdb_best_ratio"),
        ("ratio --against / jupysql, 1-row", "against_one_row_vs_jupysql_ratio"),
        ("ratio --against / raw duckdb, aggregate", "against_aggregate_vs_duckdb_ratio"),
        ("ratio workbench / --against, 1-row", "one_row_vs_against_ratio"),
        ("ratio workbench / --against, aggregate", "aggregate_vs_against_ratio"),
    ):
        if key in figures:
            print(f"{label:50} {figures[key]:9.3f}")
    rounded = {k: round(v, 3) for k, v in figures.items()}
    units = {k: "ratio" if k.endswith("_ratio") else "ms" for k in figures}
    print(
        json.dumps(
            {
                "benchmark": "sql_magic",
                "figures": rounded,
                "units": units,
                "goals": {
                    "one_row_vs_jupysql_ratio": "<= 0.5",
                    "aggregate_vs_duckdb_ratio": "<= 1.05",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
