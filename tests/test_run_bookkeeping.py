"""A scheduled run's bookkeeping may be asked twice for one workflow (a local activity
runs again when its workflow task is retried): it still records one run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.support.notebooks import write_notebook
from workbench_server.db.models import Run
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal

SCHEDULER = Principal(name="scheduler", admin=True)
SPEC = """\
name: nightly
steps:
  - id: only
    notebook: only.ipynb
    kernel: python3
"""


def test_preparing_a_workflow_s_run_twice_records_it_once(workbench, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_notebook(folder / "only.ipynb", "print('ok')")
    (folder / "nightly.yaml").write_text(SPEC)
    PipelineRegistry(workbench, Principal(name="alice")).deploy(folder / "nightly.yaml")
    runs = RunService(workbench, SCHEDULER)

    first, wid = runs.prepare("nightly", trigger="schedule", workflow_id="run-nightly-abc")
    again, same = runs.prepare("nightly", trigger="schedule", workflow_id="run-nightly-abc")
    other, _ = runs.prepare("nightly", trigger="schedule", workflow_id="run-nightly-def")

    assert (again.run_id, same) == (first.run_id, wid)
    assert again.model_dump() == first.model_dump()  # the same plan, steps and all
    assert other.run_id != first.run_id  # another firing is another run
    with workbench.sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Run).where(Run.workflow_id == "run-nightly-abc")
        )
    assert count == 1


def test_a_firing_s_run_recorded_running_at_once_is_recorded_once(
    workbench, tmp_path: Path
) -> None:
    """A schedule's firing records its run as running when it records it; asked again
    (its workflow task retried), it gets that run back, not a second one."""
    folder = tmp_path / "flows"
    write_notebook(folder / "only.ipynb", "print('ok')")
    (folder / "nightly.yaml").write_text(SPEC)
    PipelineRegistry(workbench, Principal(name="alice")).deploy(folder / "nightly.yaml")
    runs = RunService(workbench, SCHEDULER)

    first, wid = runs.prepare(
        "nightly", trigger="schedule", workflow_id="scheduled-nightly-1", running=True
    )
    again, same = runs.prepare(
        "nightly", trigger="schedule", workflow_id="scheduled-nightly-1", running=True
    )

    assert (again.run_id, same) == (first.run_id, wid)
    assert again.model_dump() == first.model_dump()
    with workbench.sessions() as session:
        rows = session.scalars(select(Run).where(Run.workflow_id == "scheduled-nightly-1")).all()
        assert [(r.status, r.started_at == r.created_at) for r in rows] == [("running", True)]
