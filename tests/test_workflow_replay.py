"""Runs that were under way when the worker was upgraded go on with the new code.

The histories here were recorded with the worker from before the run bookkeeping became
local activities and a schedule's firing stopped starting a child workflow: a firing that
prepared its run with a regular activity and ran it as a child, and a run that recorded
itself with regular activities; and a firing from before it recorded its run as running
when it recorded it (two local activities, queued then running, in its own workflow); and
a run from before a step's heartbeat timeout was the installation's setting carried in
the run's plan (its plan has none: 10 s), whose step's attempt was lost with its worker
(SIGKILL) and run again. The current workflows must replay each exactly (Temporal
replays a workflow's history on whichever worker picks it up next).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workbench_pipelines.workflows import PipelineRunWorkflow, ScheduledRunWorkflow

HISTORIES = Path(__file__).parent / "support" / "histories"


@pytest.mark.parametrize(
    "name",
    [
        "scheduled_run_child.json",
        "pipeline_run_activities.json",
        "scheduled_run_inline.json",
        "scheduled_run_recorded_running.json",  # the current firing, as a guard for the next
        "pipeline_run_lost_attempt.json",
    ],
)
async def test_runs_from_before_the_upgrade_replay(name: str) -> None:
    recorded = json.loads((HISTORIES / name).read_text())
    history = WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])
    replayer = Replayer(
        workflows=[ScheduledRunWorkflow, PipelineRunWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
