"""The rag step (issue 18, RAG preparation) against the raw tools in the same run.

Makes a seeded ``silver.notes`` table (id, title, a body of 300-1500 characters of
words with now and then an e-mail address, a phone number or an IBAN, and a pii-tagged
``email`` column) in a temporary workbench home, then measures, alternating the
contenders in each repetition after a warm-up:

- ``rag_ms``: the rag step's code as the worker runs it (the table read as of its
  version, the catalog's pii columns left out, redaction, chunking at 1000 characters
  with 100 of overlap, metadata with lineage, a merge by chunk id into a new gold table);
- ``raw_ms``: what a notebook does with the raw tools: DuckDB reads the same columns,
  Python cuts each text in fixed windows of the same size and overlap and hashes ids,
  and ``deltalake.write_deltalake`` writes the chunks (no pii, no redaction, no
  metadata, no diff): the floor;
- ``rerun_ms``: the step again over unchanged sources (nothing to write: no commit),
  and ``rerun_1pct_ms`` after 1% of the rows changed (only their chunks written).

Ratios are medians of the per-repetition ratios (both measured back to back), which
cancels most of the load others put on a shared machine; the load average is printed.

    python benchmarks/rag.py [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server_ext"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))

SEED = 18
SIZE, OVERLAP = 1000, 100
WORDS = (
    "invoice payment due partner account journal entry balance customer supplier refund "
    "expense receipt tax period closing approval ledger credit debit note reconcile bank"
).split()


def notes(rows: int, rng: np.random.Generator, first_id: int = 1) -> pa.Table:
    bodies = []
    for i in range(rows):
        words = list(rng.choice(WORDS, size=int(rng.integers(50, 250))))
        if i % 7 == 0:
            words.insert(3, f"write to user{i}@example.com")
        if i % 11 == 0:
            words.insert(8, "call +33 6 12 34 56 78")
        if i % 13 == 0:
            words.insert(5, "IBAN DE89 3704 0044 0532 0130 00")
        bodies.append(" ".join(words) + ".")
    ids = list(range(first_id, first_id + rows))
    return pa.table(
        {
            "id": ids,
            "title": [f"Note {i}" for i in ids],
            "email": [f"owner{i}@example.com" for i in ids],
            "body": bodies,
        }
    )


def _home(root: Path) -> Any:
    from workbench_server.core import Workbench
    from workbench_server.db.models import Pipeline, Run
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    settings = WorkbenchSettings.from_env(root / "home")
    settings.workbench_home.prepare()
    workbench = Workbench(settings)
    with workbench.sessions.begin() as session:
        pipeline = Pipeline(name="benchmark", owner=local_principal().name, current_version=1)
        session.add(pipeline)
        session.flush()
        session.add(
            Run(id="bench", pipeline_id=pipeline.id, version=1, status="running",
                trigger="manual", parameters={}, logical_date="2026-12-07",
                workflow_id="bench", requested_by=local_principal().name)
        )  # fmt: skip
    return workbench


def _rag(workbench: Any, target: str) -> float:
    from workbench_pipelines.ingest.context import Progress, StepContext
    from workbench_pipelines.ingest.rag import run_rag
    from workbench_server.principal import local_principal

    ctx = StepContext(
        workbench=workbench,
        principal=local_principal(),
        pipeline="benchmark",
        run_id="bench",
        step_id="rag",
        attempt=1,
        config={
            "target": target,
            "sources": [{"table": "silver.notes", "columns": ["title", "email", "body"]}],
            "chunk_size": SIZE,
            "chunk_overlap": OVERLAP,
        },
        parameters={},
        progress=Progress(),
        kind="rag",
    )
    started = time.perf_counter()
    run_rag(ctx)
    return (time.perf_counter() - started) * 1000


def _raw(lake: Any, target: Path) -> float:
    from deltalake import write_deltalake

    started = time.perf_counter()
    db = duckdb.connect()
    lake.connect(db)
    rows = db.execute(f"SELECT id, title, body FROM {lake.scan_sql('silver.notes')}").fetchall()
    db.close()
    ids, keys, indexes, texts = [], [], [], []
    for key, title, body in rows:
        text = f"title: {title}\nbody: {body}"
        start, n = 0, 0
        while True:
            piece = text[start : start + SIZE]
            ids.append(hashlib.sha256(f"silver.notes\x1fid={key}\x1f{n}".encode()).hexdigest())
            keys.append(f"id={key}")
            indexes.append(n)
            texts.append(piece)
            if start + SIZE >= len(text):
                break
            start += SIZE - OVERLAP
            n += 1
    table = pa.table({"chunk_id": ids, "source_key": keys, "chunk_index": indexes, "text": texts})
    write_deltalake(str(target), table, mode="overwrite")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from workbench_server.lake import Lake

    rng = np.random.default_rng(SEED)
    root = Path(tempfile.mkdtemp(prefix="wb-bench-rag-"))
    times: dict[str, list[float]] = {"rag": [], "raw": [], "rerun": [], "rerun_1pct": []}
    try:
        workbench = _home(root)
        lake = Lake.default(workbench.settings)
        lake.write("silver.notes", notes(args.rows, rng), mode="overwrite")
        _rag(workbench, "gold.warmup")  # catalog scan, imports
        _raw(lake, root / "raw-warmup")
        chunks = lake.read("gold.warmup", columns=["chunk_id"]).num_rows
        for number in range(args.repeat):
            target = f"gold.notes_{number}"
            order = [("rag", lambda target=target: _rag(workbench, target)),
                     ("raw", lambda: _raw(lake, root / f"raw-{uuid.uuid4().hex}"))]  # fmt: skip
            for name, run in order if number % 2 == 0 else reversed(order):
                times[name].append(run())
            times["rerun"].append(_rag(workbench, target))
            lake.update("silver.notes", {"body": "body || ' (revised)'"}, f"id % 100 = {number}")
            times["rerun_1pct"].append(_rag(workbench, target))
        workbench.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(a / b for a, b in zip(times["rag"], times["raw"], strict=True))
    load = os.getloadavg()
    print(f"silver.notes: {args.rows:,} rows -> {chunks:,} chunks of <= {SIZE} characters")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores)")
    print(f"{'measure':28} {'median':>10} {'min':>10} {'max':>10}  runs")
    for name, values in times.items():
        print(
            f"{name + '_ms':28} {med[name]:10.0f} {min(values):10.0f} {max(values):10.0f}"
            f"  {len(values)}"
        )
    print(f"{'rag_vs_raw_ratio':28} {ratio:10.2f}")
    figures = {
        "rag_ms": med["rag"],
        "raw_ms": med["raw"],
        "rag_vs_raw_ratio": ratio,
        "rerun_ms": med["rerun"],
        "rerun_1pct_ms": med["rerun_1pct"],
        "rag_rows_per_s": args.rows / (med["rag"] / 1000),
        "load_average_1m": load[0],
    }
    units = {
        k: "ratio" if k.endswith("_ratio") else "rows/s" if k.endswith("_per_s") else
        "load" if k.startswith("load") else "ms"
        for k in figures
    }  # fmt: skip
    print(json.dumps({"benchmark": "rag", "figures": {k: round(v, 3) for k, v in figures.items()},
                      "units": units, "goals": {}}))  # fmt: skip


if __name__ == "__main__":
    main()
