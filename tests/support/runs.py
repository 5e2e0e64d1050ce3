"""A run recorded the way the core records a queued one, for tests that drive the
run workflow directly (without deploying a pipeline)."""

from __future__ import annotations

from sqlalchemy import select

from workbench_server.db.models import Pipeline, Run

# A step heartbeat timeout for tests that lose an attempt on purpose (a killed worker, a
# stalled Temporal) and wait for Temporal to run it again: the installation's setting
# (WORKBENCH_STEP_HEARTBEAT_TIMEOUT), for the workers and cores they start, and what a
# plan built by the test carries. The default, 10 s, made each such test wait 10 s more.
HEARTBEAT_S = 4.0
SHORT_HEARTBEAT_ENV = {"WORKBENCH_STEP_HEARTBEAT_TIMEOUT": f"{HEARTBEAT_S:g}"}


def record_run(workbench, run_id: str, pipeline: str = "diamond", owner: str = "tester") -> None:
    """A queued run of ``pipeline`` (made, version 1, if it does not exist) by ``owner``."""
    with workbench.sessions.begin() as session:
        row = session.scalar(select(Pipeline).where(Pipeline.name == pipeline))
        if row is None:
            row = Pipeline(name=pipeline, owner=owner, current_version=1)
            session.add(row)
            session.flush()
        session.add(
            Run(
                id=run_id,
                pipeline_id=row.id,
                version=1,
                status="queued",
                trigger="manual",
                parameters={},
                logical_date="2026-10-31",
                workflow_id=f"run-{run_id}",
                requested_by=owner,
            )
        )
