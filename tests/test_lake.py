"""The lake library on a local folder: writes (append, overwrite of a slice, merge with
deletes, SCD2) with money exact to the cent, versions with their writers, reads as of a
version or a time, diffs by key, failed writes, and two processes appending at once."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from workbench_server.errors import ConflictError, InvalidInputError, NotFoundError
from workbench_server.lake import DeleteMarker, Lake, WriterInfo

MONEY = pa.decimal128(18, 2)
RUN = WriterInfo(pipeline="month_close", run_id="run-7", step="load", attempt=2, user="ana")


def moves(ids: list[int], companies: list[int], amounts: list[str], **extra) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "company_id": pa.array(companies, pa.int64()),
            "amount": pa.array([Decimal(a) for a in amounts], MONEY),
            **extra,
        }
    )


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.at(str(tmp_path / "lake"))


def test_writes_keep_money_exact_through_append_merge_and_replace_where(lake: Lake) -> None:
    # A balanced journal: debits and credits to the cent, summing to exactly 0.
    first = lake.write(
        "silver.moves",
        moves([1, 2, 3, 4], [1, 1, 2, 2], ["431623.85", "-431623.85", "0.10", "-0.10"]),
        partition_by=["company_id"],
        writer=RUN,
    )
    assert (first.version, first.operation, first.rows_added) == (1, "WRITE", 4)
    table = lake.read("silver.moves")
    assert table.schema.field("amount").type == MONEY
    assert sum(table["amount"].to_pylist()) == Decimal("0.00")

    # Merge from bronze-like rows: an update, an insert and a delete (_op = 'd').
    merged = lake.write(
        "silver.moves",
        moves([2, 5, 3], [1, 2, 2], ["-431623.75", "-0.10", "0.10"], _op=["u", "u", "d"]),
        mode="merge",
        keys=["id"],
        delete_marker=DeleteMarker(column="_op", value="d"),
        writer=RUN,
    )
    assert (merged.version, merged.rows_added, merged.rows_updated, merged.rows_removed) == (
        2,
        1,
        1,
        1,
    )
    rows = {r["id"]: r["amount"] for r in lake.read("silver.moves").to_pylist()}
    assert rows == {
        1: Decimal("431623.85"),
        2: Decimal("-431623.75"),
        4: Decimal("-0.10"),
        5: Decimal("-0.10"),
    }
    assert "_op" not in lake.read("silver.moves").column_names  # a marker, not data

    # Company 2 is re-extracted: its slice is replaced, company 1 keeps its rows.
    replaced = lake.write(
        "silver.moves",
        moves([6, 7], [2, 2], ["-0.10", "-0.10"]),
        mode="overwrite",
        replace_where="company_id = 2",
    )
    assert (replaced.rows_added, replaced.rows_removed) == (2, 2)
    db = lake.connect()
    total, kind = db.execute(
        f"SELECT sum(amount), typeof(sum(amount)) FROM {lake.scan_sql('silver.moves')}"
    ).fetchone()
    assert (total, kind) == (Decimal("-0.10"), "DECIMAL(38,2)")
    by_company = dict(
        db.execute(
            f"SELECT company_id, count(*) FROM {lake.scan_sql('silver.moves')} GROUP BY ALL"
        ).fetchall()
    )
    assert by_company == {1: 2, 2: 2}


def test_versions_show_writers_and_old_versions_read_back(lake: Lake) -> None:
    lake.write("silver.partners", pa.table({"id": [1, 2], "name": ["A", "B"]}), writer=RUN)
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    notebook = WriterInfo(notebook="analysis/close.ipynb", user="bo")
    lake.write(
        "silver.partners",
        pa.table({"id": [2, 3], "name": ["B2", "C"]}),
        mode="merge",
        keys=["id"],
        writer=notebook,
    )
    lake.write("silver.partners", pa.table({"id": [4], "name": ["D"]}), writer=notebook)

    versions = lake.versions("silver.partners")
    assert [(v.version, v.operation, v.mode) for v in versions] == [
        (3, "WRITE", "append"),
        (2, "WRITE", "merge"),  # computed by DuckDB, committed as an overwrite
        (1, "WRITE", "append"),
        (0, "CREATE TABLE", "create"),
    ]
    assert versions[1].writer == notebook
    assert versions[1].writer_text == "notebook analysis/close.ipynb by bo"
    assert (versions[1].rows_added, versions[1].rows_updated, versions[1].keys) == (1, 1, ["id"])
    assert versions[2].writer.run_id == "run-7" and versions[2].writer.attempt == 2
    assert versions[2].rows_added == 2
    assert versions[0].timestamp > versions[2].timestamp
    assert [v.version for v in lake.versions("silver.partners", limit=2, before=3)] == [2, 1]
    assert [v.version for v in lake.written_by("silver.partners", "run-7")] == [1, 0]
    assert lake.written_by("silver.partners", "run-7", step="other") == []

    # Version 1 read back, by number, by time, and in DuckDB's own SQL.
    assert sorted(lake.read("silver.partners", version=1)["name"].to_pylist()) == ["A", "B"]
    assert lake.version_at("silver.partners", between) == 1
    assert lake.read("silver.partners", as_of=between).num_rows == 2
    db = lake.connect()
    old = db.execute(f"SELECT count(*) FROM {lake.scan_sql('silver.partners', 1)}").fetchone()
    assert old == (2,)
    assert lake.read("silver.partners").num_rows == 4

    # What changed from 1 to 3, by the keys the merge recorded.
    diff = lake.diff("silver.partners", 1, 3)
    assert (diff.keys, diff.added, diff.removed, diff.changed) == (["id"], 2, 0, 1)
    assert [r["id"] for r in diff.added_rows] == [3, 4]
    assert diff.changed_rows[0].model_dump() == {
        "key": {"id": 2},
        "before": {"name": "B"},
        "after": {"name": "B2"},
    }
    back = lake.diff("silver.partners", 3, 1, keys=["id"])
    assert (back.added, back.removed, back.changed) == (0, 2, 1)

    with pytest.raises(NotFoundError, match="versions 0 to 3, not 9"):
        lake.read("silver.partners", version=9)
    with pytest.raises(NotFoundError, match="did not exist yet"):
        lake.version_at("silver.partners", between - timedelta(days=1))


def test_scd2_dimension_from_snapshots(lake: Lake) -> None:
    jan, feb, mar = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    snapshot = pa.table({"partner_id": [1, 2, 3], "city": ["Lyon", "Gent", "Oslo"]})
    first = lake.scd2("gold.dim_partner", snapshot, keys=["partner_id"], as_of=jan)
    assert first.rows_added == 3
    # 2 moved, 3 is gone from the source, 4 is new.
    changed = pa.table({"partner_id": [1, 2, 4], "city": ["Lyon", "Gand", "Riga"]})
    second = lake.scd2("gold.dim_partner", changed, keys=["partner_id"], as_of=feb)
    assert (second.rows_added, second.rows_updated) == (2, 2)
    same = lake.scd2("gold.dim_partner", changed, keys=["partner_id"], as_of=mar)
    assert (same.operation, same.version) == ("NONE", second.version)

    rows = sorted(
        (r["partner_id"], r["city"], r["valid_from"].month, r["valid_to"], r["is_current"])
        for r in lake.read("gold.dim_partner").to_pylist()
    )
    assert [(p, c, f, t.month if t else None, cur) for p, c, f, t, cur in rows] == [
        (1, "Lyon", 1, None, True),
        (2, "Gand", 2, None, True),
        (2, "Gent", 1, 2, False),
        (3, "Oslo", 1, 2, False),
        (4, "Riga", 2, None, True),
    ]
    diff = lake.diff("gold.dim_partner", first.version, second.version)
    assert diff.keys == ["partner_id", "valid_from"]
    assert (diff.added, diff.removed, diff.changed) == (2, 0, 2)
    with pytest.raises(InvalidInputError, match="more than one row"):
        lake.scd2(
            "gold.dim_partner",
            pa.table({"partner_id": [1, 1], "city": ["a", "b"]}),
            keys=["partner_id"],
        )


def test_a_write_that_fails_mid_stream_leaves_no_version(lake: Lake) -> None:
    lake.write("bronze.lines", moves([1], [1], ["1.00"]))
    schema = moves([1], [1], ["1.00"]).schema

    def batches():
        yield moves([2, 3], [1, 1], ["2.00", "3.00"]).to_batches()[0]
        raise RuntimeError("the source database went away")

    with pytest.raises(RuntimeError, match="went away"):
        lake.write("bronze.lines", pa.RecordBatchReader.from_batches(schema, batches()))
    assert lake.version("bronze.lines") == 1
    assert lake.read("bronze.lines")["id"].to_pylist() == [1]
    # A streamed merge that fails while being spooled commits nothing either.
    with pytest.raises(RuntimeError, match="went away"):
        lake.write(
            "bronze.lines",
            pa.RecordBatchReader.from_batches(schema, batches()),
            mode="merge",
            keys=["id"],
        )
    assert lake.version("bronze.lines") == 1
    # The same stream, whole this time, merges (spooled, then merged by DuckDB).
    whole = moves([1, 2], [1, 1], ["5.00", "2.00"])
    merged = lake.write(
        "bronze.lines",
        pa.RecordBatchReader.from_batches(schema, whole.to_batches()),
        mode="merge",
        keys=["id"],
    )
    assert (merged.version, merged.rows_added, merged.rows_updated) == (2, 1, 1)
    assert sorted(lake.read("bronze.lines")["amount"].to_pylist()) == [
        Decimal("2.00"),
        Decimal("5.00"),
    ]


def test_a_first_write_that_fails_leaves_no_table(lake: Lake, tmp_path: Path) -> None:
    """A table is made by its first write: when that write fails (a query that stops
    half-way, a merge with a key twice), no empty table is left behind for readers and
    the catalog to see, and the same first write, corrected, makes it as usual (a
    notebook's CREATE TABLE once said it "already exists" after its query failed)."""
    schema = moves([1], [1], ["1.00"]).schema

    def batches():
        yield moves([2, 3], [1, 1], ["2.00", "3.00"]).to_batches()[0]
        raise RuntimeError("the source database went away")

    with pytest.raises(RuntimeError, match="went away"):
        lake.write("bronze.fresh", pa.RecordBatchReader.from_batches(schema, batches()))
    # A DuckDB query whose cast fails past its first batches, as a notebook's CREATE
    # TABLE ... AS hands it over.
    db = duckdb.connect()
    failing = db.sql(
        "SELECT CAST(CASE WHEN i = 200000 THEN 'x' ELSE i::VARCHAR END AS INTEGER) AS id "
        "FROM range(300000) t(i)"
    )
    with pytest.raises(Exception, match="Could not convert"):
        lake.write("silver.fresh_cast", failing)
    with pytest.raises(InvalidInputError, match="more than one row"):
        lake.write(
            "gold.fresh_merge", moves([1, 1], [1, 1], ["1.00", "2.00"]), mode="merge", keys=["id"]
        )
    for name in ("bronze.fresh", "silver.fresh_cast", "gold.fresh_merge"):
        assert not lake.exists(name), name
        layer, table = name.split(".")
        assert not (tmp_path / "lake" / layer / table).exists(), name
    assert [t.table for t in lake.tables()] == []  # nor does the lake list them

    made = lake.write("bronze.fresh", moves([1], [1], ["1.00"]))
    assert made.version == 1
    assert [v.operation for v in lake.versions("bronze.fresh")] == ["WRITE", "CREATE TABLE"]
    # A table that exists keeps its versions when a later write fails.
    with pytest.raises(RuntimeError, match="went away"):
        lake.write("bronze.fresh", pa.RecordBatchReader.from_batches(schema, batches()))
    assert lake.version("bronze.fresh") == 1
    assert lake.read("bronze.fresh")["id"].to_pylist() == [1]


def test_bad_names_and_arguments_say_what_to_do(lake: Lake) -> None:
    data = pa.table({"id": [1]})
    with pytest.raises(InvalidInputError, match=r"layer\.name"):
        lake.write("platinum.x", data)
    with pytest.raises(InvalidInputError, match=r"layer\.name"):
        lake.write("silver.../x", data)
    with pytest.raises(InvalidInputError, match="needs keys"):
        lake.write("silver.x", data, mode="merge")
    with pytest.raises(InvalidInputError, match="no column 'nope'"):
        lake.write("silver.x", data, mode="merge", keys=["nope"])
    with pytest.raises(NotFoundError, match=r"no lake table silver\.x"):
        lake.versions("silver.x")
    lake.write("silver.x", data)
    with pytest.raises(InvalidInputError, match=r"does not fit|Schema"):
        lake.write("silver.x", pa.table({"id": ["text"]}))
    assert lake.version("silver.x") == 1


def _append_many(root: str, worker: int, count: int) -> None:
    lake = Lake.at(root)
    for i in range(count):
        lake.write(
            "bronze.events",
            pa.table({"worker": [worker], "seq": [i]}),
            writer=WriterInfo(pipeline="load", run_id=f"w{worker}", step="append", attempt=i),
        )


def _merge_many(root: str, worker: int, count: int) -> None:
    lake = Lake.at(root)
    for i in range(count):
        lake.write(
            "silver.counters",
            pa.table({"key": [f"{worker}-{i}"], "value": [i]}),
            mode="merge",
            keys=["key"],
        )


@pytest.mark.timeout(180)
def test_two_processes_appending_50_commits_each_lose_none(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    # Spawned, not forked: delta-rs's runtime does not survive a fork.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(root, w, 50)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(150)
    assert [proc.exitcode for proc in procs] == [0, 0]
    lake = Lake.at(root)
    rows = lake.read("bronze.events")
    assert rows.num_rows == 100
    assert sorted(zip(rows["worker"].to_pylist(), rows["seq"].to_pylist(), strict=True)) == [
        (w, i) for w in (1, 2) for i in range(50)
    ]
    versions = lake.versions("bronze.events", limit=1000)
    writes = [v for v in versions if v.operation == "WRITE"]
    assert len(writes) == 100 and lake.version("bronze.events") == 100  # + CREATE TABLE
    assert {v.writer.run_id for v in writes} == {"w1", "w2"}


def _create_many(root: str, worker: int, count: int, barrier: Any) -> None:
    lake = Lake.at(root)
    for i in range(count):
        barrier.wait(60)  # both writers make table i at the same moment
        lake.write(f"bronze.t{i}", pa.table({"worker": [worker]}))


@pytest.mark.timeout(180)
def test_two_writers_making_a_table_at_once_make_it_once(tmp_path: Path) -> None:
    """The first write of a table creates it: when two make it at once, one creates it
    and the other finds it, and the table's history has one CREATE TABLE (a retried
    create once came back as a second one in a third of such races)."""
    root, rounds = str(tmp_path / "lake"), 12
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_create_many, args=(root, w, rounds, barrier)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(150)
    assert [proc.exitcode for proc in procs] == [0, 0]
    lake = Lake.at(root)
    for i in range(rounds):
        operations = [v.operation for v in lake.versions(f"bronze.t{i}", limit=10)]
        assert sorted(operations) == ["CREATE TABLE", "WRITE", "WRITE"], (i, operations)
        assert sorted(lake.read(f"bronze.t{i}")["worker"].to_pylist()) == [1, 2]


def _update_many(root: str, keys: list[int]) -> None:
    lake = Lake.at(root)
    for key in keys:
        lake.write(
            "silver.balances",
            pa.table({"key": [key], "value": [key * 10]}),
            mode="merge",
            keys=["key"],
        )


@pytest.mark.timeout(180)
def test_concurrent_updates_of_one_file_lose_none(tmp_path: Path) -> None:
    """Each merge rewrites the table's one file: a commit that removes a file another
    commit already replaced conflicts, and is computed again from the new version."""
    root = str(tmp_path / "lake")
    Lake.at(root).write("silver.balances", pa.table({"key": list(range(100)), "value": [0] * 100}))
    ctx = multiprocessing.get_context("spawn")
    ranges = [list(range(0, 15)), list(range(50, 65))]
    procs = [ctx.Process(target=_update_many, args=(root, keys)) for keys in ranges]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(150)
    assert [proc.exitcode for proc in procs] == [0, 0]
    rows = Lake.at(root).read("silver.balances").to_pylist()
    assert len(rows) == 100
    updated = {r["key"]: r["value"] for r in rows if r["value"]}
    assert updated == {k: k * 10 for k in [*ranges[0], *ranges[1]] if k}


@pytest.mark.timeout(180)
def test_concurrent_merges_are_retried_until_each_lands(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    Lake.at(root).write("silver.counters", pa.table({"key": ["seed"], "value": [0]}))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_merge_many, args=(root, w, 10)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(150)
    assert [proc.exitcode for proc in procs] == [0, 0]
    keys = Lake.at(root).read("silver.counters")["key"].to_pylist()
    assert len(keys) == 21 and len(set(keys)) == 21


def test_a_stream_merge_that_keeps_conflicting_says_so(lake: Lake, monkeypatch) -> None:
    from deltalake.exceptions import CommitFailedError

    from workbench_server.lake import writes

    lake.write("silver.t", pa.table({"id": [1]}))
    calls = []

    def always_conflicts(*args, **kwargs):
        calls.append(1)
        raise CommitFailedError("a concurrent transaction deleted the same data")

    monkeypatch.setattr(writes, "_merge", always_conflicts)
    monkeypatch.setattr(writes.time, "sleep", lambda s: None)
    with pytest.raises(ConflictError, match="5 time"):
        lake.write("silver.t", pa.table({"id": [2]}), mode="merge", keys=["id"])
    assert len(calls) == 5


def test_duckdb_relations_and_pandas_are_written_too(lake: Lake) -> None:
    relation = duckdb.sql("SELECT range AS id, range * 2 AS doubled FROM range(100000)")
    result = lake.write("silver.numbers", relation)
    assert result.rows_added == 100000
    frame = lake.read("silver.numbers", where="id < 3").to_pandas()
    lake.write("silver.numbers_copy", frame)
    assert lake.read("silver.numbers_copy").num_rows == 3


def test_optimize_and_vacuum_keep_each_layers_retention(lake: Lake) -> None:
    from workbench_server.lake import writes

    for i in range(5):
        lake.write("silver.small", pa.table({"id": [i]}))
    lake.write("bronze.raw", pa.table({"id": [1]}))
    results = {(r.table, r.operation): r for r in lake.maintain()}
    compacted = results[("silver.small", "optimize")]
    assert (compacted.files_removed, compacted.files_added, compacted.error) == (5, 1, None)
    assert lake.versions("silver.small")[0].operation == "OPTIMIZE"
    assert sorted(lake.read("silver.small")["id"].to_pylist()) == [0, 1, 2, 3, 4]
    # Files replaced a moment ago are within every layer's retention: nothing deleted.
    assert results[("silver.small", "vacuum")].files_removed == 0
    assert results[("silver.small", "vacuum")].retention_days == 30
    assert results[("bronze.raw", "vacuum")].retention_days == 365
    assert lake.read("silver.small", version=3).num_rows == 3
    # Past the retention (here: none at all) an old version's files are gone, and
    # reading it says so.
    writes.vacuum_files(
        lake.location, "silver.small", retention_hours=0, writer=WriterInfo(tool="test")
    )
    with pytest.raises(NotFoundError, match="can no longer be read"):
        lake.read("silver.small", version=3)
    assert lake.read("silver.small").num_rows == 5


def test_parquet_datasets_are_read_only_until_migrated_in_place(lake: Lake) -> None:
    import pyarrow.parquet as pq

    root = Path(lake.location.root)
    events = root / "bronze" / "events"
    for year, ids in ((2025, [1, 2]), (2026, [3])):
        (events / f"year={year}").mkdir(parents=True)
        pq.write_table(pa.table({"id": ids}), events / f"year={year}" / "part-0.parquet")
    (root / "silver").mkdir()
    pq.write_table(
        pa.table({"number": ["INV/1"], "amount": pa.array([Decimal("12.34")], MONEY)}),
        root / "silver" / "invoices.parquet",
    )
    broken = root / "gold" / "mixed"
    (broken / "year=2026").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), broken / "year=2026" / "a.parquet")
    pq.write_table(pa.table({"x": [2]}), broken / "b.parquet")
    files_before = sorted(p.name for p in events.rglob("*.parquet"))

    assert {t.table: t.format for t in lake.tables()} == {
        "bronze.events": "parquet",
        "gold.mixed": "parquet",
        "silver.invoices": "parquet",
    }
    assert sorted(lake.read("bronze.events")["id"].to_pylist()) == [1, 2, 3]
    with pytest.raises(ConflictError, match="workbench lake migrate"):
        lake.write("bronze.events", pa.table({"id": [4]}))
    with pytest.raises(NotFoundError, match="migrate"):
        lake.versions("bronze.events")

    results = {r.table: r for r in lake.migrate()}
    assert results["bronze.events"].status == "converted"
    assert results["bronze.events"].message == "version 0 partitioned by year"
    assert results["silver.invoices"].status == "converted"
    assert results["gold.mixed"].status == "failed"
    assert "partitioned in different ways" in results["gold.mixed"].message

    # The same files, now version 0 of a Delta table; the single file moved into a folder.
    assert sorted(p.name for p in events.rglob("*.parquet")) == files_before
    rows = lake.read("bronze.events").sort_by("id")
    assert rows.to_pylist() == [
        {"id": 1, "year": 2025},
        {"id": 2, "year": 2025},
        {"id": 3, "year": 2026},
    ]
    first = lake.versions("bronze.events")[0]
    assert (first.version, first.operation, first.rows_added) == (0, "CONVERT", 3)
    assert not (root / "silver" / "invoices.parquet").exists()
    assert lake.read("silver.invoices")["amount"].to_pylist() == [Decimal("12.34")]
    lake.write("bronze.events", pa.table({"id": [4], "year": [2026]}))
    assert lake.read("bronze.events").num_rows == 4
    again = {r.table: r.status for r in lake.migrate()}
    assert again["bronze.events"] == again["silver.invoices"] == "already_delta"


def test_both_ways_of_merging_give_the_same_table(tmp_path: Path) -> None:
    """A table without partitions is merged copy-on-write by DuckDB, rewriting only the
    files holding a changed key; a partitioned one by delta-rs's merge."""
    results = {}
    for name, partitions in (("duckdb", None), ("delta_rs", ["company_id"])):
        lake = Lake.at(str(tmp_path / name))
        for start in range(0, 400, 100):  # four files of 100 ids each
            ids = list(range(start, start + 100))
            lake.write(
                "silver.lines", moves(ids, [1] * 100, ["1.00"] * 100), partition_by=partitions
            )
        changed = moves(
            [301, 302, 350, 900], [1] * 4, ["-1.00", "2.50", "0", "9.99"], _op=["u", "u", "d", "u"]
        )
        merged = lake.write(
            "silver.lines", changed, mode="merge", keys=["id"], delete_marker=DeleteMarker()
        )
        assert (merged.rows_added, merged.rows_updated, merged.rows_removed) == (1, 2, 1)
        latest = lake.versions("silver.lines")[0]
        assert (latest.mode, latest.rows_added, latest.rows_updated, latest.rows_removed) == (
            "merge",
            1,
            2,
            1,
        )
        log = Path(lake.uri("silver.lines")) / "_delta_log" / f"{merged.version:020d}.json"
        removed = sum('"remove"' in line for line in log.read_text().splitlines())
        results[name] = (latest.operation, removed, lake.read("silver.lines"))
    assert results["duckdb"][:2] == ("WRITE", 1)  # one file of four rewritten
    assert results["delta_rs"][0] == "MERGE"
    for _, _, table in results.values():
        assert table.num_rows == 400
        assert sum(table["amount"].to_pylist()) == Decimal("400.00") - 3 + Decimal("11.49")
        assert table.sort_by("id").to_pylist() == results["duckdb"][2].sort_by("id").to_pylist()

    lake = Lake.at(str(tmp_path / "duckdb"))
    with pytest.raises(InvalidInputError, match="latest_by"):
        lake.write("silver.lines", moves([1, 1], [1, 1], ["1", "2"]), mode="merge", keys=["id"])
    last = lake.write(
        "silver.lines",
        moves([1, 1], [1, 1], ["1", "2"], seq=[1, 2]),
        mode="merge",
        keys=["id"],
        latest_by="seq",
    )
    assert last.rows_updated == 1
    assert lake.read("silver.lines", where="id = 1")["amount"].to_pylist() == [Decimal("2.00")]
    # Merged files carry statistics: a filter on the key still skips files.
    assert lake.read("silver.lines", where="id BETWEEN 300 AND 310").num_rows == 11


def test_types_delta_has_no_equal_of_keep_their_values(lake: Lake) -> None:
    """pandas and Arrow data from notebooks and steps: unsigned integers (which wrapped
    in the signed type of their width), nanosecond and zoned timestamps, times of day."""
    import datetime as dt

    data = pa.table(
        {
            "u8": pa.array([200], pa.uint8()),
            "u32": pa.array([4_000_000_000], pa.uint32()),
            "u64": pa.array([2**64 - 1], pa.uint64()),
            "at": pa.array([dt.datetime(2026, 1, 1, 11, 0, 0, 123456)], pa.timestamp("ns", "UTC")),
            "paris": pa.array([dt.datetime(2026, 1, 1, 11, 0)], pa.timestamp("us", "Europe/Paris")),
            "opens": pa.array([dt.time(8, 30)], pa.time64("us")),
        }
    )
    lake.write("silver.types", data)
    [row] = lake.read("silver.types").to_pylist()
    assert (row["u8"], row["u32"], row["u64"]) == (200, 4_000_000_000, Decimal(2**64 - 1))
    utc = dt.UTC
    assert row["at"] == dt.datetime(2026, 1, 1, 11, 0, 0, 123456, tzinfo=utc)
    assert row["paris"] == dt.datetime(2026, 1, 1, 11, 0, tzinfo=utc)  # the same instant
    assert row["opens"] == "08:30:00.000000"


def test_files_of_a_version_are_chosen_by_partition_and_statistics(lake: Lake) -> None:
    # A wide table (Delta keeps statistics of the first 32 columns by default) whose
    # cursor comes last, as bronze's audit columns do: asked for, its range is kept too.
    def batch(first: int, day: int, source: str) -> pa.Table:
        ids = list(range(first, first + 3))
        wide = {f"c{i}": pa.array([i] * 3, pa.int64()) for i in range(40)}
        stamp = datetime(2026, 6, day, 12)
        return pa.table({"id": ids, **wide, "_source": [source] * 3, "written": [stamp] * 3})

    for first, day, source in [(1, 1, "odoo"), (4, 2, "odoo"), (7, 3, "odoo"), (10, 2, "crm")]:
        lake.write(
            "bronze.lines", batch(first, day, source), partition_by=["_source"],
            stats_columns=["written"],
        )  # fmt: skip
    opened = lake.open("bronze.lines")
    day2 = (datetime(2026, 6, 2), datetime(2026, 6, 2, 23))

    chosen = lake.files_sql(
        "bronze.lines", opened, equal={"_source": "odoo"}, ranges={"written": day2}
    )
    assert chosen is not None and chosen.count(".parquet") == 1  # one file of four
    db = lake.connect()
    try:
        ours = db.execute(f"SELECT id, _source FROM {chosen} WHERE _source = 'odoo' ORDER BY id")
        assert ours.fetchall() == [(4, "odoo"), (5, "odoo"), (6, "odoo")]
        # The same rows as through Delta, partition column typed as Delta keeps it.
        where = "_source = 'odoo' AND written BETWEEN '2026-06-02' AND '2026-06-02 23:00'"
        theirs = db.execute(
            f"SELECT id, _source FROM {lake.scan_sql('bronze.lines')} WHERE {where} ORDER BY id"
        ).fetchall()
        assert theirs == [(4, "odoo"), (5, "odoo"), (6, "odoo")]
    finally:
        db.close()
    # An open end, and a range no file holds.
    later = lake.files_sql("bronze.lines", opened, ranges={"written": (day2[0], None)})
    assert later is not None and later.count(".parquet") == 3
    none = (datetime(2027, 1, 1), None)
    assert lake.files_sql("bronze.lines", opened, ranges={"written": none}) == ""

    # A partition value a path would not give back as written: read through Delta.
    lake.write("bronze.lines", batch(20, 4, "odoo crm"), stats_columns=["written"])
    assert lake.files_sql("bronze.lines", lake.open("bronze.lines")) is None
