"""Change data capture from a real PostgreSQL with ``wal_level=logical`` (``mode: cdc``
of the extract step): the snapshot and the stream in bronze and, merged, in silver;
a consumer killed with SIGKILL mid-stream and started again loses and repeats nothing;
the setup checks say what a source lacks; the slot is dropped on request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.ingest import assert_same_rows, source_database, source_rows, step_context
from tests.support.postgres import postgres_settings, running_cluster
from tests.support.processes import base_env, run_workbench
from workbench_pipelines.ingest import pgoutput
from workbench_pipelines.ingest.cdc import slot_name
from workbench_pipelines.ingest.extract import run_extract
from workbench_pipelines.ingest.merge import run_merge
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.principal import local_principal

TABLES = ["account_move_line", "account_account"]
CDC = {"source": "odoo", "tables": TABLES, "mode": "cdc", "batch_rows": 200}
MERGE = {"tables": [f"bronze.{t}" for t in TABLES]}


@pytest.fixture(scope="module")
def logical_cluster():
    """A cluster of its own that allows logical replication."""
    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-cdc-"))
    settings = {"wal_level": "logical", "max_replication_slots": "8", "max_wal_senders": "8"}
    with running_cluster(folder, settings) as cluster:
        yield cluster


@pytest.fixture
def odoo(workbench, logical_cluster):
    with source_database(logical_cluster) as url:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="odoo", settings=postgres_settings(url))
        )
        try:
            yield url
        finally:
            with psycopg.connect(url, autocommit=True) as db:
                for (slot,) in db.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"
                ).fetchall():
                    db.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def _cdc(workbench, **config):
    ctx = step_context(workbench, local_principal(), "extract", {**CDC, **config})
    run_extract(ctx)
    return ctx


def _merge(workbench):
    run_merge(step_context(workbench, local_principal(), "merge", MERGE))


def _silver(workbench, table: str):
    return Lake.default(workbench.settings).read(f"silver.{table}").to_pylist()


def test_one_transaction_of_inserts_updates_and_deletes_reaches_bronze_and_silver(workbench, odoo):
    lake = Lake.default(workbench.settings)
    big = "".join(f"{i:08x}" for i in range(3000))  # 24 kB, stored out of line (TOASTed)
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_move_line SET name = %s WHERE id = 3", (big,))
    _cdc(workbench)  # the snapshot: the slot made, every row copied
    _merge(workbench)
    assert_same_rows(
        _silver(workbench, "account_move_line"), source_rows(odoo, "account_move_line")
    )
    snapshot_version = lake.version("bronze.account_move_line")

    with psycopg.connect(odoo) as db:  # one transaction, as Odoo's write() makes them
        db.execute(  # three lines like line 1, with their own ids and names
            "INSERT INTO account_move_line SELECT (jsonb_populate_record(l, jsonb_build_object("
            "'id', 900000 + g, 'name', 'new ' || g, 'amount_third', 1.0 / 3))).* "
            "FROM account_move_line l, generate_series(1, 3) g WHERE l.id = 1"
        )
        db.execute(
            "UPDATE account_move_line SET balance = balance + 0.01, write_date = now() "
            "WHERE id IN (3, 4, 5)"
        )  # id 3's TOASTed name is not sent ('u'): its value must stay
        db.execute("DELETE FROM account_move_line WHERE id IN (6, 7)")
        db.execute("UPDATE account_account SET code = code || 'x' WHERE id = 1")
        db.commit()
    _cdc(workbench)
    changes = lake.read(
        "bronze.account_move_line", where="_lsn > 0 AND _committed_at IS NOT NULL"
    ).to_pylist()
    ops = sorted((r["_op"], r["id"]) for r in changes)
    assert ops == [("d", 6), ("d", 7), ("i", 900001), ("i", 900002), ("i", 900003),
                   ("u", 3), ("u", 4), ("u", 5)]  # fmt: skip
    assert len({r["_lsn"] for r in changes}) == 1  # one transaction, one LSN
    assert next(r for r in changes if r["id"] == 3)["name"] == big
    assert lake.version("bronze.account_move_line") == snapshot_version + 1  # one append
    _merge(workbench)
    for table in TABLES:
        assert_same_rows(_silver(workbench, table), source_rows(odoo, table))

    # A new column: described from the source and added to bronze, and the merge adds
    # it to silver (the rows holding a value are read once more, after the stream).
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("ALTER TABLE account_account ADD COLUMN x_note text")
        db.execute("UPDATE account_account SET x_note = 'noted' WHERE id = 2")
    _cdc(workbench)
    noted = lake.read("bronze.account_account", where="x_note IS NOT NULL").to_pylist()
    assert {(r["id"], r["x_note"], r["_op"]) for r in noted} == {(2, "noted", "u")}
    _merge(workbench)
    assert_same_rows(_silver(workbench, "account_account"), source_rows(odoo, "account_account"))


def test_a_table_added_to_the_step_is_copied_with_the_others_again(workbench, odoo):
    lake = Lake.default(workbench.settings)
    _cdc(workbench, tables=["account_account"])
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_account SET code = code || 'y' WHERE id = 3")
        db.execute("UPDATE account_move_line SET name = 'before the copy' WHERE id = 8")
    _cdc(workbench)  # account_move_line is new: a new slot, both tables copied again
    assert lake.read("bronze.account_account", where="id = 3 AND _op = 'u'").num_rows == 1
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_move_line SET name = 'after' WHERE id = 9")
    _cdc(workbench)
    _merge(workbench)
    for table in TABLES:
        assert_same_rows(_silver(workbench, table), source_rows(odoo, table))
    assert len(_slots(odoo)) == 1


def test_the_copy_reads_as_of_the_slots_snapshot(workbench, odoo, monkeypatch):
    """The copy goes through DuckDB's postgres scanner, whose transaction adopts the
    slot's exported snapshot: a change committed after the slot was made and before the
    copy read the table is not in the copy, only in the stream after it (once)."""
    from workbench_pipelines.ingest.cdc import CdcExtract

    versions = CdcExtract._versions  # asked once the slot is made, before the copy starts
    changed = []

    def change_first(self):
        if not changed:
            with psycopg.connect(odoo, autocommit=True) as db:
                db.execute("UPDATE account_move_line SET name = 'after the slot' WHERE id = 11")
                db.execute("DELETE FROM account_move_line WHERE id = 12")
            changed.append(True)
        return versions(self)

    monkeypatch.setattr(CdcExtract, "_versions", change_first)
    _cdc(workbench, tables=["account_move_line"])
    rows = Lake.default(workbench.settings).read("bronze.account_move_line").to_pylist()
    copied = {r["id"]: r for r in rows if r["_committed_at"] is None}
    streamed = sorted((r["_op"], r["id"], r["name"]) for r in rows if r["_committed_at"])
    assert changed
    assert copied[11]["name"] != "after the slot" and 12 in copied
    assert streamed == [("d", 12, None), ("u", 11, "after the slot")]
    assert {r["_lsn"] for r in copied.values()} == {min(r["_lsn"] for r in rows)}


CONSUMER = textwrap.dedent(
    """
    import sys
    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_server.core import Workbench
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    workbench = Workbench(WorkbenchSettings.from_env(sys.argv[1]))
    config = {"source": "odoo", "tables": TABLES, "mode": "cdc", "follow": "120s",
              "batch_rows": 25, "batch_seconds": 0.2}
    run_extract(step_context(workbench, local_principal(), "extract", config))
    """
).replace("TABLES", repr(TABLES))


def _write_changes(url: str, count: int, done: threading.Event, made: list[int]) -> None:
    """``count`` transactions, each an insert and two updates, every tenth a delete too."""
    with psycopg.connect(url) as db:
        (top,) = db.execute("SELECT max(id) FROM account_move_line").fetchone()
        for i in range(count):
            db.execute(
                "INSERT INTO account_move_line SELECT (jsonb_populate_record(l, "
                "jsonb_build_object('id', %s::int, 'name', 'stream ' || %s::text))).* "
                "FROM account_move_line l WHERE l.id = 1",
                (800000 + i, i),
            )
            db.execute(
                "UPDATE account_move_line SET balance = balance + 1, write_date = now() "
                "WHERE id IN (%s, %s)",
                (10 + i % 50, 100 + i % 70),
            )
            changes = 3
            if i % 10 == 0:
                db.execute("DELETE FROM account_move_line WHERE id = %s", (top - i,))
                changes += 1
            db.commit()
            made.append(changes)
            time.sleep(0.01)
    done.set()


def test_a_consumer_killed_mid_stream_loses_and_repeats_nothing(workbench, odoo, home):
    lake = Lake.default(workbench.settings)
    _cdc(workbench)  # the snapshot
    streamed = "_committed_at IS NOT NULL"
    consumer = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, str(home)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    done, made = threading.Event(), []
    writer = threading.Thread(target=_write_changes, args=(odoo, 300, done, made))
    try:
        writer.start()
        deadline = time.monotonic() + 120
        while not lake.read("bronze.account_move_line", where=streamed).num_rows:
            assert consumer.poll() is None, consumer.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the consumer wrote nothing"
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(consumer.pid, signal.SIGKILL)  # mid-stream: between batches or inside one
        consumer.wait(30)
        before = lake.read("bronze.account_move_line", where=streamed).num_rows
    finally:
        if consumer.poll() is None:
            consumer.kill()
        writer.join(120)
    assert done.is_set() and 0 < before < sum(made)  # killed with changes still to come

    _cdc(workbench)  # started again: from the lake's last LSN
    rows = lake.read("bronze.account_move_line", where=streamed).to_pylist()
    per_change: dict[tuple[int, int], int] = {}
    for row in rows:
        per_change[(row["id"], row["_lsn"])] = per_change.get((row["id"], row["_lsn"]), 0) + 1
    assert max(per_change.values()) == 1  # no change twice
    assert len(rows) == sum(made)  # and none lost
    _merge(workbench)
    assert_same_rows(
        _silver(workbench, "account_move_line"), source_rows(odoo, "account_move_line")
    )


PIPELINE = """
name: odoo_live
steps:
  - id: extract
    kind: extract
    source: odoo
    mode: cdc
    tables: [account_move_line, account_account]
  - id: silver
    kind: merge
    depends_on: [extract]
    tables: [bronze.account_move_line, bronze.account_account]
