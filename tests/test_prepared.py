"""``workbench up`` prepares a home (migrations, demo data) only when something changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from workbench_server import prepared

URL = "sqlite:////tmp/wb-prepared-test/metadata.db"  # rebound per test to a real file


@pytest.fixture(autouse=True)
def metadata_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real SQLite file behind ``URL``: a prepared home's DB must still be one."""
    db = tmp_path / "metadata.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setitem(globals(), "URL", f"sqlite:///{db}")
    return db


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, Path]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    demo_file = tmp_path / "demo" / prepared.DEMO_FILE
    demo_file.parent.mkdir()
    demo_file.write_bytes(b"demo")
    return run_dir, demo_file


def test_a_prepared_home_is_recognised_until_something_it_depends_on_changes(
    home: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, demo_file = home
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)  # never prepared
    prepared.mark_prepared(run_dir, URL, True)
    assert prepared.is_prepared(run_dir, URL, True, demo_file)
    assert list(run_dir.iterdir()) == [run_dir / prepared.MARKER]  # no partial file left
    assert URL not in (run_dir / prepared.MARKER).read_text()  # a digest, never the URL

    assert not prepared.is_prepared(run_dir, URL, False, demo_file)  # demo choice changed
    assert not prepared.is_prepared(run_dir, "postgresql://db/wb", True, demo_file)
    demo_file.unlink()  # the demo data deleted: made again
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)
    prepared.mark_prepared(run_dir, URL, False)
    assert prepared.is_prepared(run_dir, URL, False, demo_file)  # ... unless not wanted

    # A new migration shipped (an upgrade of the package): prepare again.
    versions = tmp_path / "versions"
    versions.mkdir()
    for name in sorted(p.name for p in prepared._MIGRATIONS.glob("0*.py")):
        (versions / name).write_text("")
    monkeypatch.setattr(prepared, "_MIGRATIONS", versions)
    assert prepared.is_prepared(run_dir, URL, False, demo_file)
    (versions / "9999_next.py").write_text("")
    assert not prepared.is_prepared(run_dir, URL, False, demo_file)


def test_a_damaged_or_missing_sqlite_db_means_prepare_again(
    home: tuple[Path, Path], metadata_db: Path
) -> None:
    """Preparing opens the DB and says why it cannot be read, before up's banner."""
    run_dir, demo_file = home
    prepared.mark_prepared(run_dir, URL, True)
    assert prepared.is_prepared(run_dir, URL, True, demo_file)
    with metadata_db.open("r+b") as handle:
        handle.write(b"not a database")
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)
    metadata_db.unlink()
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", json.dumps({"fingerprint": 3})])
def test_a_damaged_marker_means_prepare_again(home: tuple[Path, Path], content: str) -> None:
    run_dir, demo_file = home
    (run_dir / prepared.MARKER).write_text(content)
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)


def test_a_failed_preparation_is_forgotten(home: tuple[Path, Path]) -> None:
    run_dir, demo_file = home
    prepared.mark_prepared(run_dir, URL, True)
    prepared.forget(run_dir)
    prepared.forget(run_dir)  # twice: nothing to forget is fine
    assert not prepared.is_prepared(run_dir, URL, True, demo_file)
