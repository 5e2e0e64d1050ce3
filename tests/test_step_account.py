"""Team mode's workers: a pipeline step runs as an account of its own and reads none of
the worker's secrets (issue 15 item 4).

Docker cannot run here, so the worker container is rebuilt from what the stack gives it:
the worker runs as root boxed in as ``docker-compose.yml`` boxes it (only the
capabilities its ``cap_add`` lists, and ``no-new-privileges``, through ``setpriv`` as
Docker does it), through the image's entrypoint, which reads the docker secrets (the
secrets key and the metadata DB password, with the owners and modes "5. Secrets" of
docs/deploy.md gives them) into a private key file and ``WORKBENCH_DB_URL``. Its home is
laid out as the worker image lays out /srv/workbench. Steps run as a throwaway account
(``WORKBENCH_STEP_ACCOUNTS``), made for this module and removed after it. Group 0,
root's own, stands for the secrets' group ``workbench`` (10000), which the worker is in
and steps are not.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml
from psycopg import sql
from sqlalchemy import select

from tests.support.notebooks import write_notebook
from tests.support.postgres import PostgresCluster, postgres_settings
from tests.support.processes import terminate
from tests.support.runs import record_run
from workbench_pipelines.plan import RetryPlan, RunPlan, StepPlan
from workbench_pipelines.workflows import PipelineRunWorkflow
from workbench_server import temporal
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.core import Workbench
from workbench_server.db.models import StepRun
from workbench_server.principal import Principal
from workbench_server.settings import WorkbenchSettings
from workbench_server.temporal import worker_argv

ROOT = Path(__file__).resolve().parents[1]
SECRETS_GROUP = 0  # stands for the stack's group workbench (10000): the worker's, not steps'
OWNER = "tester"  # the pipeline's owner, whose connection the step may use
# Run in the step's kernel: read every path it is given, list every folder, write into the
# lake, and report what it got and who it is.
PROBE = """\
import getpass, json, os
from pathlib import Path
from workbench_kernels.api import fetch_bootstrap
paths = [*paths, f"/proc/{os.getppid()}/environ"]
tried = {}
for path in paths:
    try:
        tried[path] = Path(path).read_text(errors="replace")
    except OSError as exc:
        tried[path] = type(exc).__name__
listed = {}
for folder in folders:
    try:
        listed[folder] = sorted(os.listdir(folder))
    except OSError as exc:
        listed[folder] = type(exc).__name__
Path(lake, "bronze", "from_step.csv").write_text("id\\n1\\n")
bootstrap = fetch_bootstrap()
print("PROBE " + json.dumps({
    "uid": os.getuid(),
    "gid": os.getgid(),
    "groups": os.getgroups(),
    "user": getpass.getuser(),
    "capabilities": [line.split() for line in open("/proc/self/status") if line.startswith("Cap")],
    "environ": dict(os.environ),
    "cwd": os.getcwd(),
    "tried": tried,
    "listed": listed,
    "lake": bootstrap.lake,
    "ledger_password": bootstrap.connections["ledger"]["password"],
}))
"""


@pytest.fixture(scope="module")
def step_account() -> Iterator[pwd.struct_passwd]:
    """An unprivileged account of its own group and no home, as the worker image makes
    workbench-step; removed with whatever it still runs."""
    if os.geteuid() != 0:
        pytest.fail("steps run as another account: run these tests as root (as CI does)")
    name = f"wbstep{secrets.token_hex(3)}"
    subprocess.run(
        [
            *("useradd", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"),
            *("--shell", "/usr/sbin/nologin", name),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        uid = pwd.getpwnam(name).pw_uid
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real == uid:
                try:
                    proc.kill()
                    proc.wait(10)
                except psutil.Error:
                    continue
        subprocess.run(["userdel", name], check=True, capture_output=True, timeout=60)


@dataclass
class Role:
    name: str
    password: str
    url: str


@contextmanager
def metadata_role(cluster: PostgresCluster) -> Iterator[Role]:
    """The metadata DB: a login role with a password of its own and a database it owns."""
    name, password = f"wbmeta_{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(18)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(name)
            )
        )
    try:
        yield Role(
            name, password, f"postgresql://{name}:{password}@{cluster.host}:{cluster.port}/{name}"
        )
    finally:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _folder(path: Path, mode: int, owner: int = 0, group: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, owner, group)
    path.chmod(mode)
    return path


def _secret(path: Path, value: str, mode: int, owner: int, group: int) -> Path:
    path.write_text(value + "\n")
    os.chown(path, owner, group)
    path.chmod(mode)
    return path


def _worker_box() -> list[str]:
    """``setpriv`` doing what compose does to the worker: every capability dropped but
    those cap_add lists, and no-new-privileges if security_opt says so."""
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    if shutil.which("setpriv") is None:  # a failure, not a silent skip
        pytest.fail("needs setpriv (util-linux) to box the worker as docker-compose.yml does")
    assert spec.get("cap_drop") == ["ALL"], spec.get("cap_drop")
    kept = ",".join(f"+{c.lower().removeprefix('cap_')}" for c in spec.get("cap_add", []))
    argv = ["setpriv", f"--bounding-set=-all{',' + kept if kept else ''}", "--inh-caps=-all"]
    if "no-new-privileges:true" in spec.get("security_opt", []):
        argv.append("--no-new-privs")
    assert spec["environment"].get("WORKBENCH_STEP_ACCOUNTS"), "the stack names no step account"
    return [*argv, "--"]


def _entrypoint(secrets_dir: Path, private: Path, role: Role, cluster: PostgresCluster) -> str:
    """The images' entrypoint with the docker secrets and the worker's tmpfs moved here,
    and the metadata DB at this role and cluster instead of the stack's postgres."""
    text = (ROOT / "images" / "common" / "workbench-entrypoint.sh").read_text()
    text = text.replace("/run/secrets", str(secrets_dir)).replace("/run/workbench", str(private))
    text = text.replace("postgresql://workbench:", f"postgresql://{role.name}:")
    text = text.replace("@postgres:5432/workbench", f"@{cluster.host}:{cluster.port}/{role.name}")
    assert role.name in text and str(secrets_dir) in text, "the entrypoint changed: update this"
    return text


