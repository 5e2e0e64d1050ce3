"""A real Prometheus (Debian's) scrapes a running workbench server and a worker.

After one run that succeeds and one that fails, PromQL over Prometheus' HTTP API gives
the right count per status, and the worker's own figures (notebook executions) are
there too; the shipped rules load and evaluate in this Prometheus. The pipeline has an
SLA, so its failure fires PipelineFailed, which reaches a real Alertmanager (Debian's,
with the shipped routing example) for the P1 receivers; the next run's success
resolves it in both.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import AsyncHTTPClient

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import terminate
from tests.support.servers import workbench_server
from workbench_server.supervisor import free_port

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "images" / "prometheus" / "workbench.rules.yml"
DASHBOARD = ROOT / "docs" / "grafana" / "workbench-dashboard.json"
ALERTMANAGER = ROOT / "images" / "prometheus" / "alertmanager.yml"
# Metrics of the dashboard that have no series in this test: nothing happened for them
# (no %sql query, SLA miss or risk, lineage consumer or notification; SQLite; a machine
# outside a container).
NOT_YET_SEEN = {
    "workbench_pipeline_sla_at_risk",
    "workbench_pipeline_sla_deadline_timestamp_seconds",
    "workbench_query_duration_seconds",
    "workbench_pipeline_sla_misses_total",
    "workbench_openlineage_events_total",
    "workbench_notifications_total",
    "workbench_postgres_connections_active",
    "workbench_container_memory_bytes",
    "workbench_container_cpu_seconds_total",
}
SPEC = """\
name: metered
parameters:
  fail: {type: boolean, default: false}
sla: {max_duration: 1h}
steps:
  - id: work
    notebook: work.ipynb
    kernel: python3
    parameters: {fail: "{{ params.fail }}"}
"""


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home, temporal_address=temporal_address, task_queue=task_queue, metrics_cache_seconds=1.0
    )


@pytest.fixture
def jp_base_url() -> str:
    """A base URL Prometheus can name: it escapes the path it is given (pytest-jupyter's
    "/a%40b/" would be asked for as "/a%2540b/")."""
    return "/wb/"


@pytest.fixture
def metered_worker(home: Path, temporal_address: str, task_queue: str) -> Iterator[int]:
    """A real worker serving its /metrics on a free loopback port (yields the port)."""
    port = free_port("127.0.0.1")
    proc = spawn_worker(
        home, temporal_address, task_queue, extra_env={"WORKBENCH_METRICS_PORT": str(port)}
    )
    yield port
    stop_worker(proc)


def start_prometheus(folder: Path, config: dict) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's Prometheus on a free loopback port with ``config``; its own data folder."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: `apt-get install prometheus` (.ci/run does)")
    (folder / "data").mkdir(parents=True)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port("127.0.0.1")
    log = (folder / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def start_alertmanager(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's Alertmanager with the shipped routing example, on a free loopback port
    (its receivers' secrets are absent: nothing is delivered, every alert is listed)."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail(
            "alertmanager is not installed: `apt-get install prometheus-alertmanager` "
            "(.ci/run does)"
        )
    folder.mkdir(parents=True)
    port = free_port("127.0.0.1")
    log = (folder / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={ALERTMANAGER}",
            f"--storage.path={folder}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    return proc, f"http://127.0.0.1:{port}"


async def fetch_json(url: str, **params: str) -> dict:
    from tornado.httputil import url_concat

    response = await AsyncHTTPClient().fetch(url_concat(url, params), raise_error=False)
    assert response.code == 200, (url, response.code, response.body[:300])
    return json.loads(response.body)


async def until(what: str, check, timeout: float, log: Path) -> object:
    """``await check()`` until it returns something true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (OSError, AssertionError) as exc:  # not up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.5)
    tail = await asyncio.to_thread(lambda: log.read_text(errors="replace")[-2000:])
    pytest.fail(f"{what} not within {timeout:g} s (last: {last!r})\n{tail}")


