"""Finance flows (issue 17), each figure against the raw tool in the same run.

Figures are functions registered in ``FIGURES`` (name -> function returning its figures,
units and goals); ``--only close,receipts`` picks some. Add one by writing a function
``measure_<name>(args) -> Figures`` and an entry in ``FIGURES``; the last line printed is
the JSON object of every figure measured (see /work/shared/benchmarks.md).

close: the shipped month-end close template (pipelines/templates/month_end_close.yaml)
on an Odoo 17-shaped PostgreSQL database with ``--rows`` journal items (default 1M: half
the moves invoices, a quarter payments reconciled with them through
account_partial_reconcile, two companies, 23 months; rows created and written on their
day, never after the clock, as Odoo stamps them), run on a real Temporal dev server
and ``workbench worker`` (own home, task queue, cluster). The first run copies every row
(``first_close_s``, extract included). Then, alternating, after one warm-up of each:

- the workbench: the close of one month run end to end (its incremental extract finding
  nothing new, the merge, the sql steps writing their Delta tables, the report notebook);
  timed from the run's start to its end as recorded.
- raw DuckDB: the same SQL files run one after the other in one DuckDB connection on
  the extracted silver tables (``delta_scan``), each result materialised as a table the
  next queries read.

``close_overhead_ratio`` = median(workbench) / median(raw DuckDB). Goal <= 2. Beside it,
``close_sql_steps_ratio``: the sql steps' own time (their attempts, median per step,
summed) over raw DuckDB's, which leaves out the extract, the merge and the report.

Also measured, to say what the ratio compares and what bounds it:

- ``close_raw_cold_s`` (and ``close_overhead_ratio_cold``): raw DuckDB as a user's
  script runs it - a fresh Python process that opens a DuckDB connection, loads the delta
  extension, names the silver tables (``delta_scan``), runs the same SQL files and writes
  each result to a Delta table of its own (replaced whole with deltalake: no merge or
  replace_where, no versions recorded, no lineage, no report).
- ``pipeline_floor_s``: a pipeline of one sql step (``SELECT 1``, written to a gold
  table) run end to end the same way: what any step costs on Temporal, the worker and
  the lake's commit whatever the query.
- the load average (1 minute) at each repetition: the machine is shared.
- with ``--against DIR`` (another checkout of the workbench, e.g. ``git archive`` of an
  older commit unpacked there): a second worker runs that code on its own task queue,
  same lake and source, and its closes alternate with this code's in each repetition
  (A/B, then B/A): ``close_against_s``, and how many repetitions this code won. On a
  shared machine, before/after figures from separate runs differ by the load more
  than by most changes.

    python benchmarks/finance.py [--only close] [--rows 1000000] [--repeat 3] [--against DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server_ext"))
sys.path.insert(0, str(ROOT / "pipelines"))
sys.path.insert(0, str(ROOT))

TEMPLATE = ROOT / "pipelines" / "templates"
CLOSE_SQL = [  # (file, target) in the order the template runs them
    ("close_period.sql", "gold.close_periods"),
    ("accounts.sql", "silver.account_by_company"),
    ("trial_balance.sql", "gold.trial_balance"),
    ("open_items.sql", "gold.open_items"),
    ("open_items_by_partner.sql", "gold.open_items_by_partner"),
    ("ar_ap_ageing.sql", "gold.ar_ap_ageing"),
    ("checks.sql", "gold.close_checks"),
    ("close_runs.sql", "gold.close_runs"),
]
PERIOD = "2026-10"


@dataclass
class Figures:
    figures: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    goals: dict[str, str] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[finance] {message}", file=sys.stderr, flush=True)


# -- close -------------------------------------------------------------------------------
BULK = """
CREATE TEMP TABLE acc AS
SELECT company_id, account_type, min(id) AS id FROM account_account GROUP BY 1, 2;
CREATE TEMP TABLE jr AS SELECT company_id, type, min(id) AS id FROM account_journal GROUP BY 1, 2;
CREATE TEMP TABLE mv AS
SELECT g, 1 + (g / 4) % 2 AS company_id,
       CASE WHEN g % 4 = 3 THEN 'payment' ELSE 'invoice' END AS kind,
       (SELECT min(id) FROM res_partner) + ((g / 4) % 6) AS partner_id,
       DATE '2025-01-01' + ((g / 4) * 4 * 13 % 690)::int + (CASE WHEN g % 4 = 3 THEN 20 ELSE 0 END)
         AS date,
       round(((((g / 4) * 4 + 2) * 7919) % 400000) / 100.0 + 1, 2)::numeric AS amount
