"""The merge step on bronze rows no key can tell apart: a source table without a primary
key, extracted from a real PostgreSQL, whose rows have a NULL key or share one. Silver
keeps one row per key, so such rows are refused by name rather than silently dropped
(one of two rows of key 2) or added again at every run (a NULL key matches no row)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.ingest import step_context
from tests.support.postgres import postgres_settings
from workbench_pipelines.ingest.extract import run_extract
from workbench_pipelines.ingest.merge import run_merge
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake
from workbench_server.principal import local_principal


@pytest.fixture
def source(workbench, pg_cluster):
    with pg_cluster.fresh_database() as url:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="src", settings=postgres_settings(url))
        )
        yield url


def _extract(workbench, mode: str) -> None:
    config = {"source": "src", "tables": ["notes"], "mode": mode}
    run_extract(step_context(workbench, local_principal(), "extract", config))


def _merge(workbench) -> None:
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))


def _make(url: str, rows: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "CREATE TABLE notes (id int, body text, amount numeric(12, 2), "
            "write_date timestamp DEFAULT now())"
        )
        db.execute(f"INSERT INTO notes (id, body, amount) VALUES {rows}")


def test_rows_with_a_null_key_are_left_out_and_said_not_merged_again_at_every_run(
    workbench, source, tmp_path
):
    _make(source, "(1, 'a', 1.10), (NULL, 'no key', 9.99)")
    log = tmp_path / "merge.log"
    for _ in range(3):  # each merge reads the NULL row again (the overlap window)
        _extract(workbench, "incremental")
        run_merge(
            step_context(
                workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}, log_file=log
            )
        )
    silver = Lake.default(workbench.settings).read("silver.notes").to_pylist()
    assert sorted((r["id"], r["body"]) for r in silver) == [(1, "a")]
    assert "1 row(s) with a NULL key (id) left out" in log.read_text()


def test_two_rows_of_one_key_in_one_extract_are_refused_naming_the_key(workbench, source):
    _make(source, "(1, 'a', 1.10), (2, 'b', 2.20), (2, 'dup', 2.30)")
    _extract(workbench, "full")
    with pytest.raises(InvalidInputError) as refused:
        _merge(workbench)
    message = str(refused.value)
    assert "bronze.notes" in message and "(2)" in message  # the key, as the user can look it up
    assert not Lake.default(workbench.settings).exists("silver.notes")


def test_one_row_per_key_merges_as_before(workbench, source):
    _make(source, "(1, 'a', 1.10), (2, 'b', 2.20)")
    _extract(workbench, "full")
    _merge(workbench)
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE notes SET amount = 2.25, write_date = now() WHERE id = 2")
    _extract(workbench, "incremental")
    _merge(workbench)
    silver = Lake.default(workbench.settings).read("silver.notes").to_pylist()
    assert sorted((r["id"], r["body"], str(r["amount"])) for r in silver) == [
        (1, "a", "1.10"),
        (2, "b", "2.25"),
    ]


def _bronze(workbench) -> list[tuple]:
    rows = Lake.default(workbench.settings).read("bronze.notes").to_pylist()
    return sorted(((r["id"], r["body"], r["_op"]) for r in rows), key=str)


def test_an_incremental_extract_appends_a_row_with_a_null_key_once(workbench, source):
    """Bronze must not grow at every run by the rows with a NULL key that the overlap
    window reads again; a new or changed one is appended (once), deletes are not
    guessed for rows no key names."""
    _make(source, "(1, 'a', 1.10), (NULL, 'no key', 9.99), (NULL, 'twin', 1.00)")
    config = {"source": "src", "tables": ["notes"], "mode": "incremental"}
    config_deletes = {**config, "deletes": "every run"}
    for step in (config, config, config_deletes, config_deletes):
        run_extract(step_context(workbench, local_principal(), "extract", step))
    assert _bronze(workbench) == [
        (1, "a", "i"),
        (None, "no key", "i"),
        (None, "twin", "i"),
    ]
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE notes SET body = 'changed', write_date = now() WHERE body = 'twin'")
        db.execute("INSERT INTO notes (id, body, amount) VALUES (NULL, 'late', 0.50)")
    for _ in range(2):
        _extract(workbench, "incremental")
    assert [r for r in _bronze(workbench) if r[0] is None] == [
        (None, "changed", "i"),
        (None, "late", "i"),
        (None, "no key", "i"),
        (None, "twin", "i"),
    ]
