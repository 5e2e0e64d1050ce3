"""Kernels started ahead for the next steps: a step gets one that ran nothing before it,
with its own environment and folder, and nothing of it reaches the step after."""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest

from workbench_pipelines.kernel_pool import KernelPool
from workbench_pipelines.notebook import Progress, execute

PROBE = (
    "import json, os, helper\n"
    "leak = globals().get('left_by_an_earlier_step')\n"
    "left_by_an_earlier_step = seed\n"
    "print(json.dumps({'pid': os.getpid(), 'cwd': os.getcwd(), 'step': os.environ.get('STEP_X'),"
    " 'spare_only': os.environ.get('SPARE_ONLY'), 'helper': helper.X, 'leak': leak,"
    " 'names': sorted(k for k in globals() if 'prelude' in k)}))"
)


def _notebook(folder: Path, kernel: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel}
    nb.metadata["language_info"] = {"name": "python"}
    tagged = nbformat.v4.new_code_cell("seed = 0")
    tagged.metadata["tags"] = ["parameters"]
    nb.cells = [tagged, nbformat.v4.new_code_cell(PROBE)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helper.py").write_text("X = 42\n")
    path = folder / "probe.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def pool() -> Iterator[KernelPool]:
    made = KernelPool(lambda: dict(os.environ, SPARE_ONLY="1"), kernels=("workbench",))
    yield made
    made.close()
    gc.collect()  # what the steps' threads left for collection, not another test's count


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _spare_pid(pool: KernelPool, kernel: str, timeout: float = 90.0) -> int:
    """The process id of the spare once it has been started (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spare = pool._spares.get(kernel)
        if spare is not None:
            return int(spare.manager.provisioner.pid)
        time.sleep(0.02)
    raise AssertionError(f"no spare {kernel} kernel within {timeout} s")


def _run(notebook: Path, out: Path, seed: int, kernel: str, pool: KernelPool) -> tuple[dict, list]:
    env = dict(os.environ, STEP_X=f"step-{seed}")
    failure = execute(
        notebook,
        out,
        {"seed": seed},
        kernel,
        Progress(),
        out.with_suffix(".log"),
        notebook.parent,
        env,
        None,
        pool,
    )
    assert failure is None, failure
    cells = nbformat.read(out, as_version=4).cells
    return json.loads(cells[-1].outputs[0]["text"]), [c.get("execution_count") for c in cells]


def test_a_step_gets_a_kernel_started_ahead_set_up_as_its_own(
    tmp_path: Path, pool: KernelPool
) -> None:
    notebook = _notebook(tmp_path / "pipeline", "workbench")
    first, counts_first = _run(notebook, tmp_path / "out-1.ipynb", 1, "workbench", pool)
    # The first step found no spare (none is started before a step asks): it started its
    # own, and a spare was started for the next one.
    spare = _spare_pid(pool, "workbench")
    assert spare != first["pid"]
    second, counts_second = _run(notebook, tmp_path / "out-2.ipynb", 2, "workbench", pool)

    assert second["pid"] == spare  # the step ran in the kernel started ahead
    assert not _alive(spare)
    # ... as if it had been started for the step: its environment (not the spare's), its
    # folder (a module next to the notebook imports), no name of the set-up, the same
    # execution counts, nothing of the step before.
    for seed, seen in ((1, first), (2, second)):
        assert seen["step"] == f"step-{seed}"
        assert seen["spare_only"] is None
        assert seen["cwd"] == str(notebook.parent)
        assert seen["helper"] == 42
        assert seen["names"] == []
        assert seen["leak"] is None
    assert counts_second == counts_first
    # The file that carried the step's environment is gone (it may hold credentials).
    assert list(pool._folder.iterdir()) == []


def test_kernels_not_pooled_and_a_closed_pool_start_their_own(
    tmp_path: Path, pool: KernelPool
) -> None:
    notebook = _notebook(tmp_path / "pipeline", "python3")
    seen, _ = _run(notebook, tmp_path / "out-1.ipynb", 1, "python3", pool)
    assert seen["step"] == "step-1" and seen["spare_only"] is None
    assert pool._spares == {}  # python3 is not pooled: nothing was started ahead

    _run(_notebook(tmp_path / "wb", "workbench"), tmp_path / "out-2.ipynb", 2, "workbench", pool)
    spare = _spare_pid(pool, "workbench")
    pool.close()  # the worker stops: so does the spare, and nothing is started again
    assert not _alive(spare)
    assert pool.take("workbench", dict(os.environ), tmp_path) is None
    assert not pool._folder.exists()


def test_a_spare_nobody_takes_is_stopped(tmp_path: Path) -> None:
    pool = KernelPool(lambda: dict(os.environ), kernels=("workbench",), idle_s=3.0)
    try:
        assert pool.take("workbench", dict(os.environ), tmp_path) is None  # starts one
        spare = _spare_pid(pool, "workbench")
        # Expiry takes the spare off the pool, then the pool's own thread stops it: wait
        # (bounded) for both, a loaded machine may take a while to end the process.
        deadline = time.monotonic() + 30
        while (pool._spares or _alive(spare)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool._spares == {}
        assert not _alive(spare)
    finally:
        pool.close()
        gc.collect()
