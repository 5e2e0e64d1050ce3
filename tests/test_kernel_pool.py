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


RANDOM_PROBE = (
    "import json, os, random, sys\n"
    "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'sid': os.getsid(0),"
    " 'random': random.random(), 'argv': sys.argv, 'path': sys.path}))"
)


def _forked_notebook(folder: Path) -> Path:
    notebook = _notebook(folder, "workbench")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(RANDOM_PROBE))
    nbformat.write(nb, notebook)
    return notebook


def _cells(out: Path) -> list:
    return [
        (c.get("execution_count"), [o.get("output_type") for o in c.get("outputs", [])])
        for c in nbformat.read(out, as_version=4).cells
    ]


def test_spares_are_forked_from_a_server_that_imported_ipykernel(
    tmp_path: Path, pool: KernelPool
) -> None:
    """A spare is a child of the pool's fork server, set up as a started kernel: its own
    session, random state, argv and folder, the same executed notebook."""
    notebook = _forked_notebook(tmp_path / "pipeline")
    started, _ = _run(notebook, tmp_path / "out-1.ipynb", 1, "workbench", pool)  # not forked
    spare = _spare_pid(pool, "workbench")
    server = pool._forker._server.pid
    assert psutil.Process(spare).ppid() == server  # forked, not started by this process
    seen = []
    for seed in (2, 3):
        probe, _ = _run(notebook, tmp_path / f"out-{seed}.ipynb", seed, "workbench", pool)
        cells = nbformat.read(tmp_path / f"out-{seed}.ipynb", as_version=4).cells
        step = json.loads(cells[-2].outputs[0]["text"])
        assert step["step"] == f"step-{seed}" and step["cwd"] == str(notebook.parent)
        assert step["helper"] == 42 and step["leak"] is None and step["names"] == []
        assert probe["ppid"] == server and probe["sid"] == probe["pid"]
        assert probe["argv"][0] == started["argv"][0]  # ipykernel_launcher's file, as with -m
        assert probe["argv"][1] == "-f" and "--ext=workbench_kernels" in probe["argv"]
        assert probe["path"] == started["path"]  # the kernel's folder where IPython puts it
        seen.append(probe)
        _spare_pid(pool, "workbench")
    assert seen[0]["random"] != seen[1]["random"]  # reseeded in every child
    assert _cells(tmp_path / "out-1.ipynb") == _cells(tmp_path / "out-2.ipynb")
    pool.close()
    assert not _alive(server)


