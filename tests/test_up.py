"""``workbench up`` as a user runs it: a real process tree, real signals, real restarts."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import WorkbenchUp, base_env, run_workbench, still_alive
from tests.support.waiting import until
from workbench_server import temporal
from workbench_server.cli.up import hub_accounts_note


def _get(up: WorkbenchUp, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.get(f"{up.url}{path}", headers=headers, timeout=30)


def _banner_value(up: WorkbenchUp, label: str) -> str:
    line = next(line for line in up.stdout if line.strip().startswith(label))
    return line.split(":", 1)[1].split()[0]


async def _run_ping(address: str, workflow_id: str) -> str:
    from workbench_pipelines.workflows import PingWorkflow

    client = await temporal.connect(address)
    info = await client.execute_workflow(PingWorkflow.run, id=workflow_id, task_queue="workbench")
    return info.identity


async def _workflow_status(address: str, workflow_id: str) -> str:
    client = await temporal.connect(address)
    description = await client.get_workflow_handle(workflow_id).describe()
    return description.status.name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DATA_LIBRARIES = ("duckdb", "pyarrow", "deltalake", "pandas", "numpy", "sqlglot", "rapidfuzz")


def _data_libraries_loaded(proc: psutil.Process) -> set[str]:
    """The data libraries whose compiled code ``proc`` has loaded (a library imported by
    Python maps its extension modules; one never imported maps nothing)."""
    found = set()
    for mapped in proc.memory_maps():
        _, _, installed = mapped.path.rpartition("/site-packages/")
        for library in DATA_LIBRARIES:
            # duckdb's own extension module is _duckdb.*.so, beside its package
            if installed.startswith((f"{library}/", f"_{library}.")):
                found.add(library)
    return found


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if text in cmdline:
            found.append(f"{proc.info['pid']} {cmdline[:120]}")
    return found


def test_up_serves_health_stops_cleanly_and_restarts_with_everything_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    env = base_env(home)

    first = WorkbenchUp("--notebook-dir", str(notebooks), env=env).wait_ready()
    try:
        # 1. Health answers 200 with every part healthy (the worker, started as the URL
        # is printed, within seconds), with the token; 403 without.
        health = until(
            lambda: (
                (h := _get(first, "/workbench/api/health", first.token)).json()["status"] == "ok"
                and h
            ),
            60,
            "health not ok",
        )
        assert {name: c["status"] for name, c in health.json()["checks"].items()} == {
            "metadata_db": "ok",
            "temporal": "ok",
            "worker": "ok",
        }
        assert _get(first, "/workbench/api/health").status_code == 403
        assert _get(first, "/workbench/api/health", "wrong-token").status_code == 403
        assert "Logs:" in first.output and str(home / "logs") in first.output

        # A second `up` on the same home is refused while this one runs.
        clash = run_workbench("up", env=env, timeout=60)
        assert clash.returncode != 0
        assert "already running on home" in clash.stderr

        # Work that must survive a restart: a kernel, a workflow run, the demo data.
        kernel = httpx.post(
            f"{first.url}/api/kernels",
            json={},
            headers={"Authorization": f"token {first.token}"},
            timeout=60,
        )
        assert kernel.status_code == 201, kernel.text
        assert kernel.json()["name"] == "workbench"
        address = _banner_value(first, "Temporal")
        workflow_id = f"restart-check-{uuid.uuid4().hex}"
        assert asyncio.run(_run_ping(address, workflow_id)).startswith("workbench-worker-")
        demo_db = home / "demo" / "odoo_demo.duckdb"
        demo_hash = _sha256(demo_db)
        key = (home / "secrets.key").read_bytes()
        assert (home / "secrets.key").stat().st_mode & 0o777 == 0o600

        time.sleep(1.0)  # let the kernel process appear in the tree
        tree = first.descendants()
        assert any("ipykernel" in " ".join(p.cmdline()) for p in tree), "no kernel started"

        # 2. SIGINT stops everything: no child, grandchild or kernel survives.
        assert first.stop(signal.SIGINT) == 0, first.output
        assert still_alive(tree) == []
        assert "Stopped." in first.output
    finally:
        first.kill()

    second = WorkbenchUp("--notebook-dir", str(notebooks), env=env).wait_ready()
    try:
        until(
            lambda: _get(second, "/workbench/api/health", second.token).json()["status"] == "ok",
            60,
            "health not ok",
        )
        assert second.token != first.token
        # Temporal history, metadata and demo data are the same ones as before.
        address = _banner_value(second, "Temporal")
        assert asyncio.run(_workflow_status(address, workflow_id)) == "COMPLETED"
        assert _sha256(demo_db) == demo_hash
        assert (home / "secrets.key").read_bytes() == key
        with sqlite3.connect(home / "metadata.db") as db:
            names = [row[0] for row in db.execute("SELECT name FROM connections")]
        assert names == ["demo_odoo"]
        assert "Demo:" not in second.output  # not generated twice
        tree = second.descendants()
        # Idle, JupyterLab's server and the worker hold none of the data libraries (about
        # 350 MB between them): a search, a lake request or a step loads what it needs.
        for part in ("jupyterlab", "workbench_server.cli worker"):
            proc = next(p for p in tree if part in " ".join(p.cmdline()))
            assert _data_libraries_loaded(proc) == set(), part
        # Once up, `workbench up` (the same process) is a small keeper that holds nothing
        # of what starting needed (click, pydantic, asyncio: 40 MB all day).
        keeper = psutil.Process(second.proc.pid)
        assert "up_keeper.py" in " ".join(keeper.cmdline())
        assert [m.path for m in keeper.memory_maps() if "/site-packages/" in m.path] == []
        assert keeper.memory_info().rss < 25 * 2**20
        assert second.stop(signal.SIGTERM) == 0, second.output
        assert still_alive(tree) == []
    finally:
        second.kill()


FIRST_PIPELINE = """\
name: first
steps:
  - id: book
    kind: sql
    sql: SELECT 1 AS id, CAST(12.50 AS DECIMAL(12, 2)) AS amount
    target: silver.first_run