FROM generate_series(1::bigint, %(moves)s) g;
-- Rows were created and written on their day, as Odoo stamps them (UTC), never after the
-- clock: an entry dated ahead (the data runs to mid-December) was written in the day before
-- the run. An incremental extract reads only what changed since the last run.
CREATE TEMP TABLE stamped AS
SELECT g, LEAST(date + time '18:00',
                (now() AT TIME ZONE 'UTC') - interval '1 day' - (g % 86400) * interval '1 second')
         AS stamp
FROM mv;
INSERT INTO account_move (id, name, date, state, move_type, journal_id, company_id, partner_id,
                          currency_id, amount_total, create_date, write_date)
SELECT 10000000 + mv.g, 'BULK/' || mv.g, date,
       CASE WHEN mv.g % 97 = 0 THEN 'draft' ELSE 'posted' END,
       CASE WHEN kind = 'invoice' THEN 'out_invoice' ELSE 'entry' END,
       (SELECT id FROM jr WHERE jr.company_id = mv.company_id
          AND jr.type = CASE WHEN kind = 'invoice' THEN 'sale' ELSE 'bank' END),
       company_id, partner_id, company_id, amount, s.stamp, s.stamp
FROM mv JOIN stamped s ON s.g = mv.g;
INSERT INTO account_move_line (id, move_id, move_name, date, parent_state, journal_id, company_id,
  company_currency_id, account_id, partner_id, currency_id, name, display_type, debit, credit,
  balance, amount_currency, amount_residual, amount_residual_currency, reconciled, create_date,
  write_date)
SELECT 20000000 + 2 * g + side, m.id, m.name, m.date, m.state, m.journal_id, m.company_id,
       m.company_id,
       (SELECT id FROM acc WHERE acc.company_id = m.company_id AND acc.account_type =
          CASE WHEN (mv.kind = 'invoice') = (side = 0) THEN 'asset_receivable'
               WHEN mv.kind = 'invoice' THEN 'income' ELSE 'asset_cash' END),
       m.partner_id, m.currency_id, m.name, 'product',
       CASE WHEN side = 0 THEN mv.amount ELSE 0 END, CASE WHEN side = 1 THEN mv.amount ELSE 0 END,
       CASE WHEN side = 0 THEN mv.amount ELSE -mv.amount END,
       CASE WHEN side = 0 THEN mv.amount ELSE -mv.amount END,
       0, 0, false, m.create_date, m.write_date
FROM mv JOIN account_move m ON m.id = 10000000 + mv.g CROSS JOIN (VALUES (0), (1)) s(side);
-- Each payment (g % 4 = 3) clears the invoice before it (g - 1): receivable debit of the
-- invoice (side 0) against the payment's receivable credit (side 0 of a payment is the
-- bank; its receivable line is side 1).
INSERT INTO account_partial_reconcile (debit_move_id, credit_move_id, amount,
  debit_amount_currency, credit_amount_currency, company_id, max_date, create_date, write_date)
SELECT 20000000 + 2 * (mv.g - 1), 20000000 + 2 * mv.g + 1, amount, amount, amount, company_id,
       date, s.stamp, s.stamp