def test_a_forked_kernel_is_interrupted_and_killed_through_its_manager(
    tmp_path: Path, pool: KernelPool
) -> None:
    from jupyter_core.utils import run_sync

    pool.take("workbench", {}, tmp_path)  # starts a spare
    _spare_pid(pool, "workbench")
    manager = pool.take("workbench", dict(os.environ), tmp_path)
    assert manager is not None and psutil.Process(manager.provisioner.pid).ppid() != os.getpid()
    client = manager.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=60)
        started = time.monotonic()
        msg_id = client.execute("import time\ntime.sleep(60)")
        time.sleep(1.0)
        run_sync(manager.interrupt_kernel)()
        reply = run_sync(client._async_get_shell_msg)(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 30
        pid = manager.provisioner.pid
        run_sync(manager.shutdown_kernel)(now=True)
        assert not _alive(pid)
        assert not manager.has_kernel
    finally:
        manager.close_clients()


ORPHAN = """
import os, sys, time
from workbench_pipelines.kernel_pool import KernelPool
pool = KernelPool(lambda: dict(os.environ), kernels=("python3",))
pool.take("python3", {}, sys.argv[1])
deadline = time.monotonic() + 90
while "python3" not in pool._spares and time.monotonic() < deadline:
    time.sleep(0.05)
print(pool._spares["python3"].manager.provisioner.pid, pool._forker._server.pid, flush=True)
time.sleep(120)
"""


def test_a_dead_worker_takes_its_fork_server_and_forked_kernels_with_it(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    worker = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        kernel, server = map(int, worker.stdout.readline().split())
        assert psutil.Process(kernel).ppid() == server
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 30
        while (_alive(kernel) or _alive(server)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server) and not _alive(kernel)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)


def test_what_the_server_cannot_fork_is_started(tmp_path: Path) -> None:
    """A kernel whose interpreter settings differ from the server's is started as usual."""
    pool = KernelPool(lambda: dict(os.environ, PYTHONOPTIMIZE="1"), kernels=("python3",))
    pool._forker._env = dict(os.environ)  # the server starts without them
    try:
        pool.take("python3", {}, tmp_path)
        spare = _spare_pid(pool, "python3")
        assert psutil.Process(spare).ppid() == os.getpid()
    finally:
        pool.close()
        gc.collect()


def test_an_expired_spare_leaves_the_fork_server_to_the_kernels_steps_still_use(
    tmp_path: Path,
) -> None:
    """A spare's expiry stops the fork server only once none of its kernels runs: a step
    running in a forked kernel when the next spare expires keeps its kernel."""
    from jupyter_core.utils import run_sync

    pool = KernelPool(lambda: dict(os.environ), kernels=("python3",), idle_s=2.0)
    try:
        pool.take("python3", {}, tmp_path)
        _spare_pid(pool, "python3")
        busy = pool.take("python3", dict(os.environ), tmp_path)  # a step's, from now on
        assert busy is not None
        kernel, server = busy.provisioner.pid, pool._forker._server.pid
        _spare_pid(pool, "python3")  # the next one, which nobody takes
        deadline = time.monotonic() + 30
        while pool._spares and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool._spares == {}
        time.sleep(2.5)  # a forked kernel notices its server's end within a second
        assert _alive(kernel) and _alive(server)
        run_sync(busy.shutdown_kernel)(now=True)
        assert pool._forker.close_if_idle()
        assert not _alive(server)
    finally:
        pool.close()
        gc.collect()


LAKE_PROBE = (
    "import json, sys\n"
    "ahead = 'workbench_kernels.lake' in sys.modules\n"
    "from workbench_kernels import lake\n"
    "library = 'workbench_server.lake.service' in sys.modules\n"
    "print(json.dumps({'pid': __import__('os').getpid(), 'ahead': ahead, 'library': library,\n"
    "    'pandas': 'pandas' in sys.modules,\n"
    "    'delta_ahead': [r[0] for r in (getattr(sys.modules.get(\n"
    "        'workbench_kernels.lake_session'), '_ahead', None) or __import__('duckdb').connect()\n"
    "        ).execute(\"SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'delta'\"\n"
    "        ).fetchall()],\n"
    "    'names': sorted(\n"
    "    k for k in globals() if not k.startswith('_') and k not in ('In', 'Out', 'exit',\n"
    "    'quit', 'get_ipython', 'open'))}))"
)


def test_after_a_notebook_that_uses_the_lake_the_next_spare_has_imported_it(
    tmp_path: Path, pool: KernelPool
) -> None:
    """A report notebook spent 0.2-0.4 s of its 0.6 s importing the lake API: the spare
    made after a notebook that imports it has imported it too (nothing else run: the
    same names and execution counts), and the spare after a notebook that does not has not."""
    uses = _notebook(tmp_path / "report", "workbench")
    nb = nbformat.read(uses, as_version=4)
    nb.cells[-1] = nbformat.v4.new_code_cell(LAKE_PROBE)
    nbformat.write(nb, uses)
    plain = _notebook(tmp_path / "plain", "workbench")

    first, counts = _run(uses, tmp_path / "out-1.ipynb", 1, "workbench", pool)  # no spare yet
    assert first["ahead"] is False  # the workbench kernel does not import it itself
    _spare_pid(pool, "workbench")
    second, counts_second = _run(uses, tmp_path / "out-2.ipynb", 2, "workbench", pool)
    assert second["ahead"] is True
    # ... and made the lake session's DuckDB database with the delta extension loaded
    # (0.2-0.3 s of a report's first read), which the first kernel had to do in its cell.
    assert second["delta_ahead"] == [True]
    assert second["library"] is True and first["library"] is False
    assert second["pandas"] is False  # pyarrow.dataset imported it (110 MB, 0.3-1 s)
    assert first["delta_ahead"] in ([], [False])
    assert second["names"] == first["names"] == ["ahead", "json", "lake", "library", "seed", "sys"]
    assert counts_second == counts
    _spare_pid(pool, "workbench")
    _run(plain, tmp_path / "out-3.ipynb", 3, "workbench", pool)  # took the lake spare
    _spare_pid(pool, "workbench")
    fourth, _ = _run(uses, tmp_path / "out-4.ipynb", 4, "workbench", pool)
    assert fourth["ahead"] is False  # the spare after the plain notebook imported nothing
    assert fourth["delta_ahead"] in ([], [False])


def test_the_first_lake_session_takes_the_database_made_ahead() -> None:
    """What a spare made ahead is the first session's database (delta loaded, nothing
    else in it), once: a second session, or one with nothing made ahead, opens its own."""
    from workbench_kernels import lake_session

    lake_session.prepare_ahead()
    made = lake_session._ahead
    assert made is not None
    first = lake_session.LakeSession(None, {})
    second = lake_session.LakeSession(None, {})
    assert first.db is made and second.db is not made and lake_session._ahead is None
    loaded = "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'delta'"
    assert first.db.execute(loaded).fetchall() == [(True,)]
    assert first.db.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    assert second.db.execute(loaded).fetchall() in ([], [(False,)])
