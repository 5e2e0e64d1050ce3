"""A step's kernel reports what its cells did before the step ends, even a kernel that
was started ahead of its step and given the step's environment afterwards."""

from __future__ import annotations

import pytest

from workbench_kernels.reporting import CONTEXT_ENV, BatchedReporter


class Recorder(BatchedReporter):
    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def take(self) -> list[tuple[str, object]]:
        self.taken += 1
        return []


def test_a_kernel_told_it_runs_a_step_after_start_reports_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    reporter = Recorder()  # made when the kernel started, before it knew its step
    monkeypatch.setenv(CONTEXT_ENV, "pipeline")  # the step's environment arrives
    reporter.noted()
    assert reporter.taken == 1  # sent now: a step's kernel is killed when it ends
    assert reporter.thread is None


def test_a_person_s_kernel_reports_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    reporter = Recorder()
    monkeypatch.setattr("workbench_kernels.reporting.atexit.register", lambda _fn: None)
    monkeypatch.setattr("workbench_kernels.reporting.threading.Thread.start", lambda _self: None)
    reporter.noted()
    assert reporter.taken == 0
    assert reporter.thread is not None