@dataclass
class BoxedWorker:
    """A worker as its container runs it, and where its secrets and folders are."""

    proc: subprocess.Popen[bytes]
    core: Workbench  # the service's core on the same metadata DB
    queue: str
    key: str
    db_password: str
    secret_files: list[Path]  # as docker mounts them
    private: Path  # the worker's tmpfs /run/workbench
    home: Path  # /srv/workbench
    runs: Path
    snapshots: Path
    lake: Path
    log: Path


@pytest.fixture
def boxed_worker(
    step_account: pwd.struct_passwd,
    pg_cluster: PostgresCluster,
    temporal_address: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BoxedWorker]:
    step = step_account
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # Outside pytest's folders (private to root): the step account must reach the lake.
    work = Path(tempfile.mkdtemp(prefix="workbench-step-account-"))
    work.chmod(0o711)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        role = stack.enter_context(metadata_role(pg_cluster))
        # As docker mounts them: a folder anyone may enter, the files as "5. Secrets"
        # makes them (the key root's and the group's, the DB password its reader's and
        # the group's).
        secrets_dir = _folder(work / "run-secrets", 0o755)
        key_file = _secret(secrets_dir / "workbench_secrets_key", key, 0o640, 0, SECRETS_GROUP)
        password_file = _secret(
            secrets_dir / "workbench_db_password", role.password, 0o440, 65534, SECRETS_GROUP
        )
        private = work / "run-workbench"  # the worker's tmpfs; the entrypoint makes it 0700
        # /srv/workbench and its volumes as the worker image makes them.
        home = _folder(work / "srv-workbench", 0o751, 65534, SECRETS_GROUP)
        lake = _folder(home / "lake", 0o2775, step.pw_uid, step.pw_gid)
        _folder(lake / "bronze", 0o2775, step.pw_uid, step.pw_gid)
        # The core, as the service holds it: migrates the metadata DB, seals connections
        # with the key and registers runs.
        (tmp_path / "service.key").write_text(key + "\n")
        (tmp_path / "service.key").chmod(0o600)
        monkeypatch.setenv("WORKBENCH_SECRETS_KEY_FILE", str(tmp_path / "service.key"))
        core = Workbench(WorkbenchSettings.from_env(home, db_url=role.url))
        stack.callback(core.close)
        queue = f"step-account-{uuid.uuid4().hex[:8]}"
        proc = _start_worker(
            tmp_path,
            _entrypoint(secrets_dir, private, role, pg_cluster),
            home,
            temporal_address,
            queue,
            step.pw_name,
        )
        stack.callback(terminate, proc, 40)
        yield BoxedWorker(
            proc=proc,
            core=core,
            queue=queue,
            key=key,
            db_password=role.password,
            secret_files=[key_file, password_file],
            private=private,
            home=home,
            runs=_folder(home / "runs", 0o750, 0, SECRETS_GROUP),
            snapshots=_folder(home / "pipelines", 0o750, 0, SECRETS_GROUP),
            lake=lake,
            log=tmp_path / "worker.log",
        )


