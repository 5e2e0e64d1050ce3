"""Notebook steps use the connections of the pipeline's owner, like interactive kernels."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC
from pathlib import Path

import psycopg
import pytest

from tests.support.notebooks import write_notebook
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.db.models import Run
from workbench_server.lineage.service import LineageService
from workbench_server.principal import Principal, local_principal

STEP = """\
import json, os, psutil
r = %sql finance SELECT count(*) AS n FROM account_move WHERE state = 'posted'
%sql lake CREATE TABLE posted AS SELECT id, partner_id FROM finance.public.account_move
try:
    get_ipython().run_line_magic("sql", "private SELECT 1")
    private = "usable"
except Exception as exc:
    private = str(exc)
open(target, "w").write(json.dumps({
    "posted": int(r.DataFrame()["n"][0]),
    "private": private,
    "worker_db_url_visible": "WORKBENCH_DB_URL" in os.environ,
    "api": os.environ.get("WORKBENCH_API_URL"),
    "token": os.environ.get("WORKBENCH_KERNEL_TOKEN"),
    "kernel_started": psutil.Process().create_time(),
}))
"""


@pytest.mark.timeout(300)
def test_step_kernel_gets_owner_connections_only_while_it_runs(
    tmp_path: Path,
    home: Path,
    workbench,
    worker,
    odoo_db: str,
    temporal_address: str,
    task_queue: str,
) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="finance", settings=postgres_settings(odoo_db))
    )
    ConnectionService(workbench, Principal(name="someone-else")).create(
        ConnectionCreate(name="private", settings=postgres_settings(odoo_db))
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("finance")
    src, out = tmp_path / "src", tmp_path / "out.json"
    nb = write_notebook(src / "count.ipynb", STEP, parameters="target = ''")
    (src / "p.yaml").write_text(
        f"name: uses_connections\nsteps:\n  - {{id: count, notebook: {nb.name}, "
        f'parameters: {{target: "{out}"}}, inputs: [finance.public.account_move, '
        f"finance.public.res_partner], outputs: [lake.posted]}}\n"
    )
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    assert run_workbench("pipeline", "deploy", str(src / "p.yaml"), env=env).returncode == 0
    ran = run_workbench("pipeline", "run", "uses_connections", "--wait", env=env, timeout=240)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = json.loads(out.read_text())

    with psycopg.connect(odoo_db) as db:
        posted = db.execute("SELECT count(*) FROM account_move WHERE state = 'posted'").fetchone()
    assert seen["posted"] == posted[0] > 0
    # Another user's connection does not exist for this run, by name or otherwise.
    assert re.search(r"no connection named 'private'", seen["private"]), seen["private"]
    assert seen["worker_db_url_visible"] is False
    # The step's two queries (direct, and through the lake) count as usage, for search.
    assert catalog.find("finance", "public", "account_move").usage_count == 2
    # The step's SQL left lineage under the job <pipeline>.<step> and the run.
    # Declared inputs count too, even one the SQL never names (res_partner).
    lineage = LineageService(workbench, local_principal()).graph("lake", "posted", depth=1)
    run_id = re.search(r"started run (\w+)", ran.stdout).group(1)
    assert {(e.source.namespace, e.source.name, e.job, e.run_id) for e in lineage.edges} == {
        ("finance", "public.account_move", "uses_connections.count", run_id),
        ("finance", "public.res_partner", "uses_connections.count", run_id),
    }
    # Each dataset links to its catalog entry (the scanned finance tables).
    tables = {e.source.name: e.source.table_id for e in lineage.edges}
    assert tables["public.account_move"] == catalog.find("finance", "public", "account_move").id
    assert lineage.root.table_id is None  # a session table of the lake, not in the catalog
    # The token worked while the step ran and is refused now that it has finished.
    assert seen["api"].startswith("http://127.0.0.1:")
    request = urllib.request.Request(
        seen["api"] + "/workbench/api/kernel/connections",
        headers={"Authorization": f"WorkbenchKernel {seen['token']}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403

    # The next run's step gets the kernel the worker started ahead (before that run was
    # asked for), with this run's own token and the same connections, and nothing else.
    again = run_workbench("pipeline", "run", "uses_connections", "--wait", env=env, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    second = json.loads(out.read_text())
    with workbench.sessions() as session:
        asked = session.get(Run, re.search(r"started run (\w+)", again.stdout).group(1))
        asked_at = asked.created_at.replace(tzinfo=asked.created_at.tzinfo or UTC)
    assert second["kernel_started"] < asked_at.timestamp()
    assert second["posted"] == seen["posted"]
    assert second["private"] == seen["private"]
    assert second["worker_db_url_visible"] is False
    assert second["token"] and second["token"] != seen["token"]
