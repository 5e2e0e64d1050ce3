"""Shared fixtures: real PostgreSQL, real Temporal dev server, real workers and servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.odoo_server import OdooServer, running_odoo
from tests.support.postgres import PostgresCluster, running_cluster
from tests.support.processes import terminate
from tests.support.temporal import dev_server

pytest_plugins = ["pytest_jupyter.jupyter_server"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata(request: pytest.FixtureRequest, tmp_path: Path):
    """The core (a fresh home's Workbench) on SQLite or on a real PostgreSQL."""
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    with contextlib.ExitStack() as stack:
        url = None
        if request.param == "postgresql":  # a copy of a database migrated once
            cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
            template = cluster.template("metadata", _migrate_postgres)
            url = stack.enter_context(cluster.fresh_database(template=template))
        settings = WorkbenchSettings.from_env(tmp_path / "home", db_url=url)
        settings.workbench_home.prepare()
        if url is None:
            _copy_migrated(request.getfixturevalue("migrated_sqlite"), settings)
        core = Workbench(settings)
        yield core
        core.close()


def _migrate_postgres(url: str) -> None:
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    home = Path(tempfile.mkdtemp(prefix="workbench-migrate-"))
    try:
        Workbench(WorkbenchSettings.from_env(home / "home", db_url=url)).close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workbench_kernelspec(jp_data_dir: Path) -> None:
    """pytest-jupyter isolates Jupyter's data paths: put the shipped kernel spec there."""
    shutil.copytree(REPO / "kernels" / "specs" / "workbench", jp_data_dir / "kernels" / "workbench")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster per test session."""
    # Not under pytest's tmp dir: that is private to root, and the cluster runs unprivileged.
    with running_cluster(Path(tempfile.mkdtemp(prefix="workbench-pg-"))) as cluster:
        yield cluster


@pytest.fixture
def pg_conninfo(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database on the session cluster (a libpq URL)."""
    with pg_cluster.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def odoo_db(pg_cluster: PostgresCluster) -> Iterator[str]:
    """An Odoo-shaped database with the demo data, loaded once (about a second); read only."""
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())
        yield url


@pytest.fixture(scope="session")
def odoo_api(odoo_db: str) -> Iterator[OdooServer]:
    """Odoo's external API (the test stand-in) over ``odoo_db``."""
    with running_odoo(odoo_db) as server:
        yield server


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a real Temporal dev server shared by the session."""
    with dev_server(tmp_path_factory.mktemp("temporal")) as address:
        yield address


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test keeps tests from seeing each other's workers."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metadata DB migrated to head once per session (all of Alembic's migrations
    take 0.3-0.7 s on a loaded machine); fixtures that only need a migrated core copy it."""
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    folder = tmp_path_factory.mktemp("migrated")
    settings = WorkbenchSettings.from_env(folder / "home", db_url=f"sqlite:///{folder / 'm.db'}")
    Workbench(settings).close()
    template = folder / "metadata.db"
    source, copy = sqlite3.connect(folder / "m.db"), sqlite3.connect(template)
    try:
        source.backup(copy)  # one self-contained file (the DB runs in WAL mode)
    finally:
        source.close()
        copy.close()
    return template


def _copy_migrated(template: Path, settings) -> None:
    """Put the migrated template where the core opens its SQLite DB (a fresh home's)."""
    target = settings.workbench_home.metadata_db
    if settings.db_url == settings.workbench_home.default_db_url and not target.exists():
        shutil.copyfile(template, target)


@pytest.fixture
def workbench(home: Path, migrated_sqlite: Path):
    """The core on a fresh home (SQLite metadata DB, migrated: a copy of the session's)."""
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    _copy_migrated(migrated_sqlite, settings)
    core = Workbench(settings)
    yield core
    core.close()


def spawn_worker(
    home: Path,
    temporal_address: str,
    task_queue: str,
    extra_env: dict[str, str] | None = None,
    concurrency: int | None = None,
    log_name: str = "worker-test.log",
) -> subprocess.Popen[bytes]:
    """A real ``workbench worker`` process polling ``task_queue``; output in home's log."""
    from workbench_server.temporal import worker_argv

    home.mkdir(parents=True, exist_ok=True)
    with (home / log_name).open("ab") as log:
        return subprocess.Popen(
            worker_argv(
                home=home, address=temporal_address, task_queue=task_queue, concurrency=concurrency
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
            | (extra_env or {}),
        )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    terminate(proc, 40)


@pytest.fixture
def worker(home: Path, temporal_address: str, task_queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``workbench worker`` process polling ``task_queue``."""
    proc = spawn_worker(home, temporal_address, task_queue)
    yield proc
    stop_worker(proc)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint (moto's server) on 127.0.0.1; any keys are accepted."""
    from moto.server import ThreadedMotoServer

    from workbench_server.supervisor import free_port

    port = free_port("127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