FROM mv JOIN stamped s ON s.g = mv.g
WHERE kind = 'payment' AND mv.g %% 97 <> 0 AND (mv.g - 1) %% 97 <> 0;
"""


def make_source(url: str, rows: int) -> int:
    import psycopg

    from tests.support.odoo_close import build_close_source

    build_close_source(url, "17.0", last=date(2025, 1, 31))
    moves = rows // 2
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(BULK.replace("%(moves)s", str(moves)).replace("%%", "%"))
        db.execute("ANALYZE")
        (count,) = db.execute("SELECT count(*) FROM account_move_line").fetchone()
    return count


def spawn_worker(
    home: Path, address: str, queue: str, code: Path | None = None
) -> subprocess.Popen[bytes]:
    """A worker of this checkout, or (``code``) of another one's sources."""
    from workbench_server import temporal

    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    if code is not None:
        parts = ("hub", "kernels", "pipelines", "server_ext")
        env["PYTHONPATH"] = os.pathsep.join(str(code / part) for part in parts)
    argv = temporal.worker_argv(home=home, address=address, task_queue=queue)
    with (home / f"worker-bench{'-against' if code else ''}.log").open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )


def stop(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def run_close(workbench: Any, address: str, queue: str, period: str) -> tuple[float, Any]:
    from workbench_pipelines.workflows import PipelineRunWorkflow
    from workbench_server import temporal
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import local_principal

    service = RunService(workbench, local_principal())
    plan, _ = service.prepare(
        "month-end-close", {"company_id": 1, "period": period}, logical_date=date(2026, 12, 1)
    )

    async def go() -> None:
        client = await temporal.connect(address)
        await client.execute_workflow(
            PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=queue
        )

    started = time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - started
    run = service.get(plan.run_id)
    if run.status != "succeeded":
        errors = "; ".join(f"{a.step_id}: {a.error}" for a in run.attempts if a.error)
        raise RuntimeError(f"close run {run.id} {run.status}: {errors}")
    return elapsed, run


GAPS = "between steps"  # the run's time less its steps' attempts (Temporal, the worker)


def record_steps(run: Any, elapsed: float, steps: dict[str, list[float]]) -> None:
    """Each step attempt's time of ``run`` into ``steps``, and the rest of the run's
    ``elapsed`` (dispatch, the workflow's own activities, the client) as ``GAPS``."""
    spent_all = 0.0
    for a in run.attempts:
        if a.started_at and a.finished_at:
            spent = (a.finished_at - a.started_at).total_seconds()
            steps.setdefault(a.step_id, []).append(spent)
            spent_all += spent
    steps.setdefault(GAPS, []).append(elapsed - spent_all)


def silver_read() -> list[str]:
    """The silver tables the close's SQL reads (those it makes itself left out)."""
    from workbench_pipelines.spec_sql import lake_tables_read

    made = {target for _, target in CLOSE_SQL}
    found: dict[str, None] = {}
    for file, _ in CLOSE_SQL:
        for table in lake_tables_read((TEMPLATE / "month_end_close" / file).read_text()):
            if table.startswith("silver.") and table not in made:
                found.setdefault(table)
    return list(found)


def raw_close(lake: Any, period: str) -> float:
    """The template's SQL, run in one DuckDB connection on the silver tables."""
    from workbench_pipelines.spec_sql import lake_tables_read

    db = lake.connect()
    try:
        for layer in ("silver", "gold"):
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        for table in silver_read():
            scan = lake.scan_sql(table)
            db.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {scan}")
        params = {"source": "odoo", "company_id": 1, "period": period}
        started = time.perf_counter()
        for file, target in CLOSE_SQL:
            sql = (TEMPLATE / "month_end_close" / file).read_text()
            if file == "close_runs.sql":
                tables = lake_tables_read(sql)
                db.execute(
                    "CREATE OR REPLACE TEMP TABLE pinned_versions AS SELECT * FROM (VALUES "
                    + ", ".join(f"('{t}', 0, 'raw')" for t in tables)
                    + ") v(table_name, version, run_id)"
                )
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            db.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}", used)
        return time.perf_counter() - started
    finally:
        db.close()