def test_a_step_reads_none_of_the_workers_secrets_and_writes_the_lake(
    boxed_worker: BoxedWorker, step_account: pwd.struct_passwd, temporal_address: str
) -> None:
    box, step = boxed_worker, step_account
    canary = secrets.token_urlsafe(16)  # a password of the owner's, for the step
    ConnectionService(box.core, Principal(name=OWNER)).create(
        ConnectionCreate(
            name="ledger",
            settings=postgres_settings(f"postgresql://ledger:{canary}@127.0.0.1:5432/ledger"),
        )
    )
    worker_environ = f"/proc/{box.proc.pid}/environ"
    paths = [*map(str, box.secret_files), str(box.private / "secrets.key"), worker_environ]
    seen = _run_probe(
        box,
        temporal_address,
        parameters={
            "paths": paths,
            "folders": [str(box.home), str(box.runs), str(box.snapshots), str(box.private)],
            "lake": str(box.lake),
        },
    )

    # The worker read both secrets (its entrypoint, boxed as the worker is): the DB URL
    # is in its environment, the key in its private copy, with which it handed the step
    # its owner's connection.
    assert box.db_password.encode() in Path(worker_environ).read_bytes()
    assert (box.private / "secrets.key").read_text().strip() == box.key
    assert seen["ledger_password"] == canary

    # The step's kernel: the account, its own group only, no capability left.
    assert (seen["uid"], seen["gid"], seen["user"]) == (step.pw_uid, step.pw_gid, step.pw_name)
    assert seen["groups"] in ([], [step.pw_gid]), seen["groups"]
    assert all(int(v, 16) == 0 for name, v in seen["capabilities"] if name != "CapBnd:")
    # Every read failed: the docker secrets, the worker's private copy of the key, the
    # worker's environment (the kernel's parent's), the worker's folders.
    assert set(seen["tried"]) == set(paths), seen["tried"]
    assert set(seen["tried"].values()) == {"PermissionError"}, seen["tried"]
    assert set(seen["listed"].values()) == {"PermissionError"}, seen["listed"]
    for secret in (box.key, box.db_password):
        assert secret not in json.dumps(seen), "a secret of the worker reached the step"
    assert not {"WORKBENCH_DB_URL", "WORKBENCH_SECRETS_KEY_FILE"} & set(seen["environ"])
    # It ran in a private copy of the step's folder with a fresh home beside it, both
    # gone afterwards (the worker could not delete what the step made there itself).
    attempt = Path(seen["cwd"]).parent
    assert attempt.name.startswith("workbench-step-")
    assert Path(seen["environ"]["HOME"]).parent == attempt
    assert not attempt.exists(), sorted(attempt.rglob("*"))
    # ... and wrote the lake, which the worker tells steps is theirs to write.
    assert seen["lake"] == str(box.lake)
    written = box.lake / "bronze" / "from_step.csv"
    assert written.read_text() == "id\n1\n"
    assert (written.stat().st_uid, written.stat().st_gid) == (step.pw_uid, step.pw_gid)


def _start_worker(
    tmp_path: Path, entrypoint: str, home: Path, address: str, queue: str, account: str
) -> subprocess.Popen[bytes]:
    """``workbench worker`` as the container starts it: boxed, through the entrypoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))}
    env |= {
        "WORKBENCH_MODE": "team",
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_STEP_ACCOUNTS": account,
    }
    argv = [
        *_worker_box(),
        *("sh", "-c", entrypoint, "workbench-entrypoint"),
        *worker_argv(address=address, task_queue=queue, concurrency=2),
    ]
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _run_probe(box: BoxedWorker, address: str, parameters: dict[str, object]) -> dict:
    """Run a one-step pipeline of OWNER's whose step is PROBE; return what it printed."""
    notebook = write_notebook(
        box.snapshots / "probe" / "v1" / "probe.ipynb",
        PROBE,
        parameters="paths = []\nfolders = []\nlake = ''",
    )
    run_id = uuid.uuid4().hex
    record_run(box.core, run_id, "probe", OWNER)
    plan = RunPlan(
        run_id=run_id,
        pipeline="probe",
        version=1,
        logical_date="2026-10-31",
        artifacts_dir=str(box.runs / run_id),
        steps=[
            StepPlan(
                id="probe",
                notebook=str(notebook),
                parameters=parameters,
                retries=RetryPlan(attempts=1),
                timeout_s=120,
            )
        ],
    )

    async def execute():
        client = await temporal.connect(address)
        return await client.execute_workflow(
            PipelineRunWorkflow.run, plan, id=f"run-{run_id}", task_queue=box.queue
        )

    result = asyncio.run(asyncio.wait_for(execute(), 180))
    with box.core.sessions() as session:
        attempts = list(session.scalars(select(StepRun).where(StepRun.run_id == run_id)))
    step_log = Path(attempts[0].log_file).read_text(errors="replace") if attempts else ""
    assert result.status == "succeeded", (result, step_log, box.log.read_text()[-4000:])
    assert [(a.status, a.attempt) for a in attempts] == [("succeeded", 1)]
    printed = step_log.split("PROBE ", 1)
    assert len(printed) == 2, step_log
    return json.loads(printed[1].splitlines()[0])