async def test_prometheus_counts_runs_per_status_from_server_and_worker(
    jp_fetch,
    jp_root_dir: Path,
    jp_http_port,
    jp_base_url,
    home: Path,
    metered_worker: int,
    tmp_path: Path,
) -> None:
    write_notebook(
        jp_root_dir / "flows" / "work.ipynb",
        "if fail:\n    raise RuntimeError('month not closed')",
        parameters="fail = False",
    )
    (jp_root_dir / "flows" / "metered.yaml").write_text(SPEC)
    await jp_fetch(
        "workbench",
        "api",
        "pipelines",
        "deploy",
        method="POST",
        body=json.dumps({"path": "flows/metered.yaml"}),
    )
    token_file = home / "metrics-token"
    alertmanager, am_url = start_alertmanager(tmp_path / "alertmanager")
    prometheus, url = start_prometheus(
        tmp_path / "prometheus",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [am_url.split("//")[1]]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "workbench",
                    "metrics_path": f"{jp_base_url}workbench/metrics",
                    "authorization": {"credentials_file": str(token_file)},
                    "static_configs": [{"targets": [f"127.0.0.1:{jp_http_port}"]}],
                },
                {
                    "job_name": "workbench-worker",
                    "authorization": {"credentials_file": str(token_file)},
                    "static_configs": [{"targets": [f"127.0.0.1:{metered_worker}"]}],
                },
            ],
        },
    )
    log = tmp_path / "prometheus" / "prometheus.log"
    try:
        await until(
            "Prometheus ready",
            lambda: AsyncHTTPClient().fetch(url + "/-/ready"),
            30,
            log,
        )

        async def query(promql: str) -> list[dict]:
            body = await fetch_json(url + "/api/v1/query", query=promql)
            assert body["status"] == "success", body
            return body["data"]["result"]

        async def both_up() -> bool:
            found = {r["metric"]["job"]: r["value"][1] for r in await query("up")}
            return found == {"workbench": "1", "workbench-worker": "1"}

        await until("both targets scraped", both_up, 60, log)

        async def run_pipeline(fail: bool) -> None:
            run = json.loads(
                (
                    await jp_fetch(
                        "workbench",
                        "api",
                        "pipelines",
                        "metered",
                        "runs",
                        method="POST",
                        body=json.dumps({"parameters": {"fail": fail}}),
                    )
                ).body
            )
            for _ in range(600):
                response = await jp_fetch("workbench", "api", "runs", run["id"])
                run = json.loads(response.body)
                if run["status"] in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.2)
            assert run["status"] == ("failed" if fail else "succeeded"), run

        for fail in (False, True):
            await run_pipeline(fail)

        async def per_status() -> dict[str, str] | None:
            result = await query('workbench_pipeline_runs_total{pipeline_name="metered"}')
            found = {r["metric"]["status"]: r["value"][1] for r in result}
            return found if found.get("failed") == "1" else None

        counts = await until("the runs in Prometheus", per_status, 60, log)
        assert counts == {"succeeded": "1", "failed": "1", "cancelled": "0"}
        assert {r["metric"]["job"] for r in await query("workbench_pipeline_runs_total")} == {
            "workbench"  # the history's totals come from the server only: never twice
        }

        async def notebooks() -> dict[str, str] | None:
            result = await query(
                'workbench_notebook_executions_total{kernel_type="python3",job="workbench-worker"}'
            )
            found = {r["metric"]["status"]: r["value"][1] for r in result}
            return found if len(found) == 2 else None

        executions = await until("the worker's notebook executions", notebooks, 30, log)
        assert executions == {"succeeded": "1", "failed": "1"}

        async def durations() -> list[tuple[str, str, str]] | None:
            # Observed when the worker records a run's end: just after its last step.
            # (The worker's own series: this test's server shares its process, and so
            # its default registry, with runs of earlier tests.)
            result = await query(
                'workbench_pipeline_run_duration_seconds_count{job="workbench-worker"}'
            )
            found = sorted(
                (r["metric"]["job"], r["metric"]["status"], r["value"][1]) for r in result
            )
            return found if len(found) >= 2 else None

        assert await until("the worker's run durations", durations, 30, log) == [
            ("workbench-worker", "failed", "1"),
            ("workbench-worker", "succeeded", "1"),
        ]
        memory = await query("process_resident_memory_bytes")
        assert {r["metric"]["job"] for r in memory} == {"workbench", "workbench-worker"}

        # The Grafana dashboard's queries all evaluate here, on metrics that exist.
        dashboard = json.loads(DASHBOARD.read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        assert len(exprs) >= 20
        for expr in exprs:
            await query(expr)
        names = set((await fetch_json(url + "/api/v1/label/__name__/values"))["data"])
        used = {n for e in exprs for n in re.findall(r"\b(?:workbench|process)_[a-z_]+", e)}
        used = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
        exported = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}
        assert used - exported <= NOT_YET_SEEN, used - exported - NOT_YET_SEEN

        rules = (await fetch_json(url + "/api/v1/rules"))["data"]["groups"][0]["rules"]
        assert sorted(r["name"] for r in rules) == [
            "CdcSlotLag",
            "DatasetFreshnessAtRisk",
            "DatasetFreshnessMissed",
            "DiskSpace",
            "HighErrorRate",
            "PipelineFailed",
            "PipelineSlaMissed",
            "ServiceDown",
            "SlaAtRisk",
            "SlowQueries",
        ]
        assert all(r["health"] == "ok" for r in rules), rules

        # The failed run of a pipeline with an SLA pages: PipelineFailed reaches
        # Alertmanager, routed to the P1 receivers.
        async def paged() -> list[dict] | None:
            alerts = await fetch_json(am_url + "/api/v2/alerts")
            found = [a for a in alerts if a["labels"]["alertname"] == "PipelineFailed"]
            return found or None

        (alert,) = await until("PipelineFailed in Alertmanager", paged, 60, log)
        assert alert["labels"]["pipeline_name"] == "metered"
        assert alert["labels"]["severity"] == "P1"
        assert alert["status"]["state"] == "active"
        assert sorted(r["name"] for r in alert["receivers"]) == ["chat", "pager-escalate"]

        # A run that succeeds resolves it, in Prometheus and in Alertmanager.
        await run_pipeline(False)

        async def resolved() -> bool:
            firing = await query('ALERTS{alertname="PipelineFailed"}')
            alerts = await fetch_json(am_url + "/api/v2/alerts", active="true")
            still = [a for a in alerts if a["labels"]["alertname"] == "PipelineFailed"]
            return not firing and not still

        await until("PipelineFailed resolved", resolved, 60, log)
    finally:
        terminate(prometheus, 15)
        terminate(alertmanager, 15)
