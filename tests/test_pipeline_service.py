"""Deploy, run, history and repair of pipelines through the `workbench pipeline` commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench

DIAMOND = """\
name: diamond
description: A -> B, C -> D
parameters:
  company:
    type: integer
    default: 1
steps:
  - id: a
    notebook: a.ipynb
    kernel: python3
    parameters: {{target: "{out}/a"}}
  - id: b
    notebook: sleepy.ipynb
    kernel: python3
    depends_on: [a]
    parameters: {{target: "{out}/b"}}
  - id: c
    notebook: sleepy.ipynb
    kernel: python3
    depends_on: [a]
    parameters: {{target: "{out}/c"}}
  - id: d
    notebook: d.ipynb
    kernel: python3
    depends_on: [b, c]
    parameters:
      target: "{out}/d"
      ds: "{{{{ ds }}}}"
      company: "{{{{ params.company }}}}"
"""


def _env(home: Path, temporal_address: str, task_queue: str) -> dict[str, str]:
    return base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }


def _write_diamond(folder: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    write_notebook(folder / "a.ipynb", "open(target, 'w').write('a')", parameters="target = ''")
    write_notebook(
        folder / "sleepy.ipynb",
        "import time\ntime.sleep(1)\nopen(target, 'w').write('x')",
        parameters="target = ''",
    )
    write_notebook(
        folder / "d.ipynb",
        "import json\nopen(target, 'w').write(json.dumps([ds, company, 'v1']))",
        parameters="target = ''\nds = ''\ncompany = 0",
    )
    spec = folder / "diamond.yaml"
    spec.write_text(DIAMOND.format(out=out))
    return spec


def test_deploy_run_and_snapshot(
    tmp_path: Path, home: Path, worker, temporal_address: str, task_queue: str
) -> None:
    env = _env(home, temporal_address, task_queue)
    src, out = tmp_path / "src", tmp_path / "out"
    spec = _write_diamond(src, out)
    deployed = run_workbench("pipeline", "deploy", str(spec), env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.startswith("diamond: deployed, version 1")
    again = run_workbench("pipeline", "deploy", str(spec), env=env)
    assert again.stdout.startswith("diamond: unchanged, version 1")

    # Editing a notebook after deploying does not change what runs.
    write_notebook(
        src / "d.ipynb",
        "raise RuntimeError('edited after deploy')",
        parameters="target = ''\nds = ''\ncompany = 0",
    )
    ran = run_workbench(
        "pipeline",
        "run",
        "diamond",
        "-p",
        "company=7",
        "--date",
        "2026-10-31",
        "--wait",
        env=env,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads((out / "d").read_text()) == ["2026-10-31", 7, "v1"]
    run_id = re.search(r"started run (\w+)", ran.stdout).group(1)
    shown = run_workbench("pipeline", "show", run_id, env=env)
    for step in "abcd":
        assert re.search(rf"^  {step}\s+#1  succeeded", shown.stdout, re.M), shown.stdout
    runs = run_workbench("pipeline", "runs", "diamond", env=env)
    assert run_id in runs.stdout and "succeeded" in runs.stdout
    executed = list((home / "runs" / run_id).rglob("*.ipynb"))
    assert len(executed) == 4
    assert all(nbformat.read(p, as_version=4).cells for p in executed)

    redeployed = run_workbench("pipeline", "deploy", str(spec), env=env)
    assert redeployed.stdout.startswith("diamond: deployed, version 2")


def test_invalid_spec_deploys_nothing(
    tmp_path: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    env = _env(home, temporal_address, task_queue)
    spec = _write_diamond(tmp_path / "src", tmp_path / "out")
    spec.write_text(spec.read_text().replace("depends_on: [b, c]", "depends_on: [b, x]"))
    result = run_workbench("pipeline", "deploy", str(spec), env=env)
    assert result.returncode == 1
    assert re.search(r"diamond\.yaml:\d+:\d+: steps\[3\]\.depends_on\[1\]: ", result.stderr)
    assert run_workbench("pipeline", "list", env=env).stdout.strip() == ""


def test_repair_reruns_only_failed_and_downstream(
    tmp_path: Path, home: Path, worker, temporal_address: str, task_queue: str
) -> None:
    env = _env(home, temporal_address, task_queue)
    src, flag = tmp_path / "src", tmp_path / "flag"
    write_notebook(src / "ok.ipynb", "print('ok ran')")
    write_notebook(
        src / "check.ipynb",
        "import os\nassert os.path.exists(flag), 'no flag'",
        parameters="flag = ''",
    )
    (src / "p.yaml").write_text(f"""\
name: fragile
steps:
  - {{id: extract, notebook: ok.ipynb, kernel: python3}}
  - {{id: side, notebook: ok.ipynb, kernel: python3, depends_on: [extract]}}
  - id: check
    notebook: check.ipynb
    kernel: python3
    depends_on: [extract]
    parameters: {{flag: "{flag}"}}
  - {{id: report, notebook: ok.ipynb, kernel: python3, depends_on: [check]}}
""")
    assert run_workbench("pipeline", "deploy", str(src / "p.yaml"), env=env).returncode == 0
    failed = run_workbench("pipeline", "run", "fragile", "--wait", env=env, timeout=300)
    assert failed.returncode == 1
    assert re.search(r"check\s+#1  failed .*AssertionError: no flag", failed.stdout), failed.stdout
    assert re.search(r"report\s+#0  upstream_failed", failed.stdout)
    run_id = re.search(r"started run (\w+)", failed.stdout).group(1)
    logs = run_workbench("pipeline", "logs", run_id, "extract", env=env)
    assert logs.returncode == 0 and "ok ran" in logs.stdout, logs.stdout + logs.stderr

    # Steps in the order they run (the DAG's), not alphabetically; report did not fail,
    # it was skipped because check failed.
    shown = run_workbench("pipeline", "show", run_id, env=env).stdout
    order = re.findall(r"^  (\w+)\s+#\d+  ", shown, re.M)
    assert order == ["extract", "side", "check", "report"], shown
    assert "  error: failed: check; skipped because check failed: report\n" in shown

    # The fix is in the notebook: deployed as version 2, the repair runs it.
    write_notebook(src / "check.ipynb", "print('checked')", parameters="flag = ''")
    assert run_workbench("pipeline", "deploy", str(src / "p.yaml"), env=env).returncode == 0
    repaired = run_workbench(
        "pipeline", "repair", run_id, "--latest", "--wait", env=env, timeout=300
    )
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"repair of {run_id} on the latest version" in repaired.stdout
    assert re.search(r"fragile v2 +succeeded", repaired.stdout), repaired.stdout
    states = dict(re.findall(r"^  (\w+)\s+#\d+  (\w+)", repaired.stdout, re.M))
    assert states == {
        "extract": "reused",
        "side": "reused",
        "check": "succeeded",
        "report": "succeeded",
    }
    assert re.search(rf"^  extract\s+#0  reused .*from run {run_id} #1$", repaired.stdout, re.M)
    repair_id = re.search(r"started repair run (\w+)", repaired.stdout).group(1)
    again = run_workbench("pipeline", "repair", run_id, env=env)
    assert again.returncode == 1
    assert f"already repaired by run {repair_id}" in again.stderr
