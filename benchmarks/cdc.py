"""Change data capture (issue 21), each figure against the raw tool in the same run.

A PostgreSQL cluster with ``wal_level=logical`` and an ``account_move_line``-shaped table
(35 columns, fifteen NUMERIC(16,2) amounts; benchmarks/lake.py's) are made here. Then:

- ``catchup_vs_extract``: a backlog of ``--rows`` new rows (inserted in transactions of
  10,000 after the slot was made, as a stopped consumer finds them) read by a cdc
  extract (``mode: cdc``: pgoutput decoded, cast in DuckDB, bronze appends in
  micro-batches) vs a full extract of the same rows (``mode: full``), alternating.
  Goal (for 1M rows): <= 1.5. Beside it, ``catchup_vs_raw_stream``: the catch-up vs
  psycopg2 reading the same backlog from a second slot without decoding anything (the
  floor of any pgoutput consumer in Python).
- ``slot_lag_after_catchup_bytes``: the slot's lag once the catch-up run ended.
- ``cdc_p95_s``: commit-to-visible-in-silver latency at ``--rate`` changes/s (default
  1,000, in transactions of 100 updated rows): a cdc consumer following the slot
  (``batch_seconds: 1``) and a merge step run in a loop, each in a process of its own,
  while this process commits and watches silver for each transaction's marker. Goal:
  <= 5 s. (The raw tool here is the floor: the time psycopg2 takes to receive a
  transaction, ``raw_receive_p95_s``.)

    python benchmarks/cdc.py [--rows 1000000] [--repeat 2] [--seconds 30] [--rate 1000]
                             [--catchup-copy-mb 64] [--no-latency]

With ``--catchup-copy-mb`` the catch-up is the step's copy as of a new snapshot (read
through DuckDB's postgres scanner, as the full extract reads), the way a step with
``catchup_copy_mb`` catches a large backlog up; without it the backlog is streamed.
"""

from __future__ import annotations

import argparse
import json
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server_ext"))
sys.path.insert(0, str(ROOT / "pipelines"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import lake as lake_bench  # noqa: E402  benchmarks/lake.py: the table, the home

CHUNK = 10_000
TXN_ROWS = 100


def _ctx(
    workbench: Any, step: str, config: dict[str, Any], kind: str = "extract", run: str = "bench"
) -> Any:
    from workbench_pipelines.ingest.context import Progress, StepContext
    from workbench_server.principal import local_principal

    return StepContext(
        workbench, local_principal(), "benchmark", run, step, 1, config, {}, Progress(),
        kind=kind,
    )  # fmt: skip


def _record_run(workbench: Any, run_id: str) -> None:
    """A run of the benchmark's pipeline (as ``_extract_home`` makes ``bench``)."""
    from sqlalchemy import select

    from workbench_server.db.models import Pipeline, Run

    with workbench.sessions.begin() as session:
        pipeline = session.scalar(select(Pipeline).where(Pipeline.name == "benchmark"))
        session.add(
            Run(
                id=run_id, pipeline_id=pipeline.id, version=1, status="running",
                trigger="manual", parameters={}, logical_date="2026-12-01",
                workflow_id=run_id, requested_by=pipeline.owner,
            )
        )  # fmt: skip


def _cdc_config(table: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": "bench_pg",
        "mode": "cdc",
        "tables": [{"table": table, "target": target}],
        **extra,
    }


def _run(
    workbench: Any, step: str, config: dict[str, Any], kind: str = "extract", run: str = "bench"
) -> float:
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_pipelines.ingest.merge import run_merge

    ctx = _ctx(workbench, step, config, kind, run)
    lake_bench._settle()
    started = time.perf_counter()
    (run_extract if kind == "extract" else run_merge)(ctx)
    return time.perf_counter() - started


def _raw_stream(url: str, slot: str, publication: str, target_rows: int) -> float:
    """psycopg2 reading a slot's backlog, nothing decoded: seconds until ``target_rows``
    insert messages arrived."""
    import psycopg2
    from psycopg2.extras import LogicalReplicationConnection

    conn = psycopg2.connect(url, connection_factory=LogicalReplicationConnection)
    try:
        cur = conn.cursor()
        started = time.perf_counter()
        cur.start_replication(
            slot_name=slot,
            decode=False,
            options={"proto_version": "1", "publication_names": publication},
        )
        seen = 0
        while seen < target_rows:
            message = cur.read_message()
            if message is None:
                select.select([cur], [], [], 0.1)
                continue
            seen += message.payload[:1] == b"I"
        return time.perf_counter() - started
    finally:
        conn.close()


def measure_catchup(
    url: str, workbench: Any, rows: int, repeat: int, copy_mb: int | None = None
) -> dict[str, Any]:
    import psycopg

    from workbench_server.connections.replication import slot_name, slots

    times: dict[str, list[float]] = {"catchup": [], "extract_full": [], "raw_stream": []}
    lags = []
    kwargs = {"conninfo": url}
    for round_no in range(repeat):
        table = f"aml_{round_no}"
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f"CREATE TABLE {table} (LIKE account_move_line INCLUDING ALL)")
        step = f"cdc_{round_no}"
        extra = {"catchup_copy_mb": copy_mb} if copy_mb else {}
        config = _cdc_config(table, f"bronze.cdc_{round_no}", **extra)
        _run(workbench, step, config)  # the slot, and an empty snapshot
        slot = slot_name("bench_pg", "benchmark", step)
        raw_slot = f"raw_{round_no}"
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (raw_slot,))
            for low in range(0, rows, CHUNK):  # the backlog, as transactions of 10,000
                db.execute(
                    f"INSERT INTO {table} SELECT * FROM account_move_line "
                    "WHERE id > %s AND id <= %s",
                    (low, low + CHUNK),
                )
            db.execute("CHECKPOINT")
        order = ["catchup", "extract_full", "raw_stream"]
        if round_no % 2:
            order.reverse()
        for name in order:
            if name == "catchup":
                times[name].append(_run(workbench, step, config))
            elif name == "extract_full":
                full = {
                    "source": "bench_pg",
                    "mode": "full",
                    "tables": [{"table": table, "target": f"bronze.full_{round_no}"}],
                }
                times[name].append(_run(workbench, f"full_{round_no}", full))
            else:
                times[name].append(_raw_stream(url, raw_slot, slot, rows))
        found = {s.name: s for s in slots(kwargs)}
        lags.append(found[slot].lag_bytes)
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("SELECT pg_drop_replication_slot(%s)", (raw_slot,))
    return {"times": times, "lag": statistics.median(lags)}