COLD_SCRIPT = """
import json, sys, duckdb
from deltalake import write_deltalake
job = json.loads(sys.stdin.read())
db = duckdb.connect()
db.execute("LOAD '" + job["delta"].replace("'", "''") + "'")
db.execute("SET TimeZone = 'UTC'")
for layer in ("silver", "gold"):
    db.execute(f"CREATE SCHEMA {layer}")
for name, scan in job["views"].items():
    db.execute(f"CREATE VIEW {name} AS SELECT * FROM {scan}")
for target, sql, params in job["queries"]:
    db.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}", params or None)
    if target != "pinned_versions":  # each result kept as a Delta table, as the close's
        rows = db.table(target).to_arrow_table()
        write_deltalake(job["out"] + "/" + target, rows, mode="overwrite")
"""


def raw_close_cold(lake: Any, period: str, out: Path) -> float:
    """The same SQL as :func:`raw_close` from a fresh process, as a user's script: the
    interpreter, DuckDB's import, the delta extension and each table's log read cold,
    and each query's result written to a Delta table of its own in ``out`` (replaced
    whole: no merge or replace_where, no versions recorded, no lineage)."""
    from workbench_pipelines.spec_sql import lake_tables_read
    from workbench_server.lake.engine import extension_path

    params = {"source": "odoo", "company_id": 1, "period": period}
    views = {table: lake.scan_sql(table) for table in silver_read()}
    queries = []
    for file, target in CLOSE_SQL:
        sql = (TEMPLATE / "month_end_close" / file).read_text()
        if file == "close_runs.sql":
            values = ", ".join(f"('{t}', 0, 'raw')" for t in lake_tables_read(sql))
            queries.append(
                ("pinned_versions",
                 f"SELECT * FROM (VALUES {values}) v(table_name, version, run_id)", {})
            )  # fmt: skip
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        queries.append((target, sql, used))
    job = json.dumps(
        {"delta": extension_path("delta"), "views": views, "queries": queries, "out": str(out)}
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT], input=job, text=True, check=True, timeout=600
    )
    return time.perf_counter() - started


FLOOR = """\
name: bench-floor
description: One sql step, to measure what any step costs end to end.
steps:
  - id: one
    kind: sql
    sql: SELECT 1 AS x
    target: gold.bench_floor
"""


