"""The catalog next to the raw tool: scan vs a bare pg_catalog query, search, preview.

Starts a throwaway PostgreSQL cluster (the tests' helper, ``tests/support/postgres.py``)
and a workbench core on a fresh home (SQLite metadata DB), then measures:

- ``scan_s``: ``CatalogService.scan`` of a generated database of 1,000 tables and 15,000
  columns (primary and foreign keys, comments), a first scan and then unchanged re-scans,
  alternating with the raw contender: one bare pg_catalog query listing every column
  (relation, name, type) through psycopg, fetched. ``scan_ratio`` is the median of the
  per-repetition ratios of the re-scan to the bare query; the first scan (which writes
  the whole catalog) is reported as ``first_scan_s``, and a re-scan after a column was
  added to 1% of the tables as ``changed_scan_s``.
- ``search_p50_ms`` / ``search_p95_ms``: ``CatalogService.search`` over a catalog of
  100,000 columns (the scanned database plus 5,700 synthetic tables of 15 columns merged
  through the catalog's own store), for a fixed, seeded mix of queries: exact names,
  words of labels, prefixes and misspellings. The index build after a change is reported
  separately (``index_build_ms``).
- ``preview_ms``: ``CatalogService.preview`` (100 rows) of a 10,000,000-row table, next to
  a bare ``SELECT * FROM t LIMIT 100`` through psycopg (``preview_ratio``).

    python benchmarks/catalog.py [--repeat 7] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' PostgreSQL helper

TABLES = 1_000
COLUMNS = 15
CATALOG_COLUMNS = 100_000
PREVIEW_ROWS = 10_000_000
SEED = 20_261_125
WORDS = (
    "invoice payment ledger account journal partner customer vendor order sale purchase "
    "stock product move line tax currency budget expense employee contract asset bank "
    "statement reconcile analytic project timesheet"
).split()

BARE_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table_name(rng: random.Random, i: int) -> str:
    return f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i:04d}"


def generate_database(url: str) -> list[str]:
    """1,000 tables x 15 columns, a primary key each, a foreign key to the previous one."""
    import psycopg

    rng = random.Random(SEED)
    names = [table_name(rng, i) for i in range(TABLES)]
    with psycopg.connect(url, autocommit=True) as db:
        statements = []
        for i, name in enumerate(names):
            cols = ["id serial PRIMARY KEY"]
            if i:
                cols.append(f"parent_id integer REFERENCES {names[i - 1]} (id)")
            while len(cols) < COLUMNS:
                word = rng.choice(WORDS)
                kind = rng.choice(("text", "numeric(16,2)", "date", "integer", "boolean"))
                cols.append(f"{word}_{len(cols)} {kind}")
            statements.append(f"CREATE TABLE {name} ({', '.join(cols)})")
            statements.append(f"COMMENT ON TABLE {name} IS '{rng.choice(WORDS)} records'")
        db.execute(";".join(statements))
        db.execute("ANALYZE")
    return names


def make_big_table(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "CREATE TABLE big_events AS SELECT g AS id, g % 1000 AS account, "
            "(g % 9973) * 1.5 AS amount, now() - (g || ' seconds')::interval AS at "
            f"FROM generate_series(1, {PREVIEW_ROWS}) AS g"
        )
        db.execute("ANALYZE big_events")


def synthetic_tables(count: int, rng: random.Random):
    from workbench_server.catalog.discovered import FoundColumn, FoundTable

    for i in range(count):
        name = table_name(rng, i)
        yield FoundTable(
            schema=f"s{i % 40}",
            name=name,
            kind="table",
            comment=f"{rng.choice(WORDS)} {rng.choice(WORDS)} of the {rng.choice(WORDS)} team",
            columns=[
                FoundColumn(
                    name=f"{rng.choice(WORDS)}_{j}",
                    position=j,
                    data_type=rng.choice(("text", "integer", "date")),
                )
                for j in range(COLUMNS)
            ],
        )


def misspell(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def queries(names: list[str], count: int) -> list[str]:
    rng = random.Random(SEED + 1)
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out.append(rng.choice(names))
        elif kind == 1:
            out.append(f"{rng.choice(WORDS)} {rng.choice(WORDS)}")
        elif kind == 2:
            out.append(rng.choice(names)[: rng.randint(3, 8)])
        else:
            out.append(misspell(rng.choice(WORDS), rng))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    import psycopg

    from tests.support.postgres import postgres_settings, running_cluster
    from workbench_server.catalog import CatalogService
    from workbench_server.catalog.discovered import Discovery
    from workbench_server.catalog.store import merge
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.core import Workbench
    from workbench_server.db.models import CatalogScan
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    work = Path(tempfile.mkdtemp(prefix="wb-bench-catalog-"))
    work.chmod(0o755)
    with running_cluster(work / "pg") as cluster, cluster.fresh_database() as url:
        log("generating 1,000 tables ...")
        names = generate_database(url)
        log(f"generating a {PREVIEW_ROWS:,}-row table ...")
        make_big_table(url)
        settings = WorkbenchSettings.from_env(work / "home")
        settings.workbench_home.prepare()
        workbench = Workbench(settings)
        principal = local_principal()
        ConnectionService(workbench, principal).create(
            ConnectionCreate(name="bench", settings=postgres_settings(url))
        )
        catalog = CatalogService(workbench, principal)

        def bare() -> float:
            started = time.perf_counter()
            with psycopg.connect(url) as db:
                rows = db.execute(BARE_COLUMNS).fetchall()
            assert len(rows) >= TABLES * COLUMNS
            return time.perf_counter() - started

        def scan() -> float:
            started = time.perf_counter()
            result = catalog.scan("bench")
            assert result.stats["columns"] >= TABLES * COLUMNS
            return time.perf_counter() - started

        log("scans ...")
        bare()
        first_scan = scan()
        scans, bares = [], []
        for rep in range(args.repeat):
            pair = (scan, bare) if rep % 2 == 0 else (bare, scan)
            results = {f.__name__: f() for f in pair}
            scans.append(results["scan"])
            bares.append(results["bare"])
        ratios = [s / b for s, b in zip(scans, bares, strict=True)]
        # The usual case between two scheduled scans: a few tables changed (here 1%, a
        # column added to each); those are rebuilt and compared, the rest recognised.
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                ";".join(
                    f"ALTER TABLE {n} ADD COLUMN extra_{i} text"
                    for i, n in enumerate(names[:: TABLES // 10])
                )
            )
        started = time.perf_counter()
        changed = catalog.scan("bench")
        changed_scan = time.perf_counter() - started
        assert changed.stats["changes"] == {"column_added": 10}, changed.stats

        log("filling the catalog to 100,000 columns ...")
        missing = (CATALOG_COLUMNS - TABLES * COLUMNS) // COLUMNS + 1
        # The synthetic tables form the catalog of a second source, merged by the store.
        ConnectionService(workbench, principal).create(
            ConnectionCreate(name="synthetic", settings=postgres_settings(url))
        )
        synthetic_id = catalog._connection("synthetic").id
        found = Discovery(tables=list(synthetic_tables(missing, random.Random(SEED + 2))))
        with workbench.sessions.begin() as session:
            scan_row = CatalogScan(
                connection_id=synthetic_id, status="succeeded", requested_by="bench", stats={}
            )
            session.add(scan_row)
            session.flush()
            merge(session, synthetic_id, scan_row.id, found, first_scan=True)
        started = time.perf_counter()
        catalog.search("warm up")
        index_build_ms = (time.perf_counter() - started) * 1000
        latencies = []
        mix = queries(names, args.queries)
        hits = 0
        for query in mix:
            started = time.perf_counter()
            page = catalog.search(query)
            latencies.append((time.perf_counter() - started) * 1000)
            hits += page.total > 0
        if hits < len(mix) * 0.9:
            raise RuntimeError(f"only {hits} of {len(mix)} queries found anything")

        log("previews ...")
        catalog.scan("bench")
        big = catalog.find("bench", "public", "big_events").id

        def preview() -> float:
            started = time.perf_counter()
            shown = catalog.preview(big, limit=100)
            assert len(shown.rows) == 100
            return time.perf_counter() - started

        def bare_preview() -> float:
            started = time.perf_counter()
            with psycopg.connect(url) as db:
                rows = db.execute("SELECT * FROM big_events LIMIT 100").fetchall()
            assert len(rows) == 100
            return time.perf_counter() - started

        preview(), bare_preview()
        previews, bare_previews = [], []
        for rep in range(args.repeat):
            pair = (preview, bare_preview) if rep % 2 == 0 else (bare_preview, preview)
            results = {f.__name__: f() for f in pair}
            previews.append(results["preview"])
            bare_previews.append(results["bare_preview"])
        workbench.close()

    figures = {
        "scan_s": statistics.median(scans),
        "scan_ratio": statistics.median(ratios),
        "first_scan_s": first_scan,
        "changed_scan_s": changed_scan,
        "bare_query_s": statistics.median(bares),
        "search_p50_ms": percentile(latencies, 0.5),
        "search_p95_ms": percentile(latencies, 0.95),
        "index_build_ms": index_build_ms,
        "preview_ms": statistics.median(previews) * 1000,
        "bare_preview_ms": statistics.median(bare_previews) * 1000,
        "preview_ratio": statistics.median(
            p / b for p, b in zip(previews, bare_previews, strict=True)
        ),
    }
    print(
        f"database: {TABLES:,} tables, {TABLES * COLUMNS:,} columns; "
        f"catalog ~{CATALOG_COLUMNS:,} columns"
    )
    for key, value in figures.items():
        print(f"{key:24} {value:10.3f}")
    units = {
        k: "ratio" if k.endswith("ratio") else "ms" if k.endswith("_ms") else "s" for k in figures
    }
    print(
        json.dumps(
            {
                "benchmark": "catalog",
                "figures": {k: round(v, 3) for k, v in figures.items()},
                "units": units,
                "goals": {
                    "scan_s": "<= 3",
                    "scan_ratio": "<= 3",
                    "search_p95_ms": "<= 20",
                    "preview_ms": "<= 200",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
