"""A failed run as its users meet it: what failed and what was skipped because of it, the
failing cell as they count it, no retries for errors a retry cannot fix, and a repair
(once) that may run the fixed latest version and links the steps it reuses."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.receivers import smtp_server
from tests.support.servers import workbench_server
from workbench_pipelines.plan import RetryPlan
from workbench_pipelines.spec import DEFAULT_NON_RETRYABLE, PipelineSpec
from workbench_pipelines.spec_types import error_matches


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


# extract -> check -> report, extract -> side; check's retries would wait a minute each.
SPEC = """\
name: close
notifications:
  on_failure: ["email:controller@example.com"]
steps:
  - {id: report, notebook: ok.ipynb, kernel: python3, depends_on: [check]}
  - {id: extract, notebook: ok.ipynb, kernel: python3}
  - id: check
    notebook: check.ipynb
    kernel: python3
    depends_on: [extract]
    retries: {attempts: 3, backoff: 1m}
  - {id: side, notebook: ok.ipynb, kernel: python3, depends_on: [extract]}
"""


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", *path, **kwargs)
    return json.loads(response.body) if response.body else None


async def _finished(jp_fetch, run_id: str) -> dict:
    for _ in range(600):
        run = await _json(jp_fetch, "runs", run_id)
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        await asyncio.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def _check_notebook(path: Path, fixed: bool) -> None:
    # The author's notebook: a markdown title, the parameters, then the cells.
    write_notebook(path, "total = 10", "print(totl)" if not fixed else "print(total)")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Check the ledger"))
    nbformat.write(nb, path)


@pytest.mark.timeout(300)
async def test_failed_run_says_what_failed_and_repairs_once_on_the_latest_version(
    jp_fetch, jp_root_dir: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    flows = jp_root_dir / "flows"
    write_notebook(flows / "ok.ipynb", "print('ok')")
    _check_notebook(flows / "check.ipynb", fixed=False)
    (flows / "close.yaml").write_text(SPEC)
    deploy = {"method": "POST", "body": json.dumps({"path": "flows/close.yaml"})}
    with smtp_server() as mailbox:
        worker = spawn_worker(
            home, temporal_address, task_queue, extra_env={"WORKBENCH_SMTP_URL": mailbox.url}
        )
        try:
            await _json(jp_fetch, "pipelines", "deploy", **deploy)
            started = time.monotonic()
            run = await _json(jp_fetch, "pipelines", "close", "runs", method="POST", body="{}")
            run = await _finished(jp_fetch, run["id"])
            # A NameError cannot go away by waiting: one attempt, no minute of backoff.
            assert time.monotonic() - started < 50
            for _ in range(100):
                if mailbox.messages:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop_worker(worker)
    assert run["status"] == "failed"
    # report did not fail: it did not run because check failed.
    assert run["error"] == "failed: check; skipped because check failed: report"
    # Steps in the order they run (ties in the file's order), not alphabetically.
    steps = [(a["step_id"], a["attempt"], a["status"]) for a in run["attempts"]]
    assert steps == [
        ("extract", 1, "succeeded"),
        ("check", 1, "failed"),
        ("report", 0, "upstream_failed"),
        ("side", 1, "succeeded"),
    ]
    check = run["attempts"][1]
    # The author's 4th cell (title, parameters, total, print); more in the executed one.
    assert check["notebook_cell"] == 3
    executed = nbformat.read(check["output_notebook"], as_version=4)
    assert executed.cells[check["failing_cell"]].source == "print(totl)"
    assert check["error"] == (
        f"cell 4 of check.ipynb (cell {check['failing_cell'] + 1} in the executed notebook): "
        "NameError: name 'totl' is not defined (not retried: NameError is listed in "
        "retries.non_retryable)"
    )
    [mail] = mailbox.messages
    content = mail.get_content().replace("\r\n", "\n")
    assert "failed steps: check\n  check: cell 4 of check.ipynb" in content
    assert "skipped because a step they depend on failed: report (after check)" in content
    assert "failed steps: check, report" not in content

    # The notebook is fixed and deployed as version 2; repairing on it applies the fix.
    _check_notebook(flows / "check.ipynb", fixed=True)
    assert (await _json(jp_fetch, "pipelines", "deploy", **deploy))["version"] == 2
    worker = spawn_worker(home, temporal_address, task_queue)
    try:
        repair = await _json(
            jp_fetch, "runs", run["id"], "repair", method="POST", body='{"latest": true}'
        )
        assert (repair["version"], repair["repair_latest"]) == (2, True)
        assert repair["repair_of"] == run["id"]
        with pytest.raises(HTTPClientError) as twice:
            await jp_fetch("workbench", "api", "runs", run["id"], "repair", method="POST", body="")
        repair = await _finished(jp_fetch, repair["id"])
    finally:
        stop_worker(worker)
    assert twice.value.code == 409
    refusal = json.loads(twice.value.response.body)["message"]
    assert f"already repaired by run {repair['id']}" in refusal
    assert (await _json(jp_fetch, "runs", run["id"]))["repaired_by"] == repair["id"]

    assert repair["status"] == "succeeded", repair
    states = [(a["step_id"], a["status"]) for a in repair["attempts"]]
    assert states == [
        ("extract", "reused"),
        ("check", "succeeded"),
        ("report", "succeeded"),
        ("side", "reused"),
    ]
    # A reused step links the attempt that ran it, and its notebook opens from the repair.
    extract = repair["attempts"][0]
    assert extract["reused_from"] == {"run_id": run["id"], "attempt": 1}
    opened = await jp_fetch(
        "workbench", "api", "runs", repair["id"], "steps", "extract", "attempts", "0", "notebook"
    )
    original = nbformat.read(run["attempts"][0]["output_notebook"], as_version=4)
    assert nbformat.reads(opened.body.decode(), as_version=4) == original


def test_retries_name_the_errors_a_retry_cannot_fix() -> None:
    spec = PipelineSpec.model_validate(
        {
            "name": "p",
            "steps": [
                {"id": "a", "notebook": "a.ipynb"},
                {
                    "id": "b",
                    "notebook": "b.ipynb",
                    "retries": {"attempts": 3, "non_retryable": ["ValueError: ledger"]},
                },
                {"id": "c", "notebook": "c.ipynb", "retries": {"retry_on": ["OperationalError"]}},
            ],
        }
    )
    a, b, c = (step.retries for step in spec.steps)
    assert a.non_retryable == list(DEFAULT_NON_RETRYABLE) and a.retry_on is None
    assert error_matches(a.non_retryable, "KeyError", "'amount'")
    assert error_matches(a.non_retryable, "UsageError", "connection 'lake': Binder Error: x")
    assert not error_matches(a.non_retryable, "UsageError", "connection 'odoo': timeout")
    assert not error_matches(a.non_retryable, "ValueError", "ledger does not balance")
    assert error_matches(b.non_retryable, "ValueError", "ValueError: ledger does not balance")
    assert not error_matches(b.non_retryable, "KeyError", "'amount'")  # replaced the default
    assert c.retry_on == ["OperationalError"]
    with pytest.raises(ValueError, match="not a valid error"):
        PipelineSpec.model_validate(
            {
                "name": "p",
                "steps": [{"id": "a", "notebook": "a.ipynb", "retries": {"retry_on": ["x y"]}}],
            }
        )
    # What the worker is given.
    from datetime import date

    from workbench_server.pipelines.runs import build_plan

    class Version:
        snapshot_dir, version = "/snapshot", 1

    plan = build_plan(spec, Version(), "r", {}, date(2026, 10, 31), Path("/runs/r"))
    assert plan.steps[1].retries == RetryPlan(
        attempts=3,
        backoff_s=10.0,
        max_backoff_s=600.0,
        non_retryable=["ValueError: ledger"],
        retry_on=None,
    )
    assert plan.steps[2].retries.retry_on == ["OperationalError"]
