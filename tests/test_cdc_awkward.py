"""``mode: cdc`` on tables Odoo does not make, as a data engineer meets them: no primary
key, keys that are not the table's replica identity, a composite key, ``REPLICA
IDENTITY FULL``, large text left unchanged by an update and key changes. Real
PostgreSQL with ``wal_level=logical``; silver compared with the source by key."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.support.ingest import step_context
from tests.support.postgres import postgres_settings, running_cluster
from workbench_pipelines.ingest.extract import run_extract
from workbench_pipelines.ingest.merge import run_merge
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake
from workbench_server.principal import local_principal


@pytest.fixture(scope="module")
def logical_cluster():
    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-cdc-awkward-"))
    settings = {"wal_level": "logical", "max_replication_slots": "8", "max_wal_senders": "8"}
    with running_cluster(folder, settings) as cluster:
        yield cluster


@pytest.fixture
def source(workbench, logical_cluster):
    with logical_cluster.fresh_database() as url:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="src", settings=postgres_settings(url))
        )
        try:
            yield url
        finally:
            with psycopg.connect(url, autocommit=True) as db:
                for (slot,) in db.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"
                ).fetchall():
                    db.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def _cdc(workbench, tables) -> None:
    config = {"source": "src", "tables": tables, "mode": "cdc"}
    run_extract(step_context(workbench, local_principal(), "extract", config))


def _publications(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as db:
        return db.execute("SELECT pubname, tablename FROM pg_publication_tables").fetchall()


def _by_key(rows, keys, columns):
    return {tuple(r[k] for k in keys): tuple(r[c] for c in columns) for r in rows}


def test_a_table_without_a_primary_key_is_refused_and_its_writes_keep_working(workbench, source):
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int, body text)")
        db.execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
    with pytest.raises(InvalidInputError) as refused:
        _cdc(workbench, ["notes"])
    message = str(refused.value)
    assert "public.notes" in message and "primary key" in message
    assert "REPLICA IDENTITY FULL" in message  # what to run instead
    # Published, the table's UPDATEs and DELETEs would fail in the application
    # ("cannot update table ... does not have a replica identity"): nothing is left.
    assert _publications(source) == []
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE notes SET body = 'changed' WHERE id = 1")
        db.execute("DELETE FROM notes WHERE id = 2")
        db.execute("ALTER TABLE notes REPLICA IDENTITY FULL")  # as the message says
    _cdc(workbench, ["notes"])
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE notes SET body = 'again' WHERE id = 1")
        db.execute("INSERT INTO notes VALUES (3, 'c')")
        db.execute("DELETE FROM notes WHERE id = 3")
    _cdc(workbench, ["notes"])
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    silver = Lake.default(workbench.settings).read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body"]) == {(1,): ("again",)}


def test_keys_that_are_not_the_replica_identity_are_refused(workbench, source):
    """A delete sends the replica identity's columns only: keyed by other columns, it
    would reach bronze without its key, and silver would keep the deleted row."""
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE codes (id int PRIMARY KEY, code text NOT NULL, v text)")
        db.execute("INSERT INTO codes VALUES (1, 'x', 'a')")
    with pytest.raises(InvalidInputError) as refused:
        _cdc(workbench, [{"table": "codes", "keys": ["code"]}])
    assert "['code']" in str(refused.value) and "['id']" in str(refused.value)
    assert _publications(source) == []


def test_composite_keys_full_identity_toasted_text_and_key_changes_reach_silver(workbench, source):
    big = "".join(f"{i:08x}" for i in range(4000))  # 32 kB: stored out of line
    with psycopg.connect(source, autocommit=True) as db:
        db.execute(
            "CREATE TABLE pairs (a int, b text, amount numeric(12, 2), body text, "
            "PRIMARY KEY (a, b))"
        )
        db.execute("CREATE TABLE docs (id int PRIMARY KEY, title text, body text)")
        db.execute("ALTER TABLE docs REPLICA IDENTITY FULL")
        db.execute(
            "INSERT INTO pairs SELECT g, 'k' || g, g + 0.01, %s || g FROM generate_series(1, 5) g",
            (big,),
        )
        db.execute(
            "INSERT INTO docs SELECT g, 't' || g, %s || g FROM generate_series(1, 5) g", (big,)
        )
    tables = [{"table": "pairs", "keys": ["a", "b"]}, "docs"]
    _cdc(workbench, tables)
    with psycopg.connect(source) as db:  # one transaction
        db.execute("UPDATE pairs SET amount = amount + 1 WHERE a = 1")  # body unchanged
        db.execute("UPDATE pairs SET b = 'moved' WHERE a = 2")  # a key change
        db.execute("DELETE FROM pairs WHERE a = 3")
        db.execute("UPDATE docs SET title = 'new' WHERE id = 1")
        db.execute("UPDATE docs SET id = 100 WHERE id = 2")
        db.execute("DELETE FROM docs WHERE id = 3")
        db.commit()
    _cdc(workbench, tables)
    run_merge(
        step_context(
            workbench, local_principal(), "merge",
            {"tables": [{"source": "bronze.pairs", "target": "silver.pairs", "keys": ["a", "b"]},
                        "bronze.docs"]},
        )
    )  # fmt: skip
    lake = Lake.default(workbench.settings)
    with psycopg.connect(source) as db:
        pairs = db.execute("SELECT a, b, amount, body FROM pairs").fetchall()
        docs = db.execute("SELECT id, title, body FROM docs").fetchall()
    silver_pairs = _by_key(lake.read("silver.pairs").to_pylist(), ["a", "b"], ["amount", "body"])
    assert silver_pairs == {(a, b): (amount, body) for a, b, amount, body in pairs}
    silver_docs = _by_key(lake.read("silver.docs").to_pylist(), ["id"], ["title", "body"])
    assert silver_docs == {(i,): (t, body) for i, t, body in docs}


@contextmanager
def _following(workbench, source: str, lake: Lake) -> Iterator[psycopg.Connection]:
    """A cdc step following ``notes`` for a few seconds in a thread; the source's
    connection is handed over once an update streamed meanwhile is in bronze, and the
    step must end without error."""
    config = {"source": "src", "tables": ["notes"], "mode": "cdc", "follow": "6s",
              "batch_seconds": 0.2}  # fmt: skip
    failed: list[BaseException] = []

    def follow() -> None:
        try:
            run_extract(step_context(workbench, local_principal(), "extract", config))
        except BaseException as exc:  # reported below
            failed.append(exc)

    consumer = threading.Thread(target=follow)
    consumer.start()
    try:
        with psycopg.connect(source, autocommit=True) as db:
            db.execute("UPDATE notes SET body = 'a2' WHERE id = 1")
            deadline = time.monotonic() + 60
            while not lake.read("bronze.notes", where="_op = 'u'").num_rows:
                assert time.monotonic() < deadline and not failed, failed
                time.sleep(0.1)
            yield db
    finally:
        consumer.join(120)
    assert not failed, failed


def _slots(url: str) -> list[str]:
    with psycopg.connect(url) as db:
        return [r[0] for r in db.execute("SELECT slot_name FROM pg_replication_slots").fetchall()]


def test_a_connection_whose_slot_is_still_on_its_database_is_not_removed(workbench, source):
    """Removed with its slot left, the source would keep every WAL segment from then on
    (its disk fills) with nothing left in the workbench to see it: the slot metrics and
    ``workbench cdc drop`` read the source through the connection."""
    from workbench_server.connections.replication import drop
    from workbench_server.errors import ConflictError

    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
    _cdc(workbench, ["notes"])
    (slot,) = _slots(source)
    service = ConnectionService(workbench, local_principal())
    with pytest.raises(ConflictError) as refused:
        service.delete("src")
    assert slot in str(refused.value) and f"workbench cdc drop src {slot}" in str(refused.value)
    assert service.get("src").name == "src"  # still there, so the slot can be dropped
    drop(postgres_settings_kwargs(source), slot)  # what `workbench cdc drop` does
    service.delete("src")
    assert [c.name for c in service.list() if c.name == "src"] == []


def test_a_connection_never_replicated_is_removed_without_reaching_its_database(workbench):
    service = ConnectionService(workbench, local_principal())
    settings = postgres_settings("postgresql://u:p@127.0.0.1:1/nowhere")  # nothing listens
    service.create(ConnectionCreate(name="gone", settings=settings))
    service.delete("gone")
    assert [c.name for c in service.list() if c.name == "gone"] == []


def postgres_settings_kwargs(url: str) -> dict[str, object]:
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(url)


def test_a_column_retyped_mid_stream_says_which_and_how_to_go_on(workbench, source):
    """Bronze cannot hold a column in two types: the step stops at the change (nothing
    acknowledged), says which column and how bronze is rebuilt, and after that rebuild
    streams on from there: no change lost or written twice."""
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE t (id int PRIMARY KEY, amount numeric(10, 2))")
        db.execute("INSERT INTO t VALUES (1, 1.10)")
    _cdc(workbench, ["t"])
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("ALTER TABLE t ALTER COLUMN amount TYPE numeric(14, 4)")
        db.execute("INSERT INTO t VALUES (2, 4.1234)")
    for _ in range(2):  # the same answer at every run until bronze is rebuilt
        with pytest.raises(InvalidInputError) as refused:
            _cdc(workbench, ["t"])
        message = str(refused.value)
        assert "amount" in message and "DECIMAL(10,2)" in message
        assert "DECIMAL(14,4)" in message and "CREATE OR REPLACE TABLE bronze.t" in message
    lake = Lake.default(workbench.settings)
    db = lake.connect()  # the rebuild the message gives, through the lake library
    rebuilt = db.sql(
        "SELECT * REPLACE (CAST(amount AS DECIMAL(14,4)) AS amount) FROM "
        + lake.scan_sql("bronze.t", lake.version("bronze.t"))
    ).arrow()
    lake.write(
        "bronze.t",
        rebuilt,
        mode="overwrite",
        partition_by=["_source", "_company_id", "_extracted_on"],
    )
    _cdc(workbench, ["t"])
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.t"]}))
    silver = lake.read("silver.t").to_pylist()
    assert sorted((r["id"], str(r["amount"])) for r in silver) == [(1, "1.1000"), (2, "4.1234")]


def test_a_column_dropped_at_the_source_keeps_silver_s_values_and_says_so(
    workbench, source, tmp_path
):
    """A column dropped at the source (an Odoo module removed) is not written as NULL over
    the values bronze and silver hold: a change streamed before the drop keeps its value,
    a key changed after it keeps the value it had, a new key has none, and the step's log
    names the table and the column and how to stop carrying it."""
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text, amount numeric(12, 2))")
        db.execute("INSERT INTO notes VALUES (1, 'a', 1.10), (2, 'b', 2.20), (4, 'd', 4.40)")
    _cdc(workbench, ["notes"])
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE notes SET body = 'a2' WHERE id = 1")  # streamed with its body
        db.execute("ALTER TABLE notes DROP COLUMN body")
        db.execute("UPDATE notes SET amount = 2.25 WHERE id = 2")
        db.execute("INSERT INTO notes VALUES (3, 3.30)")
    log = tmp_path / "extract.log"
    config = {"source": "src", "tables": ["notes"], "mode": "cdc"}
    run_extract(step_context(workbench, local_principal(), "extract", config, log_file=log))
    with psycopg.connect(source) as db:  # in one transaction, the key changed too
        db.execute("UPDATE notes SET amount = 4.45 WHERE id = 4")
        db.execute("UPDATE notes SET id = 5 WHERE id = 4")
        db.commit()
    _cdc(workbench, ["notes"])
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    silver = Lake.default(workbench.settings).read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body", "amount"]) == {
        (1,): ("a2", Decimal("1.10")),
        (2,): ("b", Decimal("2.25")),
        (3,): (None, Decimal("3.30")),
        (5,): ("d", Decimal("4.45")),
    }
    said = log.read_text()
    assert "public.notes" in said and 'EXCLUDE ("body")' in said
    # A table new to the step copies every table again, compared with bronze: the copy
    # keeps the values bronze carries too.
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE other (id int PRIMARY KEY)")
    _cdc(workbench, ["notes", "other"])
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    silver = Lake.default(workbench.settings).read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body"]) == {
        (1,): ("a2",),
        (2,): ("b",),
        (3,): (None,),
        (5,): ("d",),
    }


def test_a_column_dropped_while_followed_keeps_silver_s_values(workbench, source):
    """The same while the step streams: the Relation message without the column comes
    mid-stream, and the changes after it keep each key's value."""
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text, amount numeric(12, 2))")
        db.execute("INSERT INTO notes VALUES (1, 'a', 1.10), (2, 'b', 2.20)")
    _cdc(workbench, ["notes"])
    lake = Lake.default(workbench.settings)
    with _following(workbench, source, lake) as db:
        db.execute("ALTER TABLE notes DROP COLUMN body")  # the stream's shape had it
        db.execute("UPDATE notes SET amount = 2.25 WHERE id = 2")
        db.execute("INSERT INTO notes VALUES (3, 3.30)")
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    silver = lake.read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body", "amount"]) == {
        (1,): ("a2", Decimal("1.10")),
        (2,): ("b", Decimal("2.25")),
        (3,): (None, Decimal("3.30")),
    }


