"""What two signed-in users may do to each other's things, checked the same way in the
local hub (tests/test_hub.py) and in team mode (tests/test_hub_team.py)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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


# -- attacks through a user's own server (each refused) ----------------------------------

EVIL_DUCKDB = """\
import duckdb, json, os
path = os.path.abspath("evil.duckdb")
decoy = os.path.abspath("decoy.txt")
open(decoy, "w").write("harmless")
con = duckdb.connect(path)
con.execute("CREATE TABLE t AS SELECT 1 AS x")
con.execute("CREATE VIEW passwd AS SELECT * FROM read_text('/etc/passwd')")
con.execute(f"CREATE VIEW leak AS SELECT * FROM read_text('{decoy}')")
con.close()
os.remove(decoy)
os.symlink(%(secret)r, decoy)  # the view now points at the secret, through a link
print(json.dumps(path))
"""


def assert_duckdb_views_read_nothing_outside(hub: Hub, attacker: str, secret: str) -> None:
    """A DuckDB file of the attacker's with views over files outside it: the service
    previews its table and refuses the views, sending nothing of the files back."""
    path = json.loads(hub.run_in_kernel(attacker, EVIL_DUCKDB % {"secret": secret}).split()[-1])
    created = hub.workbench(
        attacker,
        "POST",
        "connections",
        json={"name": f"{attacker}_evil", "settings": {"kind": "duckdb", "path": path}},
    )
    assert created.status_code == 201, created.text
    scanned = hub.workbench(attacker, "POST", f"catalog/sources/{attacker}_evil/scans")
    assert scanned.status_code == 201, scanned.text
    listed = hub.workbench(attacker, "GET", f"catalog/tables?connection={attacker}_evil")
    tables = {t["name"]: t["id"] for t in listed.json()["items"]}
    table = hub.workbench(attacker, "GET", f"catalog/tables/{tables['t']}/preview")
    assert table.status_code == 200 and table.json()["rows"] == [[1]], table.text
    secret_text = Path(secret).read_text().strip()
    for view in ("passwd", "leak"):
        answer = hub.workbench(attacker, "GET", f"catalog/tables/{tables[view]}/preview")
        assert answer.status_code == 403, (view, answer.status_code, answer.text)
        assert "outside its DuckDB file" in answer.json()["message"]
        assert "root:" not in answer.text and secret_text not in answer.text


# A step runs in its version's snapshot, HOME/pipelines/NAME/vN; runs are in HOME/runs.
SWAP_LOG = """\
import os, pathlib
for log in (pathlib.Path.cwd().parents[2] / "runs").glob("*/first/attempt-1/output.log"):
    os.remove(log)
    os.symlink(%(secret)r, log)
"""


def assert_artifacts_are_never_read_through_links(hub: Hub, owner: str, secret: str) -> None:
    """A step swaps an earlier step's log for a link to a secret of the installation:
    asking for that log answers 404, never the secret."""
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('first')")])
    second = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(SWAP_LOG % {"secret": secret})]
    )
    for notebook in (first, second):
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    name = f"{owner}_swap"
    hub.put_files(
        owner,
        {
            f"{name}/first.ipynb": first,
            f"{name}/second.ipynb": second,
            f"{name}/pipeline.yaml": (
                f"name: {name}\nsteps:\n"
                "  - {id: first, notebook: first.ipynb, kernel: python3}\n"
                "  - {id: second, notebook: second.ipynb, kernel: python3, depends_on: [first]}\n"
            ),
        },
    )
    run = deploy_and_finish(hub, owner, name)
    answer = hub.workbench(owner, "GET", f"runs/{run['id']}/steps/first/attempts/1/log")
    assert answer.status_code == 404, answer.text
    assert Path(secret).read_text().strip() not in answer.text


def assert_denied_hosts_answer_alike(call: Call, listener_port: int, closed_port: int) -> None:
    """Connection tests to a denied address: an open and a closed port get the same
    answer (nothing tells them apart), and cloud metadata is denied by default."""
    answers = []
    for name, host, port in (
        ("probe_open", "127.0.0.2", listener_port),
        ("probe_closed", "127.0.0.2", closed_port),
        ("probe_metadata", "169.254.169.254", 5432),
    ):
        settings = {"kind": "postgres", "host": host, "port": port, "database": "x", "user": "x"}
        created = call("POST", "connections", json={"name": name, "settings": settings})
        assert created.status_code == 201, created.text
        tested = call("POST", f"connections/{name}/test")
        assert tested.status_code == 200, tested.text
        result = tested.json()
        assert (result["ok"], result["reason"]) == (False, "denied"), result
        answers.append(result["message"].replace(name, "NAME").replace(str(port), "PORT"))
    assert answers[0] == answers[1]


def assert_lineage_stays_out_of_others_namespaces(hub: Hub, owner: str, other: str) -> None:
    """``other``'s pipeline declares that it reads ``owner``'s private connection: after
    its run, ``owner``'s lineage of that connection shows nothing of it."""
    private = f"{owner}_books"
    created = hub.service(  # the service itself, with the owner's token: no server needed
        owner,
        "POST",
        "connections",
        json={"name": private, "settings": {"kind": "duckdb", "path": ":memory:"}},
    )
    assert created.status_code == 201, created.text
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    name = f"{other}_copies"
    hub.put_files(
        other,
        {
            f"{name}/copy.ipynb": notebook,
            f"{name}/pipeline.yaml": (
                f"name: {name}\nsteps:\n  - id: copy\n    notebook: copy.ipynb\n"
                f"    kernel: python3\n    inputs: [{private}.public.ledger]\n"
                f"    outputs: [lake.silver.{other}_copy]\n"
            ),
        },
    )
    deploy_and_finish(hub, other, name)
    graph = hub.service(
        owner,
        "GET",
        f"lineage?namespace={private}&name=public.ledger&direction=downstream",
    )
    assert graph.status_code == 404 or not graph.json()["edges"], graph.text
    # What other's run may record, it did: the edge stops at the lake.
    warned = hub.workbench(other, "GET", f"lineage/warnings?job={name}.copy")
    assert any(private in w["message"] for w in warned.json()), warned.text


def deploy_and_finish(hub: Hub, owner: str, folder: str, name: str | None = None) -> dict[str, Any]:
    """Deploy ``folder/pipeline.yaml`` (pipeline ``name``, default the folder's name) as
    ``owner`` through their server, run it and wait for it to succeed."""
    name = name or folder
    deployed = hub.workbench(
        owner, "POST", "pipelines/deploy", json={"path": f"{folder}/pipeline.yaml"}
    )
    assert deployed.status_code == 201, deployed.text
    started = hub.workbench(owner, "POST", f"pipelines/{name}/runs", json={})
    assert started.status_code == 201, started.text
    deadline = time.monotonic() + 120
    while (run := hub.workbench(owner, "GET", f"runs/{started.json()['id']}").json())[
        "status"
    ] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"run not finished: {run}"
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    return run


@contextmanager
def listening_on(host: str) -> Iterator[tuple[int, int]]:
    """A port something listens on at ``host``, and one where nothing does."""
    server = socket.create_server((host, 0))
    closed = socket.create_server((host, 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        yield server.getsockname()[1], closed_port
    finally:
        server.close()
