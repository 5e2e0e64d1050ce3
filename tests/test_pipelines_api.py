"""REST /workbench/api/pipelines and /runs against a real server, Temporal and worker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


SPEC = """\
name: hello
parameters:
  who: {type: string, default: world}
steps:
  - id: greet
    notebook: greet.ipynb
    kernel: python3
    parameters: {who: "{{ params.who }}", ds: "{{ ds }}"}
"""


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", *path, **kwargs)
    return json.loads(response.body) if response.body else None


async def test_validate_deploy_run_and_read_the_executed_notebook(
    jp_fetch, jp_root_dir: Path, worker
) -> None:
    write_notebook(
        jp_root_dir / "flows" / "greet.ipynb",
        "print(f'hello {who} on {ds}')",
        parameters="who = ''\nds = ''",
    )
    (jp_root_dir / "flows" / "hello.yaml").write_text(SPEC)

    broken = SPEC.replace("kernel: python3", "kernel: python3\n    depends_on: [nope]")
    checked = await _json(
        jp_fetch,
        "pipelines",
        "validate",
        method="POST",
        body=json.dumps({"text": broken, "path": "flows/hello.yaml"}),
    )
    assert checked["valid"] is False
    assert [(e["line"], e["path"]) for e in checked["errors"]] == [(8, "steps[0].depends_on[0]")]

    with pytest.raises(HTTPClientError) as outside:
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "deploy",
            method="POST",
            body=json.dumps({"path": "../../etc/passwd"}),
        )
    assert outside.value.code == 400

    deployed = await _json(
        jp_fetch,
        "pipelines",
        "deploy",
        method="POST",
        body=json.dumps({"path": "flows/hello.yaml"}),
    )
    assert (deployed["name"], deployed["version"]) == ("hello", 1)
    listed = await _json(jp_fetch, "pipelines")
    assert [p["name"] for p in listed] == ["hello"]
    # What the panel draws and its run dialog starts from.
    assert listed[0]["depends_on"] == {"greet": []}
    assert listed[0]["parameters"]["who"]["default"] == "world"

    run = await _json(
        jp_fetch,
        "pipelines",
        "hello",
        "runs",
        method="POST",
        body=json.dumps({"parameters": {"who": "finance"}, "logical_date": "2026-10-31"}),
    )
    for _ in range(300):
        run = await _json(jp_fetch, "runs", run["id"])
        if run["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "succeeded", run
    executed = await jp_fetch(
        "workbench", "api", "runs", run["id"], "steps", "greet", "attempts", "1", "notebook"
    )
    assert executed.headers["Content-Type"] == "application/x-ipynb+json"
    notebook = json.loads(executed.body)
    printed = ["".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", [])]
    assert "hello finance on 2026-10-31\n" in printed
    log = await jp_fetch(
        "workbench", "api", "runs", run["id"], "steps", "greet", "attempts", "1", "log"
    )
    assert log.headers["Content-Type"].startswith("text/plain"), (log.code, log.body[:300])
    assert "hello finance on 2026-10-31" in log.body.decode()
    tail = await jp_fetch(
        "workbench",
        "api",
        "runs",
        run["id"],
        "steps",
        "greet",
        "attempts",
        "1",
        "log",
        params={"tail": "8"},
    )
    assert tail.body.decode() == log.body.decode()[-8:]
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch(
            "workbench", "api", "runs", run["id"], "steps", "greet", "attempts", "9", "log"
        )
    assert missing.value.code == 404
    runs = await _json(jp_fetch, "runs", params={"pipeline": "hello"})
    assert [r["id"] for r in runs] == [run["id"]]


async def test_bad_run_parameters_are_a_400_naming_the_field(jp_fetch, jp_root_dir: Path) -> None:
    write_notebook(jp_root_dir / "greet.ipynb", "x = 1", parameters="who = ''\nds = ''")
    (jp_root_dir / "hello.yaml").write_text(
        SPEC.replace("type: string", "type: integer").replace("default: world", "default: 1")
    )
    await jp_fetch(
        "workbench",
        "api",
        "pipelines",
        "deploy",
        method="POST",
        body=json.dumps({"path": "hello.yaml"}),
    )
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "hello",
            "runs",
            method="POST",
            body=json.dumps({"parameters": {"who": "not a number"}}),
        )
    assert info.value.code == 400
    assert "who" in json.loads(info.value.response.body)["message"]


async def test_schedule_state_pause_and_resume_over_rest(jp_fetch, jp_root_dir: Path) -> None:
    write_notebook(jp_root_dir / "nightly" / "tick.ipynb", "print(ds)", parameters="ds = ''")
    (jp_root_dir / "nightly" / "p.yaml").write_text(
        "name: nightly_close\nschedule:\n  cron: '0 3 * * *'\n"
        "steps:\n  - {id: tick, notebook: tick.ipynb}\n"
    )
    await _json(
        jp_fetch, "pipelines", "deploy", method="POST", body=json.dumps({"path": "nightly/p.yaml"})
    )
    state = await _json(jp_fetch, "pipelines", "nightly_close", "schedule")
    assert state["paused"] is False and len(state["next_runs"]) == 5
    assert state["may_change"] is True  # the panel shows the buttons to owners and admins
    assert all(run.endswith("+00:00") and "T03:00:00" in run for run in state["next_runs"])
    paused = await _json(
        jp_fetch, "pipelines", "nightly_close", "schedule", "pause", method="POST", body=b""
    )
    assert paused["paused"] is True
    resumed = await _json(
        jp_fetch, "pipelines", "nightly_close", "schedule", "resume", method="POST", body=b""
    )
    assert resumed["paused"] is False
    (jp_root_dir / "nightly" / "adhoc.yaml").write_text(
        "name: adhoc\nsteps:\n  - {id: tick, notebook: tick.ipynb}\n"
    )
    await _json(
        jp_fetch,
        "pipelines",
        "deploy",
        method="POST",
        body=json.dumps({"path": "nightly/adhoc.yaml"}),
    )
    with pytest.raises(HTTPClientError) as unscheduled:
        await _json(jp_fetch, "pipelines", "adhoc", "schedule", "pause", method="POST", body=b"")
    assert unscheduled.value.code == 404
    assert "has no schedule" in json.loads(unscheduled.value.response.body)["message"]


async def test_a_bundle_deploys_like_a_file_and_its_paths_stay_inside(
    jp_fetch, home: Path, tmp_path: Path
) -> None:
    """What a user's server sends the workbench service in a hub (it cannot read the
    user's files): the pipeline YAML and its notebooks."""
    notebook = write_notebook(tmp_path / "steps" / "greet.ipynb", "x = 1", parameters="who = ''")
    spec = SPEC.replace("greet.ipynb", "steps/greet.ipynb")
    bundle = {"file": "flows/hello.yaml", "spec": spec, "notebooks": {}}
    bundle["notebooks"]["steps/greet.ipynb"] = notebook.read_text()
    deployed = await _json(
        jp_fetch, "pipelines", "deploy", method="POST", body=json.dumps({"bundle": bundle})
    )
    assert (deployed["name"], deployed["version"]) == ("hello", 1)
    assert (await _json(jp_fetch, "pipelines", "hello"))["steps"] == ["greet"]
    snapshot = home / "pipelines" / "hello" / "v1"  # what the worker will run
    assert (snapshot / "steps" / "greet.ipynb").read_text() == notebook.read_text()

    async def refused(bundle: dict) -> str:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "workbench",
                "api",
                "pipelines",
                "deploy",
                method="POST",
                body=json.dumps({"bundle": bundle}),
            )
        assert info.value.code == 400
        return json.loads(info.value.response.body)["message"]

    escape = {**bundle, "notebooks": {"../../escaped.ipynb": notebook.read_text()}}
    assert "must be relative and stay inside the folder" in await refused(escape)
    missing = {**bundle, "notebooks": {}}  # the spec names a notebook the bundle lacks
    message = await refused(missing)
    assert message.startswith("flows/hello.yaml:") and "steps/greet.ipynb" in message