"""


def test_a_run_requested_as_the_url_is_printed_is_accepted_and_runs_once_the_worker_polls(
    tmp_path: Path,
) -> None:
    """What the URL promises: the lab serves its page, the workbench's API answers (its
    core may still be opening: the request waits), and a run requested at once is
    accepted; the worker, started as the URL is printed, runs it when it polls."""
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    (notebooks / "first").mkdir(parents=True)
    (notebooks / "first" / "pipeline.yaml").write_text(FIRST_PIPELINE)
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=base_env(home))
    up.wait_ready()
    auth = {"Authorization": f"token {up.token}"}
    try:
        # The worker is held before it polls (as a slow start would leave it), so the
        # case is the same on a quiet machine as on a busy one.
        worker = until(lambda: _child(up, "workbench_server.cli worker"), 30, "no worker started")
        worker.suspend()
        assert "polling task queue" not in (home / "logs" / "worker.log").read_text()
        page = httpx.get(f"{up.url}/lab", headers=auth, timeout=60)
        assert page.status_code == 200 and "jupyter-config-data" in page.text
        deployed = httpx.post(
            f"{up.url}/workbench/api/pipelines/deploy",
            json={"path": "first/pipeline.yaml"},
            headers=auth,
            timeout=60,
        )
        assert deployed.status_code == 201, deployed.text
        started = httpx.post(
            f"{up.url}/workbench/api/pipelines/first/runs", json={}, headers=auth, timeout=60
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        # Starting is no failure: 200 (a page opened at the URL logs no error and shows
        # no "worker down"), the worker's part says what happens to runs meanwhile.
        health = _get(up, "/workbench/api/health", up.token)
        assert (health.status_code, health.json()["status"]) == (200, "starting"), health.text
        worker_health = health.json()["checks"]["worker"]
        assert worker_health["status"] == "starting"
        assert "starting since" in worker_health["detail"], worker_health
        time.sleep(2.0)  # the run waits; nothing fails it meanwhile
        waiting = _get(up, f"/workbench/api/runs/{run_id}", up.token).json()
        assert waiting["status"] not in ("failed", "cancelled", "succeeded"), waiting
        worker.resume()

        def ended() -> dict | None:
            found = _get(up, f"/workbench/api/runs/{run_id}", up.token).json()
            return found if found["status"] in ("succeeded", "failed", "cancelled") else None

        assert until(ended, 120, "the run did not end")["status"] == "succeeded"
        assert _get(up, "/workbench/api/health", up.token).json()["status"] == "ok"
        assert up.stop(signal.SIGINT) == 0, up.output
    finally:
        up.kill()


def test_port_in_use_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_workbench("up", "--port", str(port), "--no-demo", env=base_env(home))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"workbench: error: port {port} on 127.0.0.1 (JupyterLab) is already in use; "
        "choose another with --port"
    ]
    assert _processes_mentioning(str(home)) == []


@pytest.mark.parametrize("breakage", ["home is a file", "parent is a file"])
def test_broken_home_is_one_line_error(tmp_path: Path, breakage: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    home = blocker if breakage == "home is a file" else blocker / "home"
    result = run_workbench("up", "--no-demo", env=base_env(home))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(home) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert _processes_mentioning(str(home)) == []


def test_a_component_failing_to_start_stops_the_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    # A broken user config makes JupyterLab exit during start-up, while Temporal starts:
    # Temporal must be stopped and the error must name the part and why.
    (config_dir / "jupyter_server_config.py").write_text("raise SystemExit('broken config')\n")
    env = base_env(home) | {"JUPYTER_CONFIG_DIR": str(config_dir)}
    result = run_workbench("up", "--no-demo", env=env, timeout=120)
    assert result.returncode != 0
    # The lab's failure is named with its cause, whether Temporal was still starting or
    # already up when the lab exited (the lab is watched while Temporal starts).
    assert re.search(
        r"JupyterLab exited during start-up \(exit code \d+\): .*broken config", result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr
    assert "is ready" not in result.stdout
    assert _processes_mentioning(str(home)) == []


def test_a_start_error_keeps_the_cause_at_the_end_of_a_long_line() -> None:
    # Temporal's error as CI logged it: the cause comes after 1,300 characters of call
    # sites, and a message of its first 300 characters did not say what went wrong.
    from workbench_server.cli.up_keeper import last_log_line

    sites = "".join(
        f'could not build arguments for function "go.temporal.io/server/x{i}".Provider '
        f"(/home/runner/go/pkg/mod/go.temporal.io/server@v1.32.0/temporal/fx.go:{i}): "
        for i in range(12)
    )
    cause = "listen tcp 127.0.0.1:58097: bind: address already in use"
    log = f"level=ERROR msg=x\nError: failed starting server: {sites}{cause}\n\n"
    reason = last_log_line(log)
    assert reason.startswith("Error: failed starting server")
    assert reason.endswith(cause)
    assert len(reason) <= 300
    assert last_log_line("one\ntwo  \n") == "two"


def test_up_writes_state_for_other_commands_private_to_the_owner(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = WorkbenchUp("--no-demo", env=base_env(home)).wait_ready()
    try:
        state = home / "run" / "state.json"
        assert state.stat().st_mode & 0o777 == 0o600
        assert json.loads(state.read_text())["url"] == up.url
        # The worker, started as the URL is printed, polls within seconds.
        until(
            lambda: _get(up, "/workbench/api/health", up.token).json()["status"] == "ok",
            60,
            "health not ok",
        )
        status = run_workbench("status", env=base_env(home))
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.startswith(f"ok       {up.url}")
        assert up.token not in " ".join(" ".join(p.cmdline()) for p in up.descendants())
        assert up.stop() == 0
        assert not state.exists()
        stopped = run_workbench("status", env=base_env(home))
        assert stopped.returncode == 1
        assert stopped.stderr.strip() == f"workbench: error: no workbench is running on home {home}"
    finally:
        up.kill()


@pytest.fixture
def users_dir() -> Iterator[Path]:
    """Where a hub run as root makes users' homes (instead of /home/workbench-users):
    traversable by their accounts, unlike pytest's tmp_path; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="workbench-users-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_up_hub_runs_a_hub_with_the_workbench_service_and_stops_it_all(
    tmp_path: Path, users_dir: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)  # made by hand, with the usual umask
    env = base_env(home) | {
        "WORKBENCH_HUB_PASSWORD": "a-shared-password",
        "WORKBENCH_HUB_USERS_DIR": str(users_dir),
    }
    up = WorkbenchUp("--hub", "--no-demo", env=env, cwd=tmp_path)
    try:
        up.wait_ready()
        children = up.descendants()
        assert "$WORKBENCH_HUB_PASSWORD" in up.output
        assert "a-shared-password" not in up.output
        assert hub_accounts_note(os.geteuid() == 0, getpass.getuser())[0] in up.output
        # The home (key, database, hub state) is now private to the account running the hub.
        assert home.stat().st_mode & 0o777 == 0o700
        assert _get(up, "/hub/api/").status_code == 200
        # The core answers behind the hub's proxy, to hub tokens only.
        assert _get(up, "/services/workbench/workbench/api/health").status_code == 403
        with httpx.Client(base_url=up.url, timeout=30) as browser:
            form = browser.get("/hub/login").text
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
            signed_in = browser.post(
                "/hub/login",
                data={"username": "dave", "password": "a-shared-password", "_xsrf": xsrf},
            )
        assert signed_in.status_code == 302, signed_in.text
    except BaseException:
        up.kill()
        raise
    assert up.stop() == 0, up.output
    assert still_alive(children) == []


