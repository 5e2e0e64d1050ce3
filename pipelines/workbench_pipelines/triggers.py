"""What the server and the worker share about ``on_change:`` triggers: the workflow's
name and id, its signals and query, and what they carry. The workflow itself is in
:mod:`.on_change` (the worker's); the server pauses and resumes it, and asks whether it
is paused, with these names only."""

from __future__ import annotations

from pydantic import BaseModel, Field

ON_CHANGE_WORKFLOW = "workbench.OnChange"
CHANGE_SIGNAL = "workbench.dataset_changed"
PAUSE_SIGNAL = "workbench.on_change_paused"  # True: pause, False: resume
PAUSED_QUERY = "paused"


def on_change_workflow_id(pipeline: str) -> str:
    return f"on-change-{pipeline}"


class DatasetChange(BaseModel):
    """One table version a committed batch (or step) wrote."""

    dataset: str = Field(description="lake.layer.table")
    version: int
    operation: str | None = None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None
    run_id: str = Field(description="the run whose step wrote it")
    pipeline: str = Field(description="the pipeline of that run")
    committed_at: str = Field(description="ISO time the batch was committed")


class ChangeNotice(BaseModel):
    """A batch's changes for one listening pipeline, with its spec's settings."""

    changes: list[DatasetChange]
    debounce_s: float = 0.0
    overlap: str = "buffer_one"


class OnChangeInput(BaseModel):
    pipeline: str
    pending: list[ChangeNotice] = Field(
        default_factory=list, description="notices carried over a continue-as-new"
    )
    paused: bool = Field(False, description="paused, carried over a continue-as-new")
