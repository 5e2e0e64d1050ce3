"""The worker's papermill engine over many steps: what one step opens, it closes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil

from workbench_pipelines.notebook import Progress, execute


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    tagged = nbformat.v4.new_code_cell("seed = 0")
    tagged.metadata["tags"] = ["parameters"]
    nb.cells = [tagged, nbformat.v4.new_code_cell("print(seed * 2)")]
    nbformat.write(nb, path)
    return path


def test_steps_leave_no_threads_or_open_files_behind(tmp_path: Path) -> None:
    # A worker runs thousands of steps: each used to leave its kernel client's heartbeat
    # thread and zmq context behind (3 threads, 14 open files), so a worker with the
    # usual limit of 1,024 open files failed after some 70 runs.
    notebook = _notebook(tmp_path / "double.ipynb")
    me = psutil.Process()

    def step(seed: int) -> None:
        output = tmp_path / f"out-{seed}.ipynb"
        failure = execute(
            notebook,
            output,
            {"seed": seed},
            "python3",
            Progress(),
            tmp_path / "step.log",
            tmp_path,
        )
        assert failure is None
        printed = nbformat.read(output, as_version=4).cells[-1].outputs[0]["text"]
        assert printed.strip() == str(seed * 2)

    def held() -> tuple[set[int], set[str]]:
        # Thread ids and descriptors by identity, not by count: a thread another test
        # left behind may end while these steps run (CI once saw 64 threads against
        # 65), which is no leak; a thread or a descriptor the steps add is one.
        return {t.id for t in me.threads()}, set(os.listdir("/proc/self/fd"))

    step(1)  # the first step imports and starts what every later one reuses
    threads, files = held()
    for seed in range(2, 6):
        step(seed)
    threads_after, files_after = held()
    assert threads_after - threads == set()
    assert files_after - files == set()


def test_the_worker_imports_papermill_without_remote_storage_clients() -> None:
    # papermill's I/O module imports every storage client it finds (boto3, gcsfs, Azure,
    # Arrow) for remote paths a step never has, and jsonschema an IRI grammar nbformat
    # never uses; the worker preloads papermill without them, and they still import
    # normally afterwards, for the lake steps.
    code = (
        "import sys\n"
        "from workbench_pipelines.notebook import preload\n"
        "preload()\n"
        "left_out = ('boto3', 'gcsfs', 'pyarrow', 'rfc3987_syntax')\n"
        "print(sorted(m for m in left_out if m in sys.modules))\n"
        "import pyarrow, boto3\n"
        "from papermill.engines import papermill_engines\n"
        "print(papermill_engines.get_engine('workbench').__name__)\n"
        "from papermill.iorw import papermill_io\n"
        "print(type(papermill_io.get_handler('/tmp/a.ipynb')).__name__)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["[]", "WorkbenchEngine", "LocalHandler"]
