"""Superset (issue 18): what publishing costs, how fresh Superset's data is, and how
Superset's charts over the serving file hold up, next to raw DuckDB in the same run.

Starts the tests' Superset (tests/support/superset_peer.py; install it with .ci/run) and
a workbench core on a fresh home whose lake holds a seeded gold table of ``--rows`` rows
(partner, month, amount DECIMAL(18,2)). Then, after a warm-up:

- ``publish_s``: ``workbench publish`` of that table (copy into the serving DuckDB file,
  dataset refresh and metadata sync through Superset's REST API), median of
  ``--repeat``; beside it ``copy_s``, raw DuckDB copying the same columns from the Delta
  table into a file, alternated with it; ``publish_vs_copy_ratio``.
- ``chart_ms``: ``/api/v1/chart/data`` (SUM(amount) by month) median; beside it
  ``duckdb_ms``, the same SQL on the serving file in DuckDB; ``chart_vs_duckdb_ratio``.
- ``freshness_s``: a row appended to the lake, published, and seen by a chart (what a
  pipeline's publish step adds after the write).
- ``chart_p95_ms_8_clients`` and ``chart_errors_during_publish``: 8 clients asking for
  the chart at once while the table is re-published twice (the file is replaced under
  them): the p95 and how many answers were errors (goal 0).
- ``publish_with_5_others_s``: publishing the table again when 5 other tables of the
  same size are served by the same file (each publish copies them: the limit).

    python benchmarks/superset.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.superset_peer import ADMIN, Superset, installed  # noqa: E402


def seeded(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    cents = rng.integers(-10_000_000, 10_000_000, rows)
    return pa.table(
        {
            "partner_id": pa.array(rng.integers(1, 5_000, rows), pa.int64()),
            "month": pa.array(rng.integers(1, 13, rows), pa.int32()),
            "amount": pa.array([Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(18, 2)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not installed():
        sys.exit("Superset is not installed: run .ci/run (see tests/support/superset_peer.py)")

    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.connections.kinds import SupersetConfig
    from workbench_server.core import Workbench
    from workbench_server.lake import Lake
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings
    from workbench_server.superset import PublishRequest, SupersetClient, publish
    from workbench_server.superset.serving import serving_path

    with tempfile.TemporaryDirectory() as folder:
        superset = Superset(Path(folder) / "superset")
        superset.start()
        try:
            settings = WorkbenchSettings.from_env(Path(folder) / "home")
            settings.workbench_home.prepare()
            core = Workbench(settings)
            me = local_principal()
            ConnectionService(core, me).create(
                ConnectionCreate(
                    name="bi",
                    settings={
                        "kind": "superset",
                        "url": superset.url,
                        "user": ADMIN[0],
                        "password": ADMIN[1],
                    },
                )
            )
            lake = Lake.default(settings)
            data = seeded(args.rows)
            lake.write("gold.ledger", data, mode="overwrite")
            request = PublishRequest(table="gold.ledger", to="bi")
            first = publish(core, me, request)  # warm-up (creates database and dataset)
            cfg = ConnectionService(core, me).resolve("bi")
            assert isinstance(cfg, SupersetConfig)
            client = SupersetClient(cfg).login()
            path = serving_path(settings.home, "bi")
            query = {
                "datasource": {"id": first.dataset_id, "type": "table"},
                "queries": [
                    {
                        "columns": ["month"],
                        "metrics": [
                            {"expressionType": "SQL", "sqlExpression": "SUM(amount)", "label": "t"}
                        ],
                        "row_limit": 100,
                    }
                ],
                "result_format": "json",
                "result_type": "full",
            }

            def chart() -> dict[int, Decimal]:
                answer = client.call("POST", "/api/v1/chart/data", query)["result"][0]
                return {r["month"]: Decimal(str(r["t"])) for r in answer["data"]}

            def copy_only() -> None:
                target = Path(folder) / "copy.duckdb"
                target.unlink(missing_ok=True)
                db = duckdb.connect(str(target))
                lake.connect(db)
                db.execute(
                    "CREATE TABLE t AS SELECT partner_id, month, amount FROM "
                    + lake.scan_sql("gold.ledger")
                )
                db.execute("CHECKPOINT")
                db.close()

            publishes, copies = [], []
            for i in range(args.repeat):
                for which in ("publish", "copy") if i % 2 == 0 else ("copy", "publish"):
                    started = time.perf_counter()
                    publish(core, me, request) if which == "publish" else copy_only()
                    (publishes if which == "publish" else copies).append(
                        time.perf_counter() - started
                    )

            sql = "SELECT month, SUM(amount) FROM gold.ledger GROUP BY month"
            chart()
            charts, raws = [], []
            for _ in range(max(5, args.repeat * 3)):
                started = time.perf_counter()
                chart()
                charts.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                with duckdb.connect(str(path), read_only=True) as db:
                    db.execute(sql).fetchall()
                raws.append((time.perf_counter() - started) * 1000)

            # Freshness: a row written to the lake, published, seen by a chart.
            extra = pa.table(
                {
                    "partner_id": pa.array([1], pa.int64()),
                    "month": pa.array([13], pa.int32()),
                    "amount": pa.array([Decimal("0.01")], pa.decimal128(18, 2)),
                }
            )
            started = time.perf_counter()
            lake.write("gold.ledger", extra, mode="append")
            publish(core, me, request)
            seen = chart()
            freshness = time.perf_counter() - started
            assert seen.get(13) == Decimal("0.01"), seen

            # Concurrency: 8 clients while the file is replaced twice.
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def client_loop() -> None:
                mine = SupersetClient(cfg).login()
                for _ in range(8):
                    started = time.perf_counter()
                    try:
                        answer = mine.call("POST", "/api/v1/chart/data", query)["result"][0]
                        ok = answer.get("status") == "success"
                    except Exception as exc:  # counted, not raised
                        ok, answer = False, {"error": str(exc)}
                    with lock:
                        latencies.append((time.perf_counter() - started) * 1000)
                        if not ok:
                            errors.append(str(answer.get("error"))[:200])

            threads = [threading.Thread(target=client_loop) for _ in range(8)]
            for t in threads:
                t.start()
            publish(core, me, request)
            publish(core, me, request)
            for t in threads:
                t.join(300)
            p95 = statistics.quantiles(latencies, n=20)[-1]

            # The limit: every publish copies the other tables of the file too.
            for n in range(5):
                lake.write(f"gold.other_{n}", data, mode="overwrite")
                publish(core, me, PublishRequest(table=f"gold.other_{n}", to="bi"))
            started = time.perf_counter()
            publish(core, me, request)
            with_others = time.perf_counter() - started
            core.close()
        finally:
            superset.stop()

    figures = {
        "publish_s": round(statistics.median(publishes), 3),
        "copy_s": round(statistics.median(copies), 3),
        "publish_vs_copy_ratio": round(statistics.median(publishes) / statistics.median(copies), 2),
        "chart_ms": round(statistics.median(charts), 1),
        "duckdb_ms": round(statistics.median(raws), 1),
        "chart_vs_duckdb_ratio": round(statistics.median(charts) / statistics.median(raws), 2),
        "freshness_s": round(freshness, 3),
        "chart_p95_ms_8_clients": round(p95, 1),
        "chart_errors_during_publish": len(errors),
        "publish_with_5_others_s": round(with_others, 3),
    }
    units = {k: "s" for k in figures if k.endswith("_s")}
    units |= {k: "ms" for k in figures if "_ms" in k}
    units |= {k: "ratio" for k in figures if k.endswith("ratio")}
    units["chart_errors_during_publish"] = "count"
    print(f"rows: {args.rows}, repeat: {args.repeat}")
    for name, value in figures.items():
        print(f"  {name:28} {value}")
    if errors:
        print("errors:", errors[:3])
    print(
        json.dumps(
            {
                "benchmark": "superset",
                "figures": figures,
                "units": units,
                "goals": {"chart_errors_during_publish": "== 0"},
            }
        )
    )


if __name__ == "__main__":
    main()
