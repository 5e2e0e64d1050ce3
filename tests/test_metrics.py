"""/workbench/metrics and a worker's /metrics: Prometheus text behind the scrape token only.

A scrape without the token, or with a Jupyter login instead of it, gets nothing; the
scrape token opens nothing but the metrics. Run totals come from the run history, so a
server started afresh reports the runs its predecessor saw.
"""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from workbench_server.errors import ConfigurationError
from workbench_server.metrics.token import TOKEN_FILE, ScrapeToken


@pytest.fixture
def jp_server_config(home: Path):
    return {
        # Deny by default, as a locked-down server runs: the scrape must not need a login.
        "ServerApp": {
            "jpserver_extensions": {"workbench_server": True},
            "allow_unauthenticated_access": False,
        },
        "WorkbenchApp": {"home": str(home)},
    }


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by name and labels (parsed as Prometheus parses it)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_token_file_is_private_and_checked_in_full(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WORKBENCH_METRICS_TOKEN_FILE", raising=False)
    token = ScrapeToken.for_home(tmp_path / "home")
    path = tmp_path / "home" / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ScrapeToken.for_home(tmp_path / "home").token == token.token  # reused
    assert token.allows(f"Bearer {token.token}")
    assert token.allows(f"bearer  {token.token} ")
    for wrong in (None, "", token.token, f"token {token.token}", f"Bearer {token.token[:-1]}"):
        assert not token.allows(wrong), wrong
    # Rotated by rewriting the file: the old token stops working, no restart needed.
    old, new = token.token, "n" * 40
    path.write_text(new + "\n")
    os.utime(path, ns=(1, 1))  # a new modification time even within the same tick
    assert token.allows(f"Bearer {new}") and not token.allows(f"Bearer {old}")
    path.chmod(0o644)  # readable by others: every scrape refused until fixed
    os.utime(path, ns=(2, 2))
    assert not token.allows(f"Bearer {new}")
    with pytest.raises(ConfigurationError, match="chmod 600"):
        ScrapeToken.for_home(tmp_path / "home")
    path.chmod(0o600)
    os.utime(path, ns=(3, 3))
    assert token.allows(f"Bearer {new}")
    # A file named by the environment is used as it is, never created.
    monkeypatch.setenv("WORKBENCH_METRICS_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ScrapeToken.for_home(tmp_path / "home")


async def test_server_metrics_need_the_scrape_token_and_open_nothing_else(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header, home: Path
) -> None:
    from workbench_server.db.models import Notification, Pipeline, Run

    token = (home / TOKEN_FILE).read_text().strip()
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"

    async def get(path: str, headers: dict[str, str]):
        request = HTTPRequest(base + path, headers=headers, follow_redirects=False)
        return await client.fetch(request, raise_error=False)

    bearer = {"Authorization": f"Bearer {token}"}
    assert (await get("workbench/metrics", {})).code == 403
    assert (await get("workbench/metrics", dict(jp_auth_header))).code == 403
    assert (await get("workbench/metrics", {"Authorization": "Bearer " + "x" * 43})).code == 403
    # The scrape token is no login: the API, the contents and the kernels stay shut.
    for path in ("workbench/api/health", "api/contents", "api/kernels", "metrics"):
        assert (await get(path, bearer)).code in (401, 403), path

    # Runs in the history (as a worker records them) before this scrape.
    core = jp_serverapp.web_app.settings["workbench"]
    with core.sessions.begin() as session:
        pipeline = Pipeline(name="month_close", owner="me", current_version=1)
        session.add(pipeline)
        session.flush()
        for i, status in enumerate(("succeeded", "succeeded", "failed", "running")):
            ended = None if status == "running" else datetime(2026, 12, 1, i, tzinfo=UTC)
            session.add(
                Run(
                    id=f"run-{i}",
                    pipeline_id=pipeline.id,
                    version=1,
                    status=status,
                    trigger="manual",
                    parameters={},
                    logical_date="2026-12-01",
                    workflow_id=f"wf-{i}",
                    requested_by="me",
                    started_at=datetime(2026, 12, 1, tzinfo=UTC),
                    finished_at=ended,
                )
            )
        session.flush()
        session.add(
            Notification(run_id="run-2", event="failure", target="https://x", status="failed")
        )
    response = await get("workbench/metrics", bearer)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found = samples(response.body.decode())
    runs = (("pipeline_name", "month_close"),)
    assert found[("workbench_pipeline_runs_total", (*runs, ("status", "succeeded")))] == 2
    assert found[("workbench_pipeline_runs_total", (*runs, ("status", "failed")))] == 1
    assert found[("workbench_pipeline_runs_total", (*runs, ("status", "cancelled")))] == 0
    assert ("workbench_pipeline_runs_total", (*runs, ("status", "running"))) not in found
    assert found[("workbench_pipeline_runs_active", (*runs, ("status", "running")))] == 1
    # None queued: 0, not absent, so a chart of it never says "no data".
    assert found[("workbench_pipeline_runs_active", (*runs, ("status", "queued")))] == 0
    # The latest ended run (run-2, finished last) failed.
    assert found[("workbench_pipeline_last_run_success", runs)] == 0
    failure = (("event", "failure"), ("status", "failed"))
    assert found[("workbench_notifications_total", failure)] == 1
    home_disk = [v for (name, labels), v in found.items() if name == "workbench_disk_used_bytes"]
    assert home_disk and all(v > 0 for v in home_disk)
    assert found[("process_resident_memory_bytes", ())] > 10_000_000
    # jupyter-server's own metrics stay behind its own login.
    assert not any(name.startswith("http_request") for name, _ in found)


def test_worker_endpoint_serves_its_process_for_the_token_only(tmp_path: Path, monkeypatch) -> None:
    from workbench_server.metrics.exposition import METRICS_PORT_ENV, worker_metrics_server
    from workbench_server.metrics.instruments import step_finished

    monkeypatch.delenv("WORKBENCH_METRICS_TOKEN_FILE", raising=False)
    monkeypatch.setenv(METRICS_PORT_ENV, "0")
    server = worker_metrics_server(tmp_path)
    assert server is not None
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        token = (tmp_path / TOKEN_FILE).read_text().strip()
        url = f"http://127.0.0.1:{port}/metrics"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        step_finished("notebook", "workbench", "failed", 1.5)
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            found = samples(response.read().decode())
        key = (("kernel_type", "workbench"), ("status", "failed"))
        assert found[("workbench_notebook_executions_total", key)] >= 1
        step = (("status", "failed"), ("step_kind", "notebook"))
        assert found[("workbench_step_duration_seconds_count", step)] >= 1
        assert found[("process_cpu_seconds_total", ())] > 0
    finally:
        server.stop()
    monkeypatch.setenv(METRICS_PORT_ENV, "http")
    with pytest.raises(ConfigurationError, match="port number"):
        worker_metrics_server(tmp_path)


def test_openlineage_events_sent_and_failed_are_counted() -> None:
    from tests.support.receivers import webhook_receiver
    from workbench_server.lineage.openlineage import JobRun, LineageEmitter, RunState
    from workbench_server.metrics.instruments import REGISTRY
    from workbench_server.supervisor import free_port

    def count(status: str) -> float:
        return REGISTRY.get_sample_value("workbench_openlineage_events_total", {"status": status})

    def event():
        return JobRun("workbench", "close.gold", "0" * 32, "STEP").event(RunState.COMPLETE)

    sent, failed = count("sent") or 0, count("failed") or 0
    with webhook_receiver() as consumer:
        emitter = LineageEmitter({"type": "http", "url": consumer.url, "timeout": 5}, "workbench")
        assert emitter.emit(event()) and emitter.emit(event())
        emitter.close()
    assert len(consumer.received) == 2
    assert (count("sent"), count("failed") or 0) == (sent + 2, failed)
    down = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    retry = {"total": 1, "backoff_factor": 0.1}
    emitter = LineageEmitter({"type": "http", "url": down, "timeout": 2, "retry": retry}, "wb")
    assert emitter.emit(event())
    emitter.close()
    assert (count("sent"), count("failed")) == (sent + 2, failed + 1)


def test_query_types_are_a_small_known_set() -> None:
    from workbench_server.metrics.queries import query_type

    cases = {
        "SELECT 1": "select",
        "  (select 1)": "select",
        "with p as (select 1) select * from p": "select",
        "FROM silver.invoices": "select",
        "insert into t values (1)": "insert",
        "CREATE OR REPLACE TABLE t AS SELECT 1": "create",
        "desc t": "describe",
        "vacuum": "other",
        "pg_sleep_but_not_sql_at_all(); drop": "other",
        "": "other",
    }
    assert {sql: query_type(sql) for sql in cases} == cases


def test_container_cpu_and_memory_from_cgroup_v1_and_v2(tmp_path: Path) -> None:
    from workbench_server.metrics.cgroup import ROOT, CgroupCollector

    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.current").write_text("524288000\n")
    (v2 / "memory.max").write_text("max\n")
    (v2 / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    assert CgroupCollector(v2).figures() == (524288000, None, 2.5)
    (v2 / "memory.max").write_text("1073741824\n")
    assert CgroupCollector(v2).figures()[1] == 1073741824
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "cpuacct").mkdir()
    (v1 / "memory" / "memory.usage_in_bytes").write_text("4096\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (v1 / "cpuacct" / "cpuacct.usage").write_text("1500000000\n")
    assert CgroupCollector(v1).figures() == (4096, None, 1.5)
    assert list(CgroupCollector(tmp_path / "none").collect()) == []
    # This machine's own cgroup, as the endpoints export it.
    if (ROOT / "memory.current").exists() or (ROOT / "memory" / "memory.usage_in_bytes").exists():
        used, _, cpu = CgroupCollector().figures()
        assert used > 0 and cpu > 0


def test_db_totals_on_sqlite_and_postgresql(metadata) -> None:
    from workbench_server.db.models import Pipeline, Run
    from workbench_server.metrics.collectors import MetadataCollector

    day = datetime(2026, 12, 1, tzinfo=UTC)
    # (pipeline, status, hour it ended): close failed last, ledger succeeded last.
    ended = [("close", "succeeded", 1), ("close", "failed", 3), ("close", "cancelled", 2)]
    ended += [("ledger", "failed", 1), ("ledger", "succeeded", 2), ("ledger", "succeeded", 2)]
    with metadata.sessions.begin() as session:
        ids = {}
        for name in ("close", "ledger", "idle"):
            pipeline = Pipeline(name=name, owner="me", current_version=1)
            session.add(pipeline)
            session.flush()
            ids[name] = pipeline.id
        for number, (name, status, hour) in enumerate(ended):
            session.add(
                Run(
                    id=f"r{number}",
                    pipeline_id=ids[name],
                    version=1,
                    status=status,
                    trigger="manual",
                    parameters={},
                    logical_date="2026-12-01",
                    workflow_id=f"w{number}",
                    requested_by="me",
                    started_at=day,
                    finished_at=day.replace(hour=hour),
                )
            )
    figures = MetadataCollector(metadata, ttl=0).figures()
    assert figures is not None
    assert figures.runs[("close", "failed")] == figures.runs[("close", "cancelled")] == 1
    assert figures.runs[("ledger", "succeeded")] == 2
    assert figures.runs[("idle", "failed")] == 0  # there from deployment on
    assert figures.last_ok == {"close": 0, "ledger": 1}
    postgres = metadata.engine.dialect.name == "postgresql"
    assert (figures.pg_active is not None and figures.pg_active >= 1) == postgres
