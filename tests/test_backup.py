"""`workbench backup` and `workbench restore`: a home comes back whole in another place."""

from __future__ import annotations

import json
import re
import stat
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.notebooks import write_notebook
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server.catalog import CatalogService, TablePatch
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.core import Workbench
from workbench_server.db.models import PipelineVersion
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal
from workbench_server.settings import WorkbenchSettings


@pytest.mark.timeout(300)
def test_backup_then_restore_into_an_empty_home_brings_everything_back(
    tmp_path: Path,
    home: Path,
    workbench,
    worker,
    odoo_db: str,
    temporal_address: str,
    task_queue: str,
) -> None:
    principal = local_principal()
    connections = ConnectionService(workbench, principal)
    connections.create(ConnectionCreate(name="finance", settings=postgres_settings(odoo_db)))
    password = connections.resolve("finance").password.get_secret_value()
    catalog = CatalogService(workbench, principal)
    catalog.scan("finance")
    moves = catalog.find("finance", "public", "account_move")
    catalog.edit_table(moves.id, TablePatch(description="Posted and draft entries", tags=["gold"]))
    src = tmp_path / "src"
    write_notebook(src / "hello.ipynb", "print('hello from the step')")
    (src / "p.yaml").write_text("name: nightly\nsteps:\n  - {id: hello, notebook: hello.ipynb}\n")
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    assert run_workbench("pipeline", "deploy", str(src / "p.yaml"), env=env).returncode == 0
    ran = run_workbench("pipeline", "run", "nightly", "--wait", env=env, timeout=200)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = re.search(r"started run (\w+)", ran.stdout).group(1)

    rules = "rules:\n  - {name: DiskSpace, kind: disk_space, severity: P2}\n"
    (home / "alerts.yaml").write_text(rules)
    archive = tmp_path / "out" / "home.tar.gz"
    made = run_workbench("backup", "--output", str(archive), env=base_env(home))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the key
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"manifest.json", "metadata.db", "secrets.key", "pipelines", "runs"} <= set(names)

    other = tmp_path / "elsewhere" / "home"
    restored = run_workbench("restore", str(archive), env=base_env(other))
    assert restored.returncode == 0, restored.stderr
    assert (other / "alerts.yaml").read_text() == rules  # the alert rules came along
    again = Workbench(WorkbenchSettings.from_env(other))
    try:
        # Secrets still decrypt (the key came along), under the same name and owner.
        secret = ConnectionService(again, principal).resolve("finance").password
        assert secret.get_secret_value() == password
        # Catalog curation survived, on the same table.
        table = CatalogService(again, principal).find("finance", "public", "account_move")
        assert (table.description, table.tags) == ("Posted and draft entries", ["gold"])
        # The pipeline, its version and its run history, with artifacts in the new home.
        run = RunService(again, principal).get(run_id)
        assert run.status == "succeeded" and run.pipeline == "nightly"
        [attempt] = run.attempts
        notebook = Path(attempt.output_notebook)
        assert notebook.is_relative_to(other) and notebook.is_file()
        assert "hello from the step" in notebook.read_text()
        with again.sessions() as session:  # a new run would start from the snapshot here
            [snapshot] = session.scalars(select(PipelineVersion.snapshot_dir))
        assert Path(snapshot).is_relative_to(other) and (Path(snapshot) / "hello.ipynb").is_file()
    finally:
        again.close()

    # Nothing is ever overwritten; a file that is no backup says so.
    refused = run_workbench("restore", str(archive), env=base_env(other))
    assert refused.returncode == 1
    assert "restore into an empty home" in refused.stderr and "Traceback" not in refused.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    bad = run_workbench("restore", str(junk), env=base_env(tmp_path / "third"))
    assert bad.returncode == 1 and "is not a workbench backup" in bad.stderr
    assert json.loads(tarfile.open(archive).extractfile("manifest.json").read())["home"] == str(
        home
    )


def test_a_postgresql_metadata_db_is_dumped_and_restored(tmp_path: Path, pg_cluster) -> None:
    from workbench_server.backup import backup, restore

    with pg_cluster.fresh_database() as first, pg_cluster.fresh_database() as second:
        source = WorkbenchSettings.from_env(tmp_path / "a", db_url=first)
        source.workbench_home.prepare()
        core = Workbench(source)
        try:
            ConnectionService(core, local_principal()).create(
                ConnectionCreate(
                    name="ledger", settings=postgres_settings(first, password="s3cret")
                )
            )
        finally:
            core.close()
        archive = backup(source, tmp_path / "pg.tar.gz").archive
        with tarfile.open(archive) as tar:
            assert "metadata.pgdump" in tar.getnames()
        target = WorkbenchSettings.from_env(tmp_path / "b", db_url=second)
        restore(archive, target)
        again = Workbench(target)
        try:
            secret = ConnectionService(again, local_principal()).resolve("ledger").password
            assert secret.get_secret_value() == "s3cret"
        finally:
            again.close()