def test_the_hub_banner_says_plainly_what_users_can_read_of_each_other() -> None:
    shared = " ".join(line.strip() for line in hub_accounts_note(False, "ada"))
    assert (
        "runs as your OS account 'ada': every user can read every other user's files and "
        "data and the workbench's secrets (key, database)."
    ) in shared
    # As root each user has an account of their own, and the banner says so instead.
    own = " ".join(line.strip() for line in hub_accounts_note(True, "root"))
    assert "OS account of their own" in own and "can read" not in own


def _child(up: WorkbenchUp, marker: str) -> psutil.Process | None:
    """The running child of ``workbench up`` whose command line names ``marker``."""
    for child in psutil.Process(up.proc.pid).children():
        try:
            if marker in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def test_a_crashed_worker_or_temporal_is_restarted_while_jupyterlab_stays_up(
    tmp_path: Path,
) -> None:
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=base_env(home))
    up.wait_ready()
    try:
        lab = _child(up, "jupyterlab")
        assert lab is not None
        address = _banner_value(up, "Temporal")
        # The worker scans and previews with the lab's roots, its notebook folder too.
        worker = _child(up, "workbench_server.cli worker")
        assert worker is not None
        roots = worker.environ()["WORKBENCH_DATA_ROOTS"].split(os.pathsep)
        assert str(notebooks.absolute()) in roots
        for marker in ("workbench_server.cli worker", "temporal server start-dev"):
            crashed = _child(up, marker)
            assert crashed is not None, marker
            crashed.kill()  # as the OOM killer would

            def health_detail() -> str | None:
                checks = _get(up, "/workbench/api/health", up.token).json()["checks"]
                down = [c["detail"] for c in checks.values() if "restarting since" in c["detail"]]
                return down[0] if down else None

            # Meanwhile health says which part is down and that it is being restarted.
            assert "exit code -9" in until(health_detail, 20, "no restarting part in health")
            until(
                lambda m=marker, old=crashed.pid: getattr(_child(up, m), "pid", old) != old,
                60,
                f"{marker} not started again",
            )
            until(
                lambda: _get(up, "/workbench/api/health", up.token).json()["status"] == "ok",
                90,
                "health not ok again",
            )
            assert (
                getattr(_child(up, "jupyterlab"), "pid", None) == lab.pid
            )  # the lab (and its kernels) stayed
            assert up.proc.poll() is None
        # Temporal came back on its own port with its history: runs go on.
        workflow_id = f"after-restart-{uuid.uuid4().hex}"
        assert asyncio.run(_run_ping(address, workflow_id)).startswith("workbench-worker-")
        assert "worker stopped unexpectedly (exit code -9)" in up.output
        assert "restarting it in 1 s" in up.output
        assert up.stop(signal.SIGINT) == 0, up.output
    finally:
        up.kill()


