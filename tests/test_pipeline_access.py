"""Who may see and run whose pipelines: owners, viewers, operators, admins and others.

Runs on a real Temporal dev server with a real worker; each principal is the core's view
of a signed-in user (the hub tests show the same through a real JupyterHub).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.support.notebooks import write_notebook
from workbench_server.errors import NotFoundError, PermissionDeniedError
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal

ALICE = Principal(name="alice", groups=frozenset({"staff"}))
BOB = Principal(name="bob", groups=frozenset({"staff"}))
CAROL = Principal(name="carol", groups=frozenset({"auditors"}))  # viewer
DAVE = Principal(name="dave", groups=frozenset({"finance-ops"}))  # operator
ADMIN = Principal(name="root", admin=True)

SPEC = """\
name: close_books
parameters:
  account: {type: string, default: "401000"}
access:
  viewers: [auditors]
  operators: [finance-ops]
steps:
  - id: balance
    notebook: balance.ipynb
    kernel: python3
    parameters: {account: "{{ params.account }}"}
"""


@pytest.fixture
def deployed(workbench, tmp_path: Path, temporal_address: str, task_queue: str):
    """alice's pipeline, deployed; the core talks to the session's Temporal."""
    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue
    folder = tmp_path / "flows"
    write_notebook(
        folder / "balance.ipynb",
        "print(f'alice private balance of {account}: 1234.56')",
        parameters="account = ''",
    )
    (folder / "close.yaml").write_text(SPEC)
    PipelineRegistry(workbench, ALICE).deploy(folder / "close.yaml")
    return workbench


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _replace_with_link(path: Path, target: Path) -> None:
    """What a step's code could do to a file or folder beside it."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    os.symlink(target, path)


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _runs(workbench, who: Principal) -> RunService:
    return RunService(workbench, who)


async def test_others_cannot_start_read_cancel_or_repair_a_private_pipelines_runs(
    deployed, worker, tmp_path: Path
) -> None:
    workbench = deployed
    run = await _runs(workbench, ALICE).start("close_books")
    done = await _runs(workbench, ALICE).wait(run.id)
    assert done.status == "succeeded", done.error
    assert done.requested_by == "alice"
    notebook = _runs(workbench, ALICE).executed_notebook(run.id, "balance", 1)
    assert b"alice private balance" in notebook

    bob = _runs(workbench, BOB)
    # bob shares a group with alice, but the pipeline is not shared with it.
    assert [p.name for p in PipelineRegistry(workbench, BOB).list()] == []
    assert bob.list() == []
    assert bob.list("close_books") == []
    for attempt in (
        lambda: bob.get(run.id),
        lambda: bob.executed_notebook(run.id, "balance", 1),
        lambda: bob.attempt_log(run.id, "balance", 1),
        lambda: PipelineRegistry(workbench, BOB).get("close_books"),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    for action in (
        bob.start("close_books", {"account": "999"}),
        bob.cancel(run.id),
        bob.repair(run.id),
    ):
        with pytest.raises(NotFoundError):
            await action
    # Nothing bob tried left a run behind.
    assert [r.id for r in _runs(workbench, ALICE).list()] == [run.id]


async def test_viewers_read_and_operators_also_run_cancel_and_repair(deployed, worker) -> None:
    workbench = deployed
    run = await _runs(workbench, ALICE).start("close_books")
    await _runs(workbench, ALICE).wait(run.id)

    carol = _runs(workbench, CAROL)
    seen = PipelineRegistry(workbench, CAROL).get("close_books")
    assert (seen.may_operate, seen.may_change) == (False, False)
    assert seen.access == {"viewers": ["auditors"], "operators": ["finance-ops"]}
    assert [r.id for r in carol.list()] == [run.id]
    assert b"alice private balance" in carol.executed_notebook(run.id, "balance", 1)
    for action in (carol.start("close_books"), carol.cancel(run.id), carol.repair(run.id)):
        with pytest.raises(PermissionDeniedError, match=r"access\.operators"):
            await action

    dave = _runs(workbench, DAVE)
    assert PipelineRegistry(workbench, DAVE).get("close_books").may_operate
    started = await dave.start("close_books", {"account": "512000"})
    assert started.requested_by == "dave"
    cancelled = await dave.cancel(started.id)
    assert cancelled.cancelled_by == "dave"
    final = await dave.wait(started.id)
    assert final.status == "cancelled"
    # Operators run the pipeline; only the owner and admins deploy it.
    with pytest.raises(PermissionDeniedError):
        PipelineRegistry(workbench, DAVE).deploy(
            Path(PipelineRegistry(workbench, DAVE).version("close_books")[1].snapshot_dir)
            / "pipeline.yaml"
        )
    assert {r.id for r in _runs(workbench, ADMIN).list()} == {run.id, started.id}


def test_a_private_pipelines_name_is_not_revealed_to_a_deployer(deployed, tmp_path: Path) -> None:
    folder = tmp_path / "bobs"
    write_notebook(folder / "balance.ipynb", "1")
    (folder / "close.yaml").write_text(SPEC.replace("viewers: [auditors]", "viewers: []"))
    with pytest.raises(Exception) as refused:
        PipelineRegistry(deployed, BOB).deploy(folder / "close.yaml")
    assert "alice" not in str(refused.value)
    assert "taken" in str(refused.value)


async def test_artifacts_are_read_only_below_their_run_and_never_through_a_link(
    deployed, worker, tmp_path: Path
) -> None:
    """A step that swaps an earlier attempt's log (or the run's folder) for a link must
    not make the service read the target."""
    workbench = deployed
    secret = _write(tmp_path / "cookie_secret", "THE-HUB-COOKIE-SECRET")
    alice = _runs(workbench, ALICE)
    run = await alice.start("close_books")
    await alice.wait(run.id)
    attempt = alice.get(run.id).attempts[0]
    log, notebook = Path(attempt.log_file), Path(attempt.output_notebook)
    assert "alice private balance" in alice.attempt_log(run.id, "balance", 1)

    _replace_with_link(log, secret)
    with pytest.raises(NotFoundError, match="link"):
        alice.attempt_log(run.id, "balance", 1)

    # The attempt's folder replaced by a link to a folder holding a file of that name.
    decoy = tmp_path / "decoy"
    _write(decoy / notebook.name, "THE-HUB-COOKIE-SECRET")
    _replace_with_link(notebook.parent, decoy)
    with pytest.raises(NotFoundError):
        alice.executed_notebook(run.id, "balance", 1)

    # A FIFO in place of the file would block a plain open(): refused, at once.
    run2 = await alice.start("close_books")
    await alice.wait(run2.id)
    fifo = Path(alice.get(run2.id).attempts[0].log_file)
    _replace_with_fifo(fifo)
    with pytest.raises(NotFoundError, match="regular file"):
        await asyncio.wait_for(asyncio.to_thread(alice.attempt_log, run2.id, "balance", 1), 5)


async def test_a_run_cancelled_as_it_starts_is_recorded_cancelled(deployed, worker) -> None:
    """A cancel that arrives while the run's start is being recorded (a warm worker picks
    the run up at once) used to leave the run 'running' for ever."""
    alice = _runs(deployed, ALICE)
    await alice.wait((await alice.start("close_books")).id)  # the worker is warm now
    started = await alice.start("close_books")
    await alice.cancel(started.id)
    final = await alice.wait(started.id)
    assert (final.status, final.cancelled_by) == ("cancelled", "alice")
    assert final.finished_at is not None