def test_a_new_column_filled_without_a_change_to_stream_reaches_every_silver_row(workbench, source):
    """A column added with a default (PostgreSQL gives every row the value and writes no
    change to stream) between runs: the rows not changed since get the value too, a
    column left NULL stays NULL, and nothing is read again at the next run."""
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        db.execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
    _cdc(workbench, ["notes"])
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("ALTER TABLE notes ADD COLUMN rate numeric(6, 3) DEFAULT 1.5")
        db.execute("ALTER TABLE notes ADD COLUMN ref text")
        db.execute("UPDATE notes SET body = 'b2' WHERE id = 2")
        db.execute("INSERT INTO notes VALUES (3, 'c', 2.0, 'R-3')")
    _cdc(workbench, ["notes"])
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    lake = Lake.default(workbench.settings)
    silver = lake.read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body", "rate", "ref"]) == {
        (1,): ("a", Decimal("1.500"), None),
        (2,): ("b2", Decimal("1.500"), None),
        (3,): ("c", Decimal("2.000"), "R-3"),
    }
    version = lake.version("bronze.notes")
    _cdc(workbench, ["notes"])  # filled once
    assert lake.version("bronze.notes") == version


def test_a_new_column_filled_while_followed_reaches_every_silver_row(workbench, source):
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        db.execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
    _cdc(workbench, ["notes"])
    lake = Lake.default(workbench.settings)
    with _following(workbench, source, lake) as db:
        db.execute("ALTER TABLE notes ADD COLUMN rate numeric(6, 3) DEFAULT 1.5")
        db.execute("UPDATE notes SET body = 'b2' WHERE id = 2")  # the new Relation
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))
    silver = lake.read("silver.notes").to_pylist()
    assert _by_key(silver, ["id"], ["body", "rate"]) == {
        (1,): ("a2", Decimal("1.500")),
        (2,): ("b2", Decimal("1.500")),
    }


