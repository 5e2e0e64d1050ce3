"""A critical pipeline that misses its SLA pages P1 (docs/observability.md): before, a
late run was flagged in the run history and told to the pipeline's own notifications,
but neither the built-in engine nor the Prometheus rules had an alert for it (a failed
critical pipeline paged; a late one did not). A real run on a real Temporal and worker
goes past its ``max_duration``: the engine pages while the run is still going, the
metric the Prometheus rule reads says so, and a later run in time resolves both."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from tests.support.receivers import webhook_receiver
from tests.support.waiting import running_engine, until
from workbench_server.alerts.engine import AlertEngine
from workbench_server.core import Workbench
from workbench_server.metrics.collectors import MetadataCollector
from workbench_server.settings import WorkbenchSettings

LATE = """\
name: month_close
sla: {{max_duration: 5s}}
steps:
  - {{id: close, notebook: close.ipynb, kernel: python3, parameters: {{seconds: {seconds}}}}}
"""


def _last_sla_missed(core: Workbench) -> dict[str, float]:
    collector = MetadataCollector(core, ttl=0)
    [family] = [m for m in collector.collect() if m.name == "workbench_pipeline_last_sla_missed"]
    return {s.labels["pipeline_name"]: s.value for s in family.samples}


@pytest.mark.timeout(400)
def test_a_late_critical_run_pages_p1_while_it_runs_and_resolves_after_one_in_time(
    tmp_path: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    interval = 1.0
    src = tmp_path / "src"
    write_notebook(
        src / "close.ipynb", "import time\ntime.sleep(seconds)", parameters="seconds = 0"
    )
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, task_queue=task_queue
    )
    settings.workbench_home.prepare()
    core = Workbench(settings)
    worker = spawn_worker(home, temporal_address, task_queue)
    try:
        with webhook_receiver() as hooks:
            (home / "alerts.yaml").write_text(
                f"""\
interval_seconds: {interval}
channels:
  pager: {{type: webhook, url: "{hooks.url}/pager", routing_key: rk}}
rules:
  - {{name: PipelineSlaMissed, kind: sla_missed, severity: P1, channels: [pager]}}
  - {{name: PipelineFailed, kind: pipeline_failed, severity: P1, channels: [pager]}}
"""
            )

            def pages() -> list[dict]:
                return [p for _, path, p in hooks.received if path == "/pager"]

            with running_engine(AlertEngine(core)):
                (src / "close.yaml").write_text(LATE.format(seconds=18))
                deployed = run_workbench("pipeline", "deploy", str(src / "close.yaml"), env=env)
                assert deployed.returncode == 0, deployed.stderr
                started = run_workbench("pipeline", "run", "month_close", env=env)
                assert started.returncode == 0, started.stderr
                run_id = started.stdout.split()[-1]
                [page] = until(pages, 90, "a page for the missed SLA")
                # Paged while the run is still going: 18 s of work against 5 s allowed.
                shown = run_workbench("pipeline", "show", run_id, env=env).stdout
                assert f"{run_id}  month_close v1  running" in shown, shown
                assert page["event_action"] == "trigger"
                assert page["payload"]["severity"] == "critical"
                assert page["payload"]["custom_details"] == {
                    "pipeline": "month_close",
                    "priority": "P1",
                }
                summary = page["payload"]["summary"]
                assert summary.startswith(
                    "[P1] FIRING PipelineSlaMissed: critical pipeline month_close missed its "
                    f"SLA: run {run_id} was not done by its deadline "
                ), summary
                assert summary.endswith("(is still running)"), summary
                assert _last_sla_missed(core) == {"month_close": 1.0}

                # The late run ends (succeeded, late): still missed, no second page.
                until(
                    lambda: (
                        "succeeded" in run_workbench("pipeline", "show", run_id, env=env).stdout
                    ),
                    120,
                    "the late run ended",
                )
                time.sleep(interval * 3)
                assert len(pages()) == 1, pages()

                # A run in time resolves it.
                (src / "close.yaml").write_text(LATE.format(seconds=0))
                deployed = run_workbench("pipeline", "deploy", str(src / "close.yaml"), env=env)
                assert deployed.returncode == 0, deployed.stderr
                ok = run_workbench("pipeline", "run", "month_close", "--wait", env=env, timeout=240)
                assert ok.returncode == 0, ok.stdout + ok.stderr
                assert "SLA missed" not in ok.stdout, ok.stdout
                until(lambda: len(pages()) == 2, interval + 15, "the resolve notice")
                assert pages()[1] == {
                    "routing_key": "rk",
                    "event_action": "resolve",
                    "dedup_key": page["dedup_key"],
                }
                assert _last_sla_missed(core) == {"month_close": 0.0}
    finally:
        stop_worker(worker)
        core.close()