REAP = """\
import subprocess, time, psutil
from workbench_server.supervisor import Supervisor
supervisor = Supervisor(subreaper=True)
# A kernel's child that outlives the kernel is re-parented to the supervisor.
subprocess.run(["sh", "-c", "sleep 0.2 & exit 0"], check=True)
time.sleep(1.0)
zombies = lambda: [c for c in psutil.Process().children() if c.status() == "zombie"]
before = len(zombies())
reaped = supervisor.reap_zombies()
print(before, reaped, len(zombies()))
"""


def test_orphans_that_exit_under_the_supervisor_are_reaped() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", REAP], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "1", "0"], done.stdout + done.stderr


def test_a_port_left_in_time_wait_by_a_crash_is_not_in_use() -> None:
    """After a crash the old server's connections linger in TIME_WAIT: the port must not
    be refused as "already in use" when nothing listens on it."""
    from workbench_server.supervisor import port_in_use

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    assert not port_in_use("127.0.0.1", port)


def test_the_metadata_db_password_is_in_no_process_environment(tmp_path: Path, pg_cluster) -> None:
    """With a PostgreSQL metadata DB, its password reaches the worker, JupyterLab and the
    kernels as a file private to the account at most, never in an environment that
    /proc/PID/environ shows (a kernel's code could read its server's)."""
    from tests.test_hub_team import pg_role

    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    with pg_role(pg_cluster, own_database=True) as role:
        env = base_env(home) | {"WORKBENCH_DB_URL": role.url}
        up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
        try:
            health = _get(up, "/workbench/api/health", up.token).json()
            assert health["checks"]["metadata_db"]["status"] == "ok", health
            assert health["checks"]["metadata_db"]["detail"].startswith("postgresql")
            kernel = httpx.post(
                f"{up.url}/api/kernels",
                json={},
                headers={"Authorization": f"token {up.token}"},
                timeout=60,
            )
            assert kernel.status_code == 201, kernel.text
            until(
                lambda: any("ipykernel" in " ".join(p.cmdline()) for p in up.descendants()),
                30,
                "no kernel process",
            )
            for process in up.descendants():
                environ = "\0".join(f"{k}={v}" for k, v in process.environ().items())
                assert role.password not in environ, process.cmdline()
            db_url_file = home / "run" / "db-url"
            assert db_url_file.stat().st_mode & 0o777 == 0o600
            assert up.stop(signal.SIGINT) == 0, up.output
        finally:
            up.kill()


def test_the_supervisor_keeps_no_data_libraries(tmp_path: Path) -> None:
    # `workbench up` lives as long as the stack: reading its settings and making its
    # components must not load the lake's Arrow, DuckDB and Delta libraries (90 MB held
    # all day); the migrations and demo data run in a child process instead.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workbench_server.cli.up import LocalStack\n"
        "from workbench_server.settings import WorkbenchSettings\n"
        "settings = WorkbenchSettings.from_env(None)\n"
        "stack = LocalStack(settings, ip='127.0.0.1', lab_port=1, temporal_port=2,\n"
        "                   notebook_dir=Path('.'), concurrency=4)\n"
        "stack.components(); stack._env()\n"
        "heavy = ('duckdb', 'pyarrow', 'deltalake', 'pandas', 'sqlalchemy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        env=base_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