def test_a_table_dropped_while_followed_is_named_and_the_others_lose_nothing(workbench, source):
    from workbench_server.errors import NotFoundError

    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE kept (id int PRIMARY KEY, amount numeric(12, 2))")
        db.execute("CREATE TABLE gone (id int PRIMARY KEY, v text)")
        db.execute("INSERT INTO kept VALUES (1, 1.00)")
    _cdc(workbench, ["kept", "gone"])
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE kept SET amount = 2.00 WHERE id = 1")
        db.execute("DROP TABLE gone")
        db.execute("INSERT INTO kept VALUES (2, 3.00)")
    with pytest.raises(NotFoundError) as refused:
        _cdc(workbench, ["kept", "gone"])
    assert "gone" in str(refused.value) and "remove it from the step's tables" in str(refused.value)
    _cdc(workbench, ["kept"])  # as the message says
    bronze = Lake.default(workbench.settings).read("bronze.kept").to_pylist()
    assert sorted((r["id"], str(r["amount"]), r["_op"]) for r in bronze) == [
        (1, "1.00", "i"),
        (1, "2.00", "u"),
        (2, "3.00", "i"),
    ]


def test_a_replica_identity_using_an_index_keys_the_table_by_that_index(workbench, source):
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("CREATE TABLE codes (id int PRIMARY KEY, code text NOT NULL, v text)")
        db.execute("CREATE UNIQUE INDEX codes_code ON codes (code)")
        db.execute("ALTER TABLE codes REPLICA IDENTITY USING INDEX codes_code")
        db.execute("INSERT INTO codes VALUES (1, 'a', 'x'), (2, 'b', 'y')")
    with pytest.raises(InvalidInputError) as refused:  # id is not what a delete sends
        _cdc(workbench, ["codes"])
    assert "['id']" in str(refused.value) and "['code']" in str(refused.value)
    tables = [{"table": "codes", "keys": ["code"]}]
    _cdc(workbench, tables)
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE codes SET v = 'z' WHERE code = 'a'")
        db.execute("DELETE FROM codes WHERE code = 'b'")
    _cdc(workbench, tables)
    merge = {"tables": [{"source": "bronze.codes", "target": "silver.codes", "keys": ["code"]}]}
    run_merge(step_context(workbench, local_principal(), "merge", merge))
    silver = Lake.default(workbench.settings).read("silver.codes").to_pylist()
    assert _by_key(silver, ["code"], ["v"]) == {("a",): ("z",)}
