"""What two signed-in users may do to each other's things, checked the same way in the
local hub (tests/test_hub.py) and in team mode (tests/test_hub_team.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import nbformat
import requests

from tests.support.hub import Hub

Call = Callable[..., requests.Response]  # (method, path, **requests kwargs)

PIPELINE = """\
name: {name}
access:
  viewers: [auditors]
steps:
  - id: books
    notebook: books.ipynb
    kernel: python3
"""


def private_pipeline(hub: Hub, owner: str, name: str) -> dict[str, Any]:
    """``owner`` deploys a pipeline through their server and runs it to the end; returns
    the finished run. Its executed notebook holds a line only the owner should read."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f"print('{owner} private ledger: 1234.56')")]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    hub.put_files(
        owner,
        {f"{name}/books.ipynb": notebook, f"{name}/pipeline.yaml": PIPELINE.format(name=name)},
    )
    deployed = hub.workbench(
        owner, "POST", "pipelines/deploy", json={"path": f"{name}/pipeline.yaml"}
    )
    assert deployed.status_code == 201, deployed.text
    started = hub.workbench(owner, "POST", f"pipelines/{name}/runs", json={})
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        run = hub.workbench(owner, "GET", f"runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"run not finished: {run}"
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    assert run["requested_by"] == owner
    notebook_path = f"runs/{run_id}/steps/books/attempts/1/notebook"
    own = hub.workbench(owner, "GET", notebook_path)
    assert own.status_code == 200 and f"{owner} private ledger" in own.text
    return run


def assert_runs_are_out_of_reach(other: Call, run: dict[str, Any]) -> None:
    """``other`` (not the owner, in no group the pipeline is shared with) can neither see
    the pipeline or its run, nor read its artifacts, nor start, cancel or repair."""
    name, run_id = run["pipeline"], run["id"]
    listed = other("GET", "pipelines")
    assert listed.status_code == 200 and name not in {p["name"] for p in listed.json()}
    for query in ("runs", f"runs?pipeline={name}"):
        runs = other("GET", query)
        assert runs.status_code == 200 and run_id not in {r["id"] for r in runs.json()}, runs.text
    for method, path, body in (
        ("GET", f"pipelines/{name}", None),
        ("GET", f"runs/{run_id}", None),
        ("GET", f"runs/{run_id}/steps/books/attempts/1/notebook", None),
        ("GET", f"runs/{run_id}/steps/books/attempts/1/log", None),
        ("POST", f"pipelines/{name}/runs", {"parameters": {}}),
        ("POST", f"runs/{run_id}/cancel", None),
        ("POST", f"runs/{run_id}/repair", None),
        ("GET", f"pipelines/{name}/schedule", None),
    ):
        answer = other(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert "private ledger" not in answer.text


def assert_viewers_read_but_do_not_run(viewer: Call, run: dict[str, Any]) -> None:
    """A member of the pipeline's ``access.viewers`` group reads its runs, not more."""
    name, run_id = run["pipeline"], run["id"]
    deadline = time.monotonic() + 20  # group changes reach the service after its cache
    while viewer("GET", f"runs/{run_id}").status_code != 200:
        assert time.monotonic() < deadline, "the viewer never saw the run"
        time.sleep(0.3)
    notebook = viewer("GET", f"runs/{run_id}/steps/books/attempts/1/notebook")
    assert notebook.status_code == 200 and "private ledger" in notebook.text
    for method, path in (
        ("POST", f"pipelines/{name}/runs"),
        ("POST", f"runs/{run_id}/repair"),
    ):
        answer = viewer(method, path, json={} if path.endswith("/runs") else None)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "access.operators" in answer.json()["message"]