def run_floor(workbench: Any, address: str, queue: str) -> float:
    from workbench_pipelines.workflows import PipelineRunWorkflow
    from workbench_server import temporal
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import local_principal

    service = RunService(workbench, local_principal())
    plan, _ = service.prepare("bench-floor", {}, logical_date=date(2026, 12, 1))

    async def go() -> None:
        client = await temporal.connect(address)
        await client.execute_workflow(
            PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=queue
        )

    started = time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - started
    if service.get(plan.run_id).status != "succeeded":
        raise RuntimeError(f"floor run {plan.run_id} did not succeed")
    return elapsed


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def measure_close(args: argparse.Namespace) -> Figures:
    from tests.support.postgres import postgres_settings, running_cluster
    from workbench_server import temporal
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.core import Workbench
    from workbench_server.lake import Lake
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    root = Path(tempfile.mkdtemp(prefix="wb-bench-finance-"))
    root.chmod(0o755)  # the cluster may run as another account
    server = worker = other = None
    workbench = None
    out = Figures()
    against = Path(args.against).resolve() if args.against else None
    if against is not None and not (against / "pipelines" / "workbench_pipelines").is_dir():
        raise SystemExit(f"--against {against}: not a checkout of the workbench")
    try:
        with running_cluster(root / "pg") as cluster:
            import psycopg

            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE odoo")
            url = cluster.url("odoo")
            started = time.perf_counter()
            items = make_source(url, args.rows)
            log(f"source: {items:,} journal items in {time.perf_counter() - started:.0f}s")
            (root / "temporal").mkdir()
            server, address = temporal.spawn_dev_server(root / "temporal")
            queue = f"bench-{uuid.uuid4().hex[:10]}"
            home = root / "home"
            settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
            settings.workbench_home.prepare()
            workbench = Workbench(settings)
            me = local_principal()
            ConnectionService(workbench, me).create(
                ConnectionCreate(name="odoo", settings=postgres_settings(url))
            )
            shutil.copytree(TEMPLATE, root / "src")
            PipelineRegistry(workbench, me).deploy(root / "src" / "month_end_close.yaml")
            (root / "src" / "floor.yaml").write_text(FLOOR)
            PipelineRegistry(workbench, me).deploy(root / "src" / "floor.yaml")
            worker = spawn_worker(home, address, queue)
            other_queue = f"bench-against-{uuid.uuid4().hex[:10]}"
            if against is not None:
                other = spawn_worker(home, address, other_queue, against)
            lake = Lake.of(workbench, me, None)

            first, run = run_close(workbench, address, queue, PERIOD)
            log(f"first close (full extract of {items:,} items): {first:.1f}s")
            tb = lake.read(
                "gold.trial_balance", where=f"company_id = 1 AND period = '{PERIOD}'"
            ).to_pylist()
            assert tb and sum(r["closing"] for r in tb) == 0, "trial balance does not sum to 0"
            raw_close(lake, PERIOD)  # warm-up
            raw_close_cold(lake, PERIOD, root / "raw-out")
            run_floor(workbench, address, queue)
            if other is not None:
                run_close(workbench, address, other_queue, PERIOD)  # its warm-up
            theirs: list[float] = []
            ours: list[float] = []
            raw: list[float] = []
            cold: list[float] = []
            floor: list[float] = []
            loads: list[float] = []
            steps: dict[str, list[float]] = {}
            their_steps: dict[str, list[float]] = {}
            for i in range(args.repeat):
                loads.append(os.getloadavg()[0])
                order = (
                    ("wb", "raw", "cold", "floor") if i % 2 == 0 else ("floor", "cold", "raw", "wb")
                )
                if other is not None:  # the other code's close next to this one's
                    at = order.index("wb")
                    order = (*order[:at], *(("wb", "other") if i % 2 == 0 else ("other", "wb")),
                             *order[at + 1:])  # fmt: skip
                for who in order:
                    if who == "other":
                        elapsed, run = run_close(workbench, address, other_queue, PERIOD)
                        theirs.append(elapsed)
                        record_steps(run, elapsed, their_steps)
                        continue
                    if who == "cold":
                        cold.append(raw_close_cold(lake, PERIOD, root / "raw-out"))
                        continue
                    if who == "floor":
                        floor.append(run_floor(workbench, address, queue))
                        continue
                    if who == "wb":
                        elapsed, run = run_close(workbench, address, queue, PERIOD)
                        ours.append(elapsed)
                        record_steps(run, elapsed, steps)
                    else:
                        raw.append(raw_close(lake, PERIOD))
                log(
                    f"repetition {i + 1} (load {loads[-1]:.1f}): workbench {ours[-1]:.2f}s, "
                    f"raw DuckDB {raw[-1]:.2f}s warm, {cold[-1]:.2f}s cold; "
                    f"one-step pipeline {floor[-1]:.2f}s"
                    + (f"; --against's close {theirs[-1]:.2f}s" if theirs else "")
                )
    finally:
        stop(other, 40)
        stop(worker, 40)
        if workbench is not None:
            workbench.close()
        stop(server, 15)
        shutil.rmtree(root, ignore_errors=True)
    ratio = statistics.median(ours) / statistics.median(raw)
    sql_steps = sum(
        statistics.median(times)
        for step, times in steps.items()
        if step not in ("extract", "silver", "report", GAPS)
    )
    print(f"\nclose of {items:,} journal items, company 1, {PERIOD} ({args.repeat} repetitions)")
    print(f"  first close, full extract included   {first:8.2f} s")
    print(f"  load average (1 min) over the repetitions: {min(loads):.1f}-{max(loads):.1f}")
    print(f"  workbench close, end to end (median, spread) {spread(ours)}")
    print(f"  raw DuckDB, same SQL, warm connection        {spread(raw)}")
    print(f"  raw DuckDB, same SQL, fresh process (cold)   {spread(cold)}")
    print(f"  a one-step pipeline (SELECT 1), end to end   {spread(floor)}")
    print(f"  close_overhead_ratio                 {ratio:8.2f}   (goal <= 2)")
    cold_ratio = statistics.median(ours) / statistics.median(cold)
    print(f"  against the cold raw figure          {cold_ratio:8.2f}")
    for step, times in steps.items():
        theirs_too = f"   --against: {spread(their_steps[step])}" if step in their_steps else ""
        label = step if step == GAPS else f"step {step}"
        print(f"    {label:29s} {spread(times)}{theirs_too}")
    if theirs:
        won = sum(1 for a, b in zip(ours, theirs, strict=True) if a < b)
        print(f"  --against {against}: close {spread(theirs)}, ratio "
              f"{statistics.median(theirs) / statistics.median(raw):.2f}; this code faster in "
              f"{won} of {len(ours)} repetitions")  # fmt: skip
        out.figures.update(close_against_s=round(statistics.median(theirs), 2), close_won=won)
        out.units.update(close_against_s="s", close_won="repetitions")
    sql_ratio = sql_steps / statistics.median(raw)
    print(f"  sql steps only (summed medians)      {sql_steps:8.2f} s, ratio {sql_ratio:.2f}")
    out.figures.update(
        close_overhead_ratio=round(ratio, 2),
        close_s=round(statistics.median(ours), 2),
        close_raw_duckdb_s=round(statistics.median(raw), 2),
        first_close_s=round(first, 2),
        close_sql_steps_ratio=round(sql_ratio, 2),
        close_journal_items=items,
        close_raw_cold_s=round(statistics.median(cold), 2),
        close_overhead_ratio_cold=round(cold_ratio, 2),
        pipeline_floor_s=round(statistics.median(floor), 2),
        close_load_avg_max=round(max(loads), 1),
    )
    out.units.update(
        close_overhead_ratio="ratio",
        close_s="s",
        close_raw_duckdb_s="s",
        first_close_s="s",
        close_sql_steps_ratio="ratio",
        close_journal_items="rows",
        close_raw_cold_s="s",
        close_overhead_ratio_cold="ratio",
        pipeline_floor_s="s",
        close_load_avg_max="load",
    )
    out.goals["close_overhead_ratio"] = "<= 2"
    return out


