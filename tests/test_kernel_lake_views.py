"""A lake session's views follow the lake folder at every query (the look before each
query skips the folders of Delta tables it knows: issue 22, the per-query cost)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import write_deltalake

from workbench_kernels.lake_session import LakeSession


def count(session: LakeSession, table: str) -> int:
    session.refresh_views()
    return session.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_what_changes_in_the_folder_is_seen_at_the_next_query(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "silver" / "moves"), pa.table({"id": [1, 2]}))
    session = LakeSession(str(lake), {})
    assert count(session, "silver.moves") == 2

    # A new version, a new Delta table, a Parquet dataset, then that dataset made Delta.
    write_deltalake(str(lake / "silver" / "moves"), pa.table({"id": [3]}), mode="append")
    assert count(session, "silver.moves") == 3
    write_deltalake(str(lake / "gold" / "totals"), pa.table({"n": [1]}))
    assert count(session, "gold.totals") == 1
    (lake / "bronze" / "raw").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3, 4]}), lake / "bronze" / "raw" / "part-0.parquet")
    assert count(session, "bronze.raw") == 4
    shutil.rmtree(lake / "bronze" / "raw")
    write_deltalake(str(lake / "bronze" / "raw"), pa.table({"id": [9]}))
    assert count(session, "bronze.raw") == 1
    assert "delta_scan" in session._views["bronze.raw"]

    # A first file in an empty folder, then a second file next to it.
    (lake / "bronze" / "later").mkdir()
    assert "bronze.later" not in session.refresh_views()
    pq.write_table(pa.table({"id": [1]}), lake / "bronze" / "later" / "part-0.parquet")
    assert count(session, "bronze.later") == 1
    pq.write_table(pa.table({"id": [2, 3]}), lake / "bronze" / "later" / "part-1.parquet")
    assert count(session, "bronze.later") == 3

    # A table that goes is gone at the next query, and the others stay.
    shutil.rmtree(lake / "silver" / "moves")
    assert "silver.moves" not in session.refresh_views()
    assert count(session, "gold.totals") == 1
    assert count(session, "raw") == 1  # unique across layers: its bare name too