"""


@pytest.mark.timeout(600)
def test_a_pipeline_on_the_worker_streams_changes_to_silver(
    tmp_path, home, workbench, worker, odoo, temporal_address, task_queue
):
    from tests.support.ingest import attempt_log, run_pipeline
    from workbench_server.pipelines.registry import PipelineRegistry

    me = local_principal()
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, me).deploy(tmp_path / "pipeline.yaml")
    first = run_pipeline(workbench, me, "odoo_live", temporal_address, task_queue)
    assert first.status == "succeeded", [(a.step_id, a.error) for a in first.attempts]
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_move_line SET name = 'changed' WHERE id IN (1, 2)")
        db.execute("DELETE FROM account_move_line WHERE id = 3")
    second = run_pipeline(workbench, me, "odoo_live", temporal_address, task_queue)
    assert second.status == "succeeded", [(a.step_id, a.error) for a in second.attempts]
    assert "cdc wb_odoo_odoo_live_extract: 3 change(s) written" in attempt_log(
        home, second.id, "extract"
    )
    written = [t for t in second.tables if t.access == "write" and t.table.startswith("bronze.")]
    assert [(t.table, t.rows_added) for t in written] == [("bronze.account_move_line", 3)]
    lake = Lake.default(workbench.settings)
    assert_same_rows(
        lake.read("silver.account_move_line").to_pylist(), source_rows(odoo, "account_move_line")
    )


def _slots(url: str) -> dict[str, str]:
    with psycopg.connect(url) as db:
        return dict(
            db.execute(
                "SELECT slot_name::text, plugin::text FROM pg_replication_slots "
                "WHERE database = current_database()"
            ).fetchall()
        )


def test_slot_lag_is_a_metric_and_dropping_the_slot_frees_the_source(workbench, odoo, home):
    from workbench_server.metrics.cdc import CdcCollector

    _cdc(workbench)
    slot = slot_name("odoo", "steps", "extract")
    assert _slots(odoo) == {slot: "pgoutput"}
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_move_line SET balance = balance + 1 WHERE id < 500")

    def figures() -> dict[str, float]:
        found = {}
        for family in CdcCollector(workbench, ttl=0).collect():
            for sample in family.samples:
                found[sample.name] = sample.value
        return found

    waiting = figures()  # nobody reads the slot: the WAL of 499 updates waits for it
    assert waiting["workbench_cdc_source_up"] == 1
    assert waiting["workbench_cdc_slot_active"] == 0
    assert waiting["workbench_cdc_slot_lag_bytes"] > 20_000
    assert waiting["workbench_cdc_slot_retained_bytes"] >= waiting["workbench_cdc_slot_lag_bytes"]
    _cdc(workbench)
    assert figures()["workbench_cdc_slot_lag_bytes"] < waiting["workbench_cdc_slot_lag_bytes"] / 10

    env = base_env(home)
    listed = run_workbench("cdc", "slots", "odoo", env=env)
    assert listed.returncode == 0 and listed.stdout.startswith(f"{slot}  idle"), listed.stderr
    dropped = run_workbench("cdc", "drop", "odoo", "--pipeline", "steps", "--yes", env=env)
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.strip() == f"dropped slot {slot} and its publication"
    assert _slots(odoo) == {}
    with psycopg.connect(odoo) as db:
        assert db.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    refused = run_workbench("cdc", "drop", "odoo", "pg_other_slot", "--yes", env=env)
    assert refused.returncode == 1
    assert "'pg_other_slot' is not a workbench slot" in refused.stderr

    # The next run makes the slot again and copies the tables again: deleted rows too.
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DELETE FROM account_move_line WHERE id = 20")
    _cdc(workbench)
    _merge(workbench)
    assert_same_rows(
        _silver(workbench, "account_move_line"), source_rows(odoo, "account_move_line")
    )


def test_doctor_says_a_source_needs_wal_level_logical(workbench, home, pg_cluster):
    with pg_cluster.fresh_database() as url:  # the shared cluster: wal_level replica
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="plain", settings=postgres_settings(url))
        )
        result = run_workbench("doctor", "--cdc", "plain", env=base_env(home))
    line = next(line for line in result.stdout.splitlines() if "cdc plain" in line)
    assert line.startswith("FAIL"), result.stdout
    assert (
        "plain: logical replication not possible: wal_level is replica, logical is needed: "
        "run ALTER SYSTEM SET wal_level = logical as a superuser and restart PostgreSQL"
    ) in line
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr


def test_a_cdc_step_on_a_source_without_logical_replication_says_what_to_do(workbench, pg_cluster):
    from workbench_server.errors import InvalidInputError

    with source_database(pg_cluster) as url:  # wal_level replica
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="odoo", settings=postgres_settings(url))
        )
        with pytest.raises(InvalidInputError) as failed:
            _cdc(workbench)
        assert str(failed.value) == (
            "connection 'odoo': the slot wb_odoo_steps_extract cannot be created (logical "
            "decoding requires wal_level >= logical); workbench doctor --cdc odoo says what "
            "to change"
        )
        assert _slots(url) == {}  # and the source is left as it was
        with psycopg.connect(url) as db:
            assert db.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0


def test_the_checks_say_what_a_role_lacks_and_what_to_run(workbench, home, odoo):
    import asyncio

    from workbench_server.connections.probes import probe

    service = ConnectionService(workbench, local_principal())
    ready = asyncio.run(probe("odoo", service.resolve_for_test("odoo")))
    assert ready.ok and ready.replication.startswith("logical replication ready (wal_level logical")
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DROP ROLE IF EXISTS reader")
        db.execute("CREATE ROLE reader LOGIN PASSWORD 'pw-reader'")
    try:
        service.create(
            ConnectionCreate(
                name="reader",
                settings=postgres_settings(odoo, user="reader", password="pw-reader"),
            )
        )
        tested = asyncio.run(probe("reader", service.resolve_for_test("reader")))
        assert tested.ok  # it connects; what cdc would need is said beside
        assert (
            "role reader may not replicate: as a superuser (or the RDS master user) run "
            'ALTER ROLE "reader" REPLICATION' in tested.replication
        )
        assert "role reader does not own" in tested.replication
        checked = run_workbench("cdc", "check", "reader", env=base_env(home))
        assert checked.returncode == 1 and "may not replicate" in checked.stderr
    finally:
        with psycopg.connect(odoo, autocommit=True) as db:
            db.execute("DROP OWNED BY reader")
            db.execute("DROP ROLE reader")


def test_the_pgoutput_decoder_reads_each_message_kind():
    import struct

    def text(value: str) -> bytes:
        data = value.encode()
        return b"t" + struct.pack("!i", len(data)) + data

    begin = b"B" + struct.pack("!qqI", 0x16B374D848, 1_000_000, 7)
    assert pgoutput.decode(begin) == pgoutput.Begin(0x16B374D848, pgoutput.timestamp(1_000_000), 7)
    relation = (
        b"R" + struct.pack("!I", 42) + b"public\0t\0d" + struct.pack("!h", 2)
        + b"\x01id\0" + struct.pack("!Ii", 20, -1) + b"\x00v\0" + struct.pack("!Ii", 25, -1)
    )  # fmt: skip
    decoded = pgoutput.decode(relation)
    assert decoded.qualified == "public.t" and [c.key for c in decoded.columns] == [True, False]
    update = b"U" + struct.pack("!I", 42) + b"N" + struct.pack("!h", 3) + text("1") + b"u" + b"n"
    change = pgoutput.decode(update)
    assert change.new == (b"1", pgoutput.UNCHANGED, None) and change.old is None
    delete = b"D" + struct.pack("!I", 42) + b"K" + struct.pack("!h", 2) + text("1") + b"n"
    assert pgoutput.decode(delete).old == (b"1", None)
    commit = b"C\0" + struct.pack("!qqq", 10, 20, 5)
    assert pgoutput.decode(commit).end_lsn == 20
    assert pgoutput.lsn_text(0x16B374D848) == "16/B374D848"
    assert pgoutput.parse_lsn("16/B374D848") == 0x16B374D848
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(b"I" + struct.pack("!I", 42) + b"X")
    with pytest.raises(pgoutput.DecodeError, match="ends early"):
        pgoutput.decode(update[:-3])
    # A batch's tuples decoded column by column, as one by one.
    insert = b"I" + struct.pack("!I", 42) + b"N" + struct.pack("!h", 3)
    batch = [insert + text("1") + b"n" + text("héllo"), update[:6] + update[6:]]
    (ids, _), (second, unchanged), (third, _) = pgoutput.columns(batch, 6, 3)
    assert ids.cast("large_string").to_pylist() == ["1", "1"]
    assert second.to_pylist() == [None, None] and unchanged.tolist() == [False, True]
    assert third.cast("large_string").to_pylist() == ["héllo", None]
    assert [pgoutput.tuple_at(m, 6) for m in batch] == [
        (b"1", None, "héllo".encode()),
        (b"1", pgoutput.UNCHANGED, None),
    ]
    assert pgoutput.columns(batch, 6, 2) is None  # not the columns said: one by one


def test_slot_names_follow_source_pipeline_and_step():
    assert slot_name("odoo", "month-close", "extract") == "wb_odoo_month_close_extract"
    long = slot_name("odoo", "p" * 80, "extract")
    assert len(long) == 63 and long.startswith("wb_odoo_ppp")
