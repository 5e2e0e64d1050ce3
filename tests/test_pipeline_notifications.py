"""SLA deadlines and notifications: a late run is flagged while it runs, ends are announced."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from tests.support.receivers import smtp_server, webhook_receiver
from workbench_pipelines.spec import PipelineSpec
from workbench_server.pipelines.runs import RunService, sla_deadline
from workbench_server.principal import local_principal


def _spec(sla: dict[str, str], timezone: str = "Europe/Brussels") -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": "close",
            "schedule": {"cron": "0 6 * * *", "timezone": timezone},
            "sla": sla,
            "steps": [{"id": "a", "notebook": "a.ipynb"}],
        }
    )


def test_sla_deadline_is_the_next_finish_by_or_the_max_duration_whichever_is_first() -> None:
    # 06:00 in Brussels (winter, UTC+1) is 05:00 UTC; due at 09:00 local = 08:00 UTC.
    started = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert sla_deadline(_spec({"finish_by": "09:00"}), started) == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC
    )
    # A run that starts after today's finish_by is due at the same time tomorrow.
    late = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert sla_deadline(_spec({"finish_by": "09:00"}), late) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )
    both = _spec({"finish_by": "09:00", "max_duration": "1h"})
    assert sla_deadline(both, started) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    # Summer time moves the same wall-clock deadline an hour earlier in UTC.
    summer = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
    assert sla_deadline(_spec({"finish_by": "09:00"}), summer) == datetime(
        2026, 7, 1, 7, 0, tzinfo=UTC
    )
    no_sla = PipelineSpec.model_validate(
        {"name": "x", "steps": [{"id": "a", "notebook": "a.ipynb"}]}
    )
    assert sla_deadline(no_sla, started) is None


LATE = """\
name: late_close
sla: {{max_duration: 3s}}
notifications:
  on_sla_miss: ["webhook:{hooks}/sla"]
  on_success: ["webhook:{hooks}/done", "webhook:{hooks}/fail", "email:controller@example.com"]
  on_failure: ["email:controller@example.com"]
steps:
  - {{id: slow, notebook: slow.ipynb, kernel: python3, parameters: {{fail: {fail}}}}}
"""


@pytest.mark.timeout(300)
def test_late_run_is_flagged_while_running_and_its_end_is_announced(
    tmp_path: Path, home: Path, workbench, temporal_address: str, task_queue: str
) -> None:
    src = tmp_path / "src"
    # Slow past its 3 s SLA when it succeeds; the failing run that follows only has to
    # fail, and does so at once.
    write_notebook(
        src / "slow.ipynb",
        "import time\ntime.sleep(0 if fail else 8)",
        "if fail:\n    raise ValueError('ledger does not balance')",
        parameters="fail = False",
    )
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    with webhook_receiver() as hooks, smtp_server() as mailbox:
        worker = spawn_worker(
            home, temporal_address, task_queue, extra_env={"WORKBENCH_SMTP_URL": mailbox.url}
        )
        try:
            (src / "late.yaml").write_text(LATE.format(hooks=hooks.url, fail="false"))
            assert (
                run_workbench("pipeline", "deploy", str(src / "late.yaml"), env=env).returncode == 0
            )
            ran = run_workbench("pipeline", "run", "late_close", "--wait", env=env, timeout=240)
            # A webhook that answers 500 is recorded but does not fail the run.
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert "SLA missed" in ran.stdout
            assert re.search(
                r"notify success +webhook:\S+/fail: failed +the webhook answered HTTP 500",
                ran.stdout,
            ), ran.stdout
            run_id = re.search(r"started run (\w+)", ran.stdout).group(1)
            run = RunService(workbench, local_principal()).get(run_id)

            sla_posts = [(t, p) for t, path, p in hooks.received if path == "/sla"]
            assert len(sla_posts) == 1
            arrived, payload = sla_posts[0]
            assert (payload["event"], payload["status"], payload["run_id"]) == (
                "sla_miss",
                "running",
                run_id,
            )
            # Announced while the run was still going, a few seconds after its deadline.
            finished = run.finished_at.replace(tzinfo=UTC).timestamp()
            deadline = run.sla_deadline.replace(tzinfo=UTC).timestamp()
            assert deadline <= arrived < finished - 2
            assert run.sla_missed_at is not None
            assert [p["event"] for _, path, p in hooks.received if path == "/done"] == ["success"]
            outcome = {
                (n.target.rsplit("/", 1)[-1], n.status, n.attempts) for n in run.notifications
            }
            assert outcome == {
                ("sla", "sent", 1),
                ("done", "sent", 1),
                ("fail", "failed", 3),
                ("email:controller@example.com", "sent", 1),
            }
            [mail] = mailbox.messages
            assert mail["To"] == "controller@example.com"
            assert mail["Subject"] == f"[workbench] late_close run for {date.today()} succeeded"

            # A failing run tells the same controller what went wrong.
            (src / "late.yaml").write_text(LATE.format(hooks=hooks.url, fail="true"))
            assert (
                run_workbench("pipeline", "deploy", str(src / "late.yaml"), env=env).returncode == 0
            )
            failed = run_workbench("pipeline", "run", "late_close", "--wait", env=env, timeout=240)
            assert failed.returncode == 1
            for _ in range(50):
                if len(mailbox.messages) == 2:
                    break
                time.sleep(0.1)
            failure = mailbox.messages[1]
            assert failure["Subject"].endswith("failed")
            assert "ValueError: ledger does not balance" not in failure["Subject"]
            assert "failed steps: slow" in failure.get_content()
        finally:
            stop_worker(worker)