# -- latency ---------------------------------------------------------------------------
def child(role: str, home: str, seconds: float) -> None:
    """A consumer (``cdc``) or a merge loop (``merge``) in a process of its own."""
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    workbench = Workbench(WorkbenchSettings.from_env(Path(home)))
    config = _cdc_config("aml_live", "bronze.live", follow=f"{seconds}s", batch_seconds=1)
    if role == "cdc":  # a run of its own, as a following step is: the merge reads its rows
        _run(workbench, "live", config, run="live")
        return
    deadline = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < deadline:
        turn += 1
        try:
            _run(
                workbench, "merge_live", {"tables": ["bronze.live"]}, kind="merge",
                run=f"merge-{turn}",
            )  # fmt: skip
        except Exception as exc:  # bronze not made yet
            print(f"merge: {exc}", file=sys.stderr)
            time.sleep(0.2)


def measure_latency(url: str, home: Path, workbench: Any, seconds: float, rate: int) -> dict:
    import psycopg

    from workbench_server.lake import Lake

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE aml_live AS SELECT * FROM account_move_line")
        db.execute("ALTER TABLE aml_live ADD PRIMARY KEY (id)")
    config = _cdc_config("aml_live", "bronze.live")
    _run(workbench, "live", config)  # the slot and the snapshot
    _run(workbench, "merge_live", {"tables": ["bronze.live"]}, kind="merge")  # silver.live
    for run_id in ["live", *(f"merge-{turn}" for turn in range(1, 1000))]:
        _record_run(workbench, run_id)
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    run_for = seconds + 15
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", role, str(home), str(run_for)],
            stdout=subprocess.DEVNULL,
        )
        for role in ("cdc", "merge")
    ]
    time.sleep(5)  # both started (imports, the slot opened)
    stop = threading.Event()

    (span,) = (
        psycopg.connect(url).execute("SELECT least(count(*), 100000) FROM aml_live").fetchone()
    )
    span -= span % TXN_ROWS

    def write() -> None:
        per_txn = TXN_ROWS
        every = per_txn / rate
        with psycopg.connect(url, autocommit=True) as db:
            i = 0
            started = time.monotonic()
            while not stop.is_set():
                low = (i * per_txn) % span
                db.execute(
                    "UPDATE aml_live SET ref = %s WHERE id > %s AND id <= %s",
                    (f"t{i}", low, low + per_txn),
                )
                committed[i] = time.monotonic()
                i += 1
                pause = started + i * every - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

    writer = threading.Thread(target=write)
    writer.start()
    lake = Lake.default(workbench.settings)
    db = lake.connect()
    deadline = time.monotonic() + seconds
    last_version = -1
    try:
        while time.monotonic() < deadline + 10:
            if time.monotonic() >= deadline:
                stop.set()
            version = lake.version("silver.live")
            if version != last_version:
                last_version = version
                now = time.monotonic()
                for (ref,) in db.execute(
                    f"SELECT DISTINCT ref FROM {lake.scan_sql('silver.live', version)} "
                    "WHERE ref LIKE 't%'"
                ).fetchall():
                    number = int(ref[1:])
                    if number not in seen:
                        seen[number] = now
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join()
        db.close()
        for proc in procs:
            proc.wait(run_for + 60)
    # A later transaction overwrites an earlier one's rows after 100,000 / 100 of them:
    # only transactions whose marker was seen count.
    latencies = sorted(seen[i] - committed[i] for i in seen if i in committed)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    return {
        "p95": p95,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "transactions": len(committed),
        "seen": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument(
        "--catchup-copy-mb",
        type=int,
        default=None,
        help="catch a backlog over this many MB of WAL up by a new snapshot copy "
        "(catchup_copy_mb of the step) rather than the stream",
    )
    parser.add_argument("--no-latency", action="store_true", help="the catch-up figures only")
    parser.add_argument("--child", nargs=3, metavar=("ROLE", "HOME", "SECONDS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return

    import psycopg

    from tests.support.postgres import running_cluster

    root = Path(tempfile.mkdtemp(prefix="wb-bench-cdc-"))
    root.chmod(0o755)  # the cluster may run as another account
    settings = {"wal_level": "logical", "max_replication_slots": "16", "max_wal_senders": "16"}
    try:
        with running_cluster(root / "pg", settings) as cluster:
            with psycopg.connect(cluster.url(), autocommit=True) as db:
                db.execute("CREATE DATABASE bench")
            url = cluster.url("bench")
            with psycopg.connect(url, autocommit=True) as db:
                db.execute(lake_bench.EXTRACT_TABLE.format(rows=int(args.rows)))
                db.execute("VACUUM ANALYZE account_move_line")
            workbench = lake_bench._extract_home(root / "home", url)
            try:
                catchup = measure_catchup(
                    url, workbench, args.rows, args.repeat, args.catchup_copy_mb
                )
                latency = (
                    {"p95": float("nan"), "p50": float("nan"), "seen": 0, "transactions": 0}
                    if args.no_latency
                    else measure_latency(url, root / "home", workbench, args.seconds, args.rate)
                )
            finally:
                workbench.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    times = catchup["times"]

    def paired(numerator: str, denominator: str) -> float:
        pairs = zip(times[numerator], times[denominator], strict=True)
        return statistics.median(a / b for a, b in pairs)

    print(f"backlog: {args.rows:,} journal items (35 columns) in transactions of {CHUNK:,}")
    if args.catchup_copy_mb:
        print(f"catch-up by a snapshot copy over {args.catchup_copy_mb} MB of WAL behind")
    print(f"{'measure':30} {'median':>9} {'min':>9} {'max':>9}  runs")
    for name, values in times.items():
        print(
            f"{name:30} {statistics.median(values):8.2f}s {min(values):8.2f}s "
            f"{max(values):8.2f}s  {len(values)}"
        )
    figures = {
        "catchup_vs_extract": paired("catchup", "extract_full"),
        "catchup_vs_raw_stream": paired("catchup", "raw_stream"),
        "catchup_s": statistics.median(times["catchup"]),
        "extract_full_s": statistics.median(times["extract_full"]),
        "raw_stream_s": statistics.median(times["raw_stream"]),
        "catchup_rows_per_s": args.rows / statistics.median(times["catchup"]),
        "slot_lag_after_catchup_bytes": catchup["lag"],
        "cdc_p95_s": latency["p95"],
        "cdc_p50_s": latency["p50"],
        "latency_transactions_seen": latency["seen"],
    }
    goals = {"catchup_vs_extract": "<= 1.5", "cdc_p95_s": "<= 5"}
    print(
        f"latency at {args.rate} changes/s for {args.seconds:g}s: {latency['transactions']} "
        f"transactions committed, {latency['seen']} seen in silver"
    )
    for name in ("catchup_vs_extract", "catchup_vs_raw_stream", "cdc_p95_s", "cdc_p50_s"):
        print(f"{name:30} {figures[name]:9.3f}  goal {goals.get(name, '-')}")
    units = {
        k: "ratio"
        if k.startswith("catchup_vs")
        else "bytes"
        if k.endswith("_bytes")
        else "rows/s"
        if k.endswith("_per_s")
        else "count"
        if k.endswith("_seen")
        else "s"
        for k in figures
    }
    print(
        json.dumps(
            {
                "benchmark": "cdc",
                "figures": {k: round(v, 3) for k, v in figures.items() if v == v},  # no NaN
                "units": units,
                "goals": goals,
            }
        )
    )


if __name__ == "__main__":
    main()