async def test_a_decimal_parameter_over_rest_is_exact_or_refused_by_name(
    jp_fetch, jp_root_dir: Path, worker
) -> None:
    """Issue 17: an amount sent as JSON text keeps its digits in run history and reaches
    the notebook as a Decimal; NaN (which Python's JSON reads) and non-numbers are a 400
    naming the parameter."""
    write_notebook(
        jp_root_dir / "pay" / "pay.ipynb",
        "assert type(amount) is Decimal and amount == Decimal('1234567.10'), repr(amount)",
        parameters="amount = 0",
    )
    (jp_root_dir / "pay" / "pay.yaml").write_text(
        "name: pay\nparameters:\n  amount: {type: decimal, default: '0.10'}\nsteps:\n"
        "  - {id: pay, notebook: pay.ipynb, kernel: python3, "
        'parameters: {amount: "{{ params.amount }}"}}\n'
    )
    await _json(
        jp_fetch, "pipelines", "deploy", method="POST", body=json.dumps({"path": "pay/pay.yaml"})
    )
    listed = await _json(jp_fetch, "pipelines")
    declared = listed[0]["parameters"]["amount"]  # what the run form starts from
    assert (declared["type"], declared["default"]) == ("decimal", "0.10")
    for bad in ('"NaN"', "NaN", '"12,50"', "true"):
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch(
                "workbench",
                "api",
                "pipelines",
                "pay",
                "runs",
                method="POST",
                body='{"parameters": {"amount": ' + bad + "}}",
            )
        assert refused.value.code == 400, bad
        message = json.loads(refused.value.response.body)["message"]
        assert "run parameter 'amount': expected an exact decimal number" in message, message
    run = await _json(
        jp_fetch,
        "pipelines",
        "pay",
        "runs",
        method="POST",
        body=json.dumps({"parameters": {"amount": "1234567.10"}}),
    )
    for _ in range(300):
        run = await _json(jp_fetch, "runs", run["id"])
        if run["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "succeeded", run
    assert run["parameters"] == {"amount": "1234567.10"}
