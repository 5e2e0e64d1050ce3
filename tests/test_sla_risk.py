"""A late or failed upstream run flags the pipelines downstream of it (by the datasets
they share) whose SLA it puts at risk, before their deadline, in /workbench/metrics; the
flag clears when the upstream pipeline succeeds. Real server, Temporal and worker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server

FINISH_BY = (datetime.now(UTC) + timedelta(hours=2)).strftime("%H:%M")
SPECS = {
    # load writes silver.invoices; report reads it and writes gold.report, which summary
    # reads; monthly reads something else.
    "load": """\
name: load
parameters:
  fail: {type: boolean, default: false}
steps:
  - id: extract
    notebook: work.ipynb
    kernel: python3
    parameters: {fail: "{{ params.fail }}"}
    outputs: [lake.silver.invoices]
""",
    "report": f"""\
name: report
sla: {{finish_by: "{FINISH_BY}"}}
steps:
  - id: build
    notebook: work.ipynb
    kernel: python3
    inputs: [lake.silver.invoices]
    outputs: [lake.gold.report]
""",
    "summary": """\
name: summary
sla: {max_duration: 30m}
steps:
  - {id: sum, notebook: work.ipynb, kernel: python3, inputs: [lake.gold.report]}
""",
    "monthly": f"""\
name: monthly
sla: {{finish_by: "{FINISH_BY}"}}
steps:
  - {{id: close, notebook: work.ipynb, kernel: python3, inputs: [lake.silver.ledger]}}
""",
}


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home, temporal_address=temporal_address, task_queue=task_queue, metrics_cache_seconds=0.2
    )


async def test_upstream_trouble_flags_downstream_slas_until_it_succeeds(
    jp_fetch, jp_serverapp, jp_root_dir: Path, jp_http_port, jp_base_url, home: Path, worker
) -> None:
    from workbench_server.db.models import Pipeline, Run

    write_notebook(
        jp_root_dir / "flows" / "work.ipynb",
        "if fail:\n    raise RuntimeError('no invoices today')",
        parameters="fail = False",
    )
    for name, spec in SPECS.items():
        (jp_root_dir / "flows" / f"{name}.yaml").write_text(spec)
        await jp_fetch(
            "workbench", "api", "pipelines", "deploy",
            method="POST", body=json.dumps({"path": f"flows/{name}.yaml"}),
        )  # fmt: skip
    token = (home / "metrics-token").read_text().strip()

    async def risks() -> dict[tuple[str, str, str], float]:
        await asyncio.sleep(0.3)  # past the server's cache
        response = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}workbench/metrics",
            headers={"Authorization": f"Bearer {token}"},
        )
        found = {}
        for family in text_string_to_metric_families(response.body.decode()):
            for s in family.samples:
                if family.name == "workbench_pipeline_sla_at_risk":
                    found[(s.labels["pipeline_name"], s.labels["upstream"], s.labels["reason"])] = 1
                elif family.name == "workbench_pipeline_sla_deadline_timestamp_seconds":
                    found[(s.labels["pipeline_name"], "deadline", "")] = s.value
        return found

    async def run(pipeline: str, fail: bool) -> None:
        body = json.dumps({"parameters": {"fail": fail}} if pipeline == "load" else {})
        started = json.loads(
            (
                await jp_fetch(
                    "workbench", "api", "pipelines", pipeline, "runs", method="POST", body=body
                )
            ).body
        )
        for _ in range(600):
            state = json.loads((await jp_fetch("workbench", "api", "runs", started["id"])).body)
            if state["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.2)
        assert state["status"] == ("failed" if fail else "succeeded"), state

    assert await risks() == {}
    await run("load", fail=True)
    found = await risks()
    deadline = found.pop(("report", "deadline", ""))
    assert found == {("report", "load", "failed"): 1, ("summary", "load", "failed"): 1}
    # Flagged before report's deadline: its next finish_by, about two hours from now.
    assert 0 < deadline - datetime.now(UTC).timestamp() <= 2 * 3600 + 60
    # The same, for the panels and the CLI, over REST.
    listed = json.loads((await jp_fetch("workbench", "api", "sla", "at-risk")).body)
    assert [(r["pipeline"], r["upstream"], r["reason"]) for r in listed] == [
        ("report", "load", "failed"),
        ("summary", "load", "failed"),
    ]
    due = {r["pipeline"]: r["deadline"] for r in listed}
    assert datetime.fromisoformat(due["report"]).timestamp() == pytest.approx(deadline)
    assert due["summary"] is None  # max_duration only, and no run yet

    # report succeeding on its own does not clear summary: load is still in trouble.
    await run("report", fail=False)
    assert await risks() == {("summary", "load", "failed"): 1}

    await run("load", fail=False)
    assert await risks() == {}

    # A run still going past its own deadline is trouble too: "late".
    core = jp_serverapp.web_app.settings["workbench"]
    with core.sessions.begin() as session:
        load = session.query(Pipeline).filter_by(name="load").one()
        session.add(
            Run(
                id="late-run",
                pipeline_id=load.id,
                version=1,
                status="running",
                trigger="manual",
                parameters={},
                logical_date="2026-12-01",
                workflow_id="late-run",
                requested_by="me",
                started_at=datetime.now(UTC) - timedelta(hours=1),
                sla_deadline=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
    # summary has not succeeded since load's deadline passed; report has (just above).
    assert await risks() == {("summary", "load", "late"): 1}