def measure_receipts(args: argparse.Namespace) -> Figures:
    """receipts: benchmarks/ocr.py — generated receipts through the OCR -> Odoo expenses
    flow vs raw RapidOCR on the same files (receipts_per_min, per-receipt latency)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ocr import measure  # benchmarks/ocr.py

    found = measure(count=args.receipts, passes=2)
    out = Figures()
    for key, value in found["figures"].items():
        name = key if "receipts" in key else f"receipts_{key}"
        out.figures[name] = value
        out.units[name] = found["units"][key]
        if key in found["goals"]:
            out.goals[name] = found["goals"][key]
    return out


FIGURES: dict[str, Callable[[argparse.Namespace], Figures]] = {
    "close": measure_close,
    "receipts": measure_receipts,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default=",".join(FIGURES), help="figures: " + ", ".join(FIGURES))
    parser.add_argument("--rows", type=int, default=1_000_000, help="journal items (close)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--receipts", type=int, default=24, help="documents (receipts)")
    parser.add_argument(
        "--against", default="", help="close: another checkout whose worker's closes alternate"
    )
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in FIGURES]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (known: {', '.join(FIGURES)})")
    total = Figures()
    for name in wanted:
        found = FIGURES[name](args)
        total.figures.update(found.figures)
        total.units.update(found.units)
        total.goals.update(found.goals)
    print(
        json.dumps(
            {
                "benchmark": "finance",
                "figures": total.figures,
                "units": total.units,
                "goals": total.goals,
            }
        )
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's Rust threads can abort the interpreter at shutdown
    # (temporalio/sdk-python#300): leave without teardown.
    os._exit(0)


if __name__ == "__main__":
    main()
