"""The team stack (docker-compose.yml, images/): checked statically, and every service it
defines started here as a process.

No Docker engine runs on these machines, so the compose file and Dockerfiles are checked
against the Compose Specification's own JSON Schema and the rules of the plan's firewall
table; then each service's component runs for real (``SERVICE_TESTS`` says where): nginx
with the repo's config in front of a real JupyterHub, PostgreSQL with the repo's init
script, Temporal with its UI, a worker passing the image's healthcheck, and a user's
jupyter-server with the image's s3contents config against an S3 endpoint.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.resources
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dockerfile
import jsonschema
import pytest
import requests
import yaml

from tests.support import nginx as nginx_support
from tests.support.hub import running_hub
from tests.support.postgres import find_bindir, running_cluster
from tests.support.processes import terminate
from tests.support.temporal import wait_for_temporal

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
LOCAL_COMPOSE = ROOT / "docker-compose.local.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# Each compose service → the test that starts its component as a process on this machine.
SERVICE_TESTS = {
    "nginx": "tests/test_compose.py::test_nginx_terminates_tls_in_front_of_a_real_hub",
    # A real JupyterHub from the repo's configure(c) (local mode: no Docker engine here
    # for DockerSpawner); team mode is checked by tests/test_hub_config.py.
    "hub": "tests/test_compose.py::test_nginx_terminates_tls_in_front_of_a_real_hub",
    # The service with its container's environment and entrypoint, beside a hub set up by
    # configure(c) for the team stack (DockerSpawner: it starts no server here).
    "workbench-service": (
        "tests/test_compose.py::test_workbench_service_runs_beside_the_hub_as_an_external_service"
    ),
    "singleuser": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
    "worker": "tests/test_compose.py::test_worker_passes_the_image_healthcheck",
    "postgres": "tests/test_compose.py::test_postgres_init_script_makes_both_databases",
    "temporal": "tests/test_compose.py::test_temporal_server_and_ui_answer",
    "temporal-ui": "tests/test_compose.py::test_temporal_server_and_ui_answer",
    # MinIO's S3 API: moto's server stands in (MinIO itself is no PyPI package).
    "minio": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
    # `mc` is not installable here: the test makes the bucket through the same S3 API.
    "createbuckets": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
    # Debian's Prometheus and Alertmanager, with the files images/prometheus/ mounts.
    "prometheus": (
        "tests/test_prometheus.py::test_prometheus_counts_runs_per_status_from_server_and_worker"
    ),
    "alertmanager": (
        "tests/test_prometheus.py::test_prometheus_counts_runs_per_status_from_server_and_worker"
    ),
}
LOCAL_SERVICE_TESTS = {"workbench": "tests/test_up.py"}

PUBLIC_SERVICE, PUBLIC_PORTS = "nginx", {"80", "443"}
LONG_RUNNING_RESTART = {"unless-stopped", "always"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


def _runtime_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services `docker compose up` starts (not the build-only profile)."""
    return {
        name: spec
        for name, spec in compose["services"].items()
        if "build" not in spec.get("profiles", [])
    }


def _one_shot(spec: dict[str, Any]) -> bool:
    return str(spec.get("restart", "no")) == "no" or str(spec["restart"]).startswith("on-failure")


# --- static checks ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE, LOCAL_COMPOSE], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendored / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = validator.iter_errors(load(path))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]
    assert not errors, "\n".join(errors)


def _build(spec: dict[str, Any]) -> tuple[Path, Path] | None:
    build = spec.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


def _dockerfiles() -> list[tuple[str, Path, Path]]:
    found = []
    for path in (COMPOSE, LOCAL_COMPOSE):
        for name, spec in load(path)["services"].items():
            if built := _build(spec):
                found.append((f"{path.name}:{name}", *built))
    return found


@pytest.mark.parametrize("path", [COMPOSE, LOCAL_COMPOSE], ids=lambda p: p.name)
def test_files_the_compose_file_refers_to_exist(path: Path) -> None:
    compose = load(path)
    missing = []
    for name, spec in compose["services"].items():
        if built := _build(spec):
            missing += [f"{name}: {p}" for p in built if not p.exists()]
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            # Relative paths are the repo's files; absolute ones (the docker socket) the
            # host's; ${...} ones the operator's choice (with a default checked below).
            if source.startswith("${") and ":-" in source:
                source = source.split(":-", 1)[1].rstrip("}")
            if source.startswith("."):
                if not (ROOT / source).exists():
                    missing.append(f"{name}: volume {source}")
    assert not missing, missing
    # Secret files are the operator's (never in git); the deploy guide makes each one.
    guide = DEPLOY_DOC.read_text()
    for secret, spec in compose.get("secrets", {}).items():
        assert spec["file"].startswith("./secrets/"), secret
        assert spec["file"].removeprefix("./") in guide, f"docs/deploy.md never makes {secret}"
    assert (ROOT / "secrets" / ".gitignore").read_text().splitlines()[1:] == ["*", "!.gitignore"]


def test_only_nginx_publishes_and_only_80_and_443(compose: dict[str, Any]) -> None:
    published = {}
    for name, spec in compose["services"].items():
        assert spec.get("network_mode") != "host", name
        for port in spec.get("ports", []):
            text = str(port if not isinstance(port, dict) else port["published"])
            parts = text.split(":")
            published.setdefault(name, set()).add(parts[-2] if len(parts) > 1 else parts[-1])
    assert published == {PUBLIC_SERVICE: PUBLIC_PORTS}


def test_networks_follow_the_firewall_table(compose: dict[str, Any]) -> None:
    services, networks = compose["services"], compose["networks"]
    # The hub tells DockerSpawner the network by name: it must be this one, and the hub,
    # the service and the workers are on it (user containers reach the service there).
    assert _user_network(compose) == "workbench_internal"
    for name in ("hub", SERVICE, WORKER):
        assert "workbench_internal" in _networks(services[name]), name
    # Only nginx and the hub face the outside; everything holding state is internal.
    for name in _networks_of(compose, *BACKEND, "minio"):
        if name != "workbench_internal":
            assert networks[name].get("internal") is True, name
    assert _networks(services["createbuckets"]) <= _networks(services["minio"])


# --- who reaches and writes what (issue 14) --------------------------------------------

SERVICE, WORKER, HUB = "workbench-service", "worker", "hub"
BACKEND = ("postgres", "temporal", "temporal-ui")
DOCKER_SOCKET = "/var/run/docker.sock"
# What the service and workers may ask connections, scans, previews and webhooks to reach.
EGRESS_DENIED = {"postgres", "temporal", "temporal-ui", "hub"}


def _networks(spec: dict[str, Any]) -> set[str]:
    return set(spec.get("networks") or ())  # a list, or a mapping by name


def _networks_of(compose: dict[str, Any], *services: str) -> set[str]:
    return set().union(*(_networks(compose["services"][name]) for name in services))


def _user_network(compose: dict[str, Any]) -> str:
    """The compose network DockerSpawner attaches user containers to (by its name)."""
    name = compose["services"][HUB]["environment"]["WORKBENCH_DOCKER_NETWORK"]
    keys = [k for k, v in compose["networks"].items() if (v or {}).get("name", k) == name]
    assert keys, f"DockerSpawner's network {name} is not a network of the compose file"
    return keys[0]


MOUNT = re.compile(r"^(\$\{[^}]*\}[^:]*|[^:]+):([^:]+)(?::([^:]+))?$")


def _mounts(spec: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each of a service's volumes."""
    found = []
    for volume in spec.get("volumes", []):
        if isinstance(volume, dict):
            found.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        match = MOUNT.match(volume)
        assert match, f"volume {volume!r} is not source:target[:mode]"
        source, target, mode = match.groups()
        found.append((source, target, "ro" in (mode or "").split(",")))
    return found


def _named(spec: dict[str, Any], compose: dict[str, Any], writable: bool | None = None) -> set:
    """A service's named volumes (all, only those it may write, or only read-only ones)."""
    return {
        source
        for source, _, read_only in _mounts(spec)
        if source in compose["volumes"] and (writable is None or writable != read_only)
    }


def _final_stage(path: Path) -> list[Any]:
    commands = dockerfile.parse_file(str(path))
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[last_from:]


def _stage_script(path: Path) -> str:
    """The RUN lines of a Dockerfile's final stage, as one shell script."""
    return " && ".join(c.value[0] for c in _final_stage(path) if c.cmd == "RUN")


def _useradd(script: str, user: str) -> tuple[int | None, int | None, str]:
    """(uid, primary gid, the useradd's options) of an account the script makes."""
    added = re.search(rf"useradd ([^&;]*?)\b{re.escape(user)}\b", script)
    assert added, f"{user} is not made by a useradd in its Dockerfile"
    uid = re.search(r"--uid (\d+)", added.group(1))
    group_name = re.search(r"--gid (\S+)", added.group(1))
    gid = None
    if group_name:
        gid_text = group_name.group(1)
        made = re.search(rf"groupadd --gid (\d+) {re.escape(gid_text)}\b", script)
        gid = int(gid_text) if gid_text.isdigit() else int(made.group(1)) if made else None
    return int(uid.group(1)) if uid else None, gid, added.group(1)


def _account(compose: dict[str, Any], name: str) -> tuple[str, int | None, int | None]:
    """(account, uid, gid) a service runs as: compose's ``user:``, else its Dockerfile's
    last ``USER``; root when neither says (uids from the Dockerfile's useradd/groupadd)."""
    spec = compose["services"][name]
    built = _build(spec)
    stage = _final_stage(built[1]) if built else []
    account = str(
        spec.get("user") or next((c.value[0] for c in reversed(stage) if c.cmd == "USER"), "root")
    )
    user, _, group = account.partition(":")
    if user in ("root", "0"):
        return "root", 0, 0
    if user.isdigit():
        return user, int(user), int(group) if group.isdigit() else None
    uid, gid, _ = _useradd(_stage_script(built[1]), user)
    return user, uid, gid


def _core(compose: dict[str, Any]) -> str:
    """The service that runs the workbench core: the one besides the workers that holds
    the secrets key (``workbench-service``; the hub, before it had a container of its own)."""
    holders = [
        name
        for name, spec in compose["services"].items()
        if name != WORKER
        and "workbench_secrets_key"
        in {s if isinstance(s, str) else s["source"] for s in spec.get("secrets", [])}
    ]
    assert len(holders) == 1, f"the secrets key is held by {holders} besides the workers"
    return holders[0]


def _user_container_volumes() -> dict[str, str]:
    """DockerSpawner's volumes for each user's container, as configure(c) sets them."""
    from traitlets.config import Config

    from workbench_hub.config import _docker

    c = Config()
    _docker(c)
    return dict(c.DockerSpawner.volumes)


def test_nothing_users_can_drive_shares_a_network_with_postgres_or_temporal(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    databases = _networks_of(compose, *BACKEND)
    # User code runs in user containers; the hub's proxy forwards users' requests (and
    # the hub holds the engine's socket); nginx takes anyone's.
    driven = {
        name
        for name, spec in services.items()
        if name == PUBLIC_SERVICE or any(s == DOCKER_SOCKET for s, _, _ in _mounts(spec))
    }
    assert driven >= {HUB, PUBLIC_SERVICE}
    assert _user_network(compose) not in databases, "user containers reach PostgreSQL"
    for name in driven:
        shared = _networks(services[name]) & databases
        assert not shared, f"{name} shares {shared} with PostgreSQL or Temporal"
    for network in databases:
        assert compose["networks"][network].get("internal") is True, network


def test_the_service_and_workers_reach_postgres_and_temporal_only(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in (WORKER, _core(compose)):
        mine = _networks(services[name])
        neighbours = {
            other for other, spec in services.items() if other != name and mine & _networks(spec)
        }
        reached = neighbours & {*BACKEND, "createbuckets"}
        assert reached == {"postgres", "temporal"}, f"{name} reaches {sorted(reached)}"
        # ... and refuses them, and the hub, as targets of what users ask it to reach.
        denied = set(services[name]["environment"]["WORKBENCH_EGRESS_DENY"].split(","))
        assert denied >= EGRESS_DENIED, f"{name} may be sent to {EGRESS_DENIED - denied}"


def test_no_root_service_beside_docker_sock_mounts_what_others_write(
    compose: dict[str, Any],
) -> None:
    services = _runtime_services(compose)
    # User containers' volumes are DockerSpawner's, outside compose: none may be one of
    # the compose file's (project-prefixed or by a fixed name).
    user_volumes = {source.split("{")[0] for source in _user_container_volumes()}
    for volume, spec in compose["volumes"].items():
        for name in {f"workbench_{volume}", (spec or {}).get("name", volume)}:
            assert not name.startswith(tuple(user_volumes)), f"{volume} is a user's volume"
    for name, spec in services.items():
        if not any(source == DOCKER_SOCKET for source, _, _ in _mounts(spec)):
            continue
        assert _account(compose, name)[0] == "root", f"{name}: docker.sock needs root"
        named = _named(spec, compose)
        for other, other_spec in services.items():
            if other == name:
                continue
            written = named & _named(other_spec, compose, writable=True)
            assert not written, f"{name} (root, docker.sock) mounts {written}, which {other} writes"
            assert not named & _named(other_spec, compose), f"{name} shares with {other}"
        binds = {s for s, _, _ in _mounts(spec) if s not in compose["volumes"]}
        assert binds == {DOCKER_SOCKET}, f"{name} mounts host paths {binds}"
        # ... nor the secrets that are the core's.
        held = {(s if isinstance(s, str) else s["source"]) for s in spec.get("secrets", [])}
        assert not held & {"workbench_db_password", "workbench_secrets_key"}, name


def test_the_service_and_workers_share_no_writable_volume(compose: dict[str, Any]) -> None:
    services, core = compose["services"], _core(compose)
    service, worker = services[core], services[WORKER]
    both_write = _named(service, compose, True) & _named(worker, compose, True)
    assert not both_write, f"the service and the workers both write {both_write}"
    # What one writes, the other reads read-only, at the same path (the paths the
    # metadata DB keeps): snapshots from the service, run artifacts and lake from steps.
    service_mounts = {s: (t, ro) for s, t, ro in _mounts(service)}
    worker_mounts = {s: (t, ro) for s, t, ro in _mounts(worker)}
    for volume in service_mounts.keys() & worker_mounts.keys():
        assert service_mounts[volume][0] == worker_mounts[volume][0], volume
    home = next(s for s, (t, _) in service_mounts.items() if t == "/srv/workbench")
    assert home not in worker_mounts, "the workers mount the service's home"
    for volume, target in (
        ("workbench-pipelines", "/srv/workbench/pipelines"),
        ("workbench-runs", "/srv/workbench/runs"),
    ):
        assert service_mounts[volume][0] == target == worker_mounts[volume][0]
    assert worker_mounts["workbench-pipelines"][1] is True
    assert service_mounts["workbench-runs"][1] is True
    # Accounts of their own with fixed ids (files on shared volumes): the service never
    # root; the workers root only boxed in to start steps as an account of their own.
    accounts = {name: _account(compose, name) for name in (core, WORKER)}
    for name, (account, uid, gid) in accounts.items():
        if name == WORKER and account == "root":
            problems = _boxed_root_problems(compose, name)
            assert not problems, f"{name} runs as root, and: {'; '.join(problems)}"
            continue
        assert account != "root" and uid and gid, f"{name} runs as {account} ({uid}:{gid})"
    assert accounts[core][1] != accounts[WORKER][1]
    # /run/workbench (the private copy of the key) is theirs.
    for name, (_, uid, gid) in accounts.items():
        tmpfs = " ".join(services[name].get("tmpfs", []))
        assert f"uid={uid}" in tmpfs and f"gid={gid}" in tmpfs, f"{name}: {tmpfs}"


def _secret_modes() -> dict[str, tuple[int, int, int]]:
    """The (mode, owner, group) each secret file ends up with after "5. Secrets" of the
    guide.

    Files are made under ``umask 077`` by root; ``chmod``/``chgrp``/``chown`` lines
    change them.
    """
    guide = DEPLOY_DOC.read_text()
    block = guide[guide.index("### 5. Secrets") :]
    block = block[block.index("```sh") : block.index("```", block.index("```sh") + 5)]
    files = set(re.findall(r"> (secrets/\w+)", block))
    state = {f: (0o600, 0, 0) for f in files}
    for line in block.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] not in ("chmod", "chgrp", "chown"):
            continue
        targets = files if words[2:] == ["secrets/*"] else set(words[2:]) & files
        for target in targets:
            mode, owner, group = state[target]
            if words[0] == "chmod":
                mode = int(words[1], 8)
            elif words[0] == "chgrp":
                group = int(words[1])
            else:
                user, _, new_group = words[1].partition(":")
                owner, group = int(user), int(new_group) if new_group else group
            state[target] = (mode, owner, group)
    return {f.removeprefix("secrets/"): v for f, v in state.items()}


def _allows(state: tuple[int, int, int], uid: int, groups: set[int], wanted: int) -> bool:
    """Whether a process of ``uid`` in ``groups``, without CAP_DAC_OVERRIDE (root included),
    gets the ``wanted`` bits (4 read, 2 write, 1 search) of a file of (mode, owner, group):
    the owner's bits if it owns it, else the group's if it is in it, else the others'."""
    mode, owner, group = state
    shift = 6 if uid == owner else 3 if group in groups else 0
    return (mode >> shift) & wanted == wanted


def _held(spec: dict[str, Any]) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in spec.get("secrets", [])}


def _caps(values: list[Any] | None) -> set[str]:
    return {str(value).upper().removeprefix("CAP_") for value in values or ()}


def _groups(spec: dict[str, Any], gid: int | None) -> set[int]:
    """The groups a service's processes are in: its account's and compose's group_add."""
    return {gid or 0, *(int(group) for group in spec.get("group_add", []))}


def _reads_without_dac_override(compose: dict[str, Any], name: str) -> bool:
    """Whether a service's processes read files through owners, groups and modes only."""
    spec = compose["services"][name]
    if _account(compose, name)[0] != "root":
        return True
    return "ALL" in _caps(spec.get("cap_drop")) and "DAC_OVERRIDE" not in _caps(spec.get("cap_add"))


def test_every_account_can_read_the_secrets_it_is_given(compose: dict[str, Any]) -> None:
    """Outside swarm, compose mounts a file secret with the host file's owner and mode
    (and ignores uid, gid and mode): a non-root service, or root without DAC_OVERRIDE,
    reads only what the guide makes readable for it."""
    modes = _secret_modes()
    assert set(modes) == {
        spec["file"].removeprefix("./secrets/") for spec in compose["secrets"].values()
    }
    for name, spec in _runtime_services(compose).items():
        if not _build(spec):
            continue  # images of others: the guide's comments say what they need
        if not _reads_without_dac_override(compose, name):
            continue  # root as Docker leaves it reads any file
        account, uid, gid = _account(compose, name)
        for source in _held(spec):
            file = compose["secrets"][source]["file"].removeprefix("./secrets/")
            state = modes[file]
            readable = _allows(state, uid or 0, _groups(spec, gid), 4)
            assert readable, f"{name} ({account}) cannot read secrets/{file} {state}"


# --- steps in the workers (issue 15) -------------------------------------------------

STEP_ACCOUNTS_ENV = "WORKBENCH_STEP_ACCOUNTS"
# What starting a step's kernel as another account takes, and all a root worker may keep:
# setuid/setgid to switch, chown to hand the step its working copy and connection file,
# kill to stop its kernel.
STEP_SWITCH_CAPS = {"CHOWN", "SETUID", "SETGID", "KILL"}
NO_NEW_PRIVILEGES = "no-new-privileges:true"


def _boxed_root_problems(compose: dict[str, Any], name: str) -> list[str]:
    """What keeps a root service that runs users' code from being boxed in: it may hold
    no engine socket or host namespace, drops every capability but STEP_SWITCH_CAPS, gains
    none back through set-user-id programs, and runs its steps as an unprivileged account
    of its image that is in none of its groups."""
    spec = compose["services"][name]
    problems = []
    if any(source == DOCKER_SOCKET for source, _, _ in _mounts(spec)):
        problems.append(f"it mounts {DOCKER_SOCKET}")
    if spec.get("privileged"):
        problems.append("it is privileged")
    for key in ("pid", "ipc", "network_mode", "userns_mode", "uts", "cgroup"):
        if str(spec.get(key, "")).startswith("host"):
            problems.append(f"{key}: host")
    if spec.get("devices"):
        problems.append("it is given devices")
    if _caps(spec.get("cap_drop")) != {"ALL"}:
        problems.append(f"cap_drop is {spec.get('cap_drop')}, not [ALL]")
    if _caps(spec.get("cap_add")) != STEP_SWITCH_CAPS:
        problems.append(f"cap_add is {spec.get('cap_add')}, not {sorted(STEP_SWITCH_CAPS)}")
    if NO_NEW_PRIVILEGES not in (spec.get("security_opt") or []):
        problems.append(f"security_opt lacks {NO_NEW_PRIVILEGES}")
    step = (spec.get("environment") or {}).get(STEP_ACCOUNTS_ENV)
    built = _build(spec)
    if not step or step == "hub" or not built:
        problems.append(f"{STEP_ACCOUNTS_ENV} names no account of its image ({step!r})")
        return problems
    uid, gid, options = _useradd(_stage_script(built[1]), step)
    if not uid or not gid:
        problems.append(f"{step} has no fixed uid and gid of its own ({uid}:{gid})")
    if gid in _groups(spec, 0):
        problems.append(f"{step}'s group {gid} is one of the worker's")
    if re.search(r"(^|\s)(-G|--groups)\b", options):
        problems.append(f"{step} is given other groups ({options.strip()})")
    return problems


def _image_folders(path: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, owner, group) of the folders a Dockerfile's final stage makes, after its
    ``mkdir``, ``chown`` and ``chmod`` (numeric modes; owners by id or by the names its
    useradd and groupadd make); folders of the base image are root's, 0755."""
    script = _stage_script(path)
    users = dict(re.findall(r"useradd --uid (\d+)[^&;]*?\s([\w-]+)\s*(?:&&|;|$)", script))
    groups = dict(re.findall(r"groupadd --gid (\d+) ([\w-]+)", script))
    users, groups = {v: int(k) for k, v in users.items()}, {v: int(k) for k, v in groups.items()}
    folders: dict[str, tuple[int, int, int]] = {}
    for command in re.split(r"&&|;", script):
        words = shlex.split(command)
        if not words or words[0] not in ("mkdir", "chown", "chmod"):
            continue
        options = {w for w in words[1:] if w.startswith("-")}
        args = [w for w in words[1:] if not w.startswith("-")]
        if words[0] == "mkdir":
            for target in args:
                for folder in [*reversed(Path(target).parents), Path(target)]:
                    folders.setdefault(str(folder), (0o755, 0, 0))
            continue
        what, targets = args[0], args[1:]
        for target in targets:
            below = "-R" in options
            changed = [f for f in folders if f == target or (below and f.startswith(target + "/"))]
            for folder in changed or [target]:
                mode, owner, group = folders.get(folder, (0o755, 0, 0))
                if words[0] == "chmod":
                    mode = int(what, 8)
                else:
                    user, _, new_group = what.partition(":")
                    owner = int(user) if user.isdigit() else users[user]
                    if new_group:
                        group = int(new_group) if new_group.isdigit() else groups[new_group]
                folders[folder] = (mode, owner, group)
    return folders


def _tmpfs_folder(entry: str) -> tuple[str, tuple[int, int, int]]:
    target, _, options = entry.partition(":")
    given = dict(o.partition("=")[::2] for o in options.split(",") if o)
    mode = int(given.get("mode", "1777"), 8)
    return target, (mode, int(given.get("uid", 0)), int(given.get("gid", 0)))


def test_steps_run_as_an_account_that_reads_none_of_the_workers_secrets(
    compose: dict[str, Any],
) -> None:
    """Steps are users' code: in the workers they run as an account of the image that can
    read neither the metadata DB password nor the key (the files as "5. Secrets" makes
    them, the worker's private copy, the worker's environment) and enters no volume (the
    lake is in MinIO); the worker itself, root boxed in, reads the secrets."""
    spec = compose["services"][WORKER]
    step = (spec.get("environment") or {}).get(STEP_ACCOUNTS_ENV)
    assert step and step != "hub", (
        f"{WORKER}: steps run as the worker itself and read its secrets; set "
        f"{STEP_ACCOUNTS_ENV} to an account of its image"
    )
    account, _, worker_gid = _account(compose, WORKER)
    # Only root starts a process as another account; a non-root worker with the
    # capabilities to do so could become root as well.
    assert account == "root", f"{WORKER} runs as {account}, which cannot start steps as {step}"
    problems = _boxed_root_problems(compose, WORKER)
    assert not problems, f"{WORKER} runs as root, and: {'; '.join(problems)}"
    _, dockerfile_path = _build(spec)
    uid, gid, _ = _useradd(_stage_script(dockerfile_path), step)
    assert uid and gid
    step_groups, worker_groups = {gid}, _groups(spec, worker_gid)
    # The image says so too, for a worker started without this compose file.
    image_env = {
        c.value[i]: c.value[i + 1]
        for c in _final_stage(dockerfile_path)
        if c.cmd == "ENV"
        for i in range(0, len(c.value) - 1, 2)
    }
    assert image_env.get(STEP_ACCOUNTS_ENV) in (None, step), image_env

    modes = _secret_modes()
    for source in _held(spec):
        file = compose["secrets"][source]["file"].removeprefix("./secrets/")
        state = modes[file]
        assert _allows(state, 0, worker_groups, 4), f"the worker cannot read {file} {state}"
        assert not _allows(state, uid, step_groups, 4), f"{step} reads secrets/{file} {state}"
    # The private copy of the key (and the DB URL in the worker's environment, which
    # /proc shows to the same account only): the worker's alone.
    for entry in spec.get("tmpfs", []):
        target, state = _tmpfs_folder(entry)
        if target == "/run/workbench":
            assert not _allows(state, uid, step_groups, 1), f"{step} enters {target}"
            break
    else:
        raise AssertionError(f"{WORKER} has no tmpfs /run/workbench of its own")

    folders = _image_folders(dockerfile_path)
    home = image_env.get("WORKBENCH_HOME", "/srv/workbench")
    assert not _allows(folders[home], uid, step_groups, 4), f"{step} lists {home}"
    for source, target, _ in _mounts(spec):
        if source not in compose["volumes"]:
            continue
        state = folders[target]
        assert not _allows(state, uid, step_groups, 1), f"{step} enters {target} {state}"


def test_a_new_volume_starts_out_right_whichever_image_mounts_it_first(
    compose: dict[str, Any],
) -> None:
    """Docker copies the mount point's owner and mode into an empty named volume: the
    service's and the workers' images make the folders of the volumes both mount alike,
    and each account can do there what its mount says."""
    services, core = compose["services"], _core(compose)
    folders = {name: _image_folders(_build(services[name])[1]) for name in (core, WORKER)}
    mounts = {name: {s: (t, ro) for s, t, ro in _mounts(services[name])} for name in folders}
    shared = mounts[core].keys() & mounts[WORKER].keys() & compose["volumes"].keys()
    assert shared >= {"workbench-pipelines", "workbench-runs"}
    for volume in shared:
        target = mounts[core][volume][0]
        assert folders[core][target] == folders[WORKER][target], (volume, folders)
    for name in folders:
        account, uid, gid = _account(compose, name)
        groups = _groups(services[name], gid)
        for volume, (target, read_only) in mounts[name].items():
            if volume not in compose["volumes"] or target not in folders[name]:
                continue
            wanted = 5 if read_only else 7
            state = folders[name][target]
            assert _allows(state, uid or 0, groups, wanted), f"{name} ({account}): {target}"


# --- S3 credentials: MinIO users and what each reaches (issue 16) -------------------------

MINIO_SECRETS = {
    # secret -> the services that may hold it
    "minio_root_user": {"minio", "createbuckets"},
    "minio_root_password": {"minio", "createbuckets"},
    "minio_workbench_password": {HUB, "createbuckets"},  # signs users' scoped credentials
    "minio_lake_password": {WORKER, "createbuckets"},  # the lake's layers, read and write
    "minio_lake_reader_password": {SERVICE, "createbuckets"},  # the lake's layers, read
}
MINIO = ROOT / "images" / "minio"
# The one policy that names whole buckets: the hub's MinIO user, which only signs
# users' credentials, each narrowed by a session policy to that user's prefixes.
WHOLE_BUCKETS = {"workbench-policy.json"}


def test_minio_credentials_are_held_only_where_they_belong(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {s for s in compose["secrets"] if s.startswith("minio_")} == set(MINIO_SECRETS)
    for secret, holders in MINIO_SECRETS.items():
        held_by = {name for name, spec in services.items() if secret in _held(spec)}
        assert held_by == holders, f"{secret} is held by {sorted(held_by)}"
    # User containers: the compose service they are built from holds no secret, and
    # DockerSpawner mounts none into them.
    assert not services["singleuser"].get("secrets")
    for source, target in _user_container_volumes().items():
        assert "secret" not in f"{source}{target}".lower(), (source, target)


def test_minio_policies_end_every_prefix_with_a_slash() -> None:
    """A prefix without its ``/`` reaches every key that starts like it (``al`` reaches
    ``alice``); only the hub's signing user names whole buckets."""
    files = sorted(MINIO.glob("*.json"))
    assert {f.name for f in files} >= {"lake-writer-policy.json", "lake-reader-policy.json"}
    for path in files:
        policy = json.loads(path.read_text())
        for statement in policy["Statement"]:
            prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [])
            for prefix in prefixes:
                assert prefix.removesuffix("*").endswith("/"), (path.name, prefix)
            for resource in statement["Resource"]:
                bucket, slash, key = resource.removeprefix("arn:aws:s3:::").partition("/")
                assert "*" not in bucket and "?" not in bucket, (path.name, resource)
                if not slash:
                    continue
                assert key.endswith("*") and not set(key[:-1]) & {"*", "?"}, resource
                if key == "*":
                    assert path.name in WHOLE_BUCKETS, (path.name, resource)
                else:
                    assert key[:-1].endswith("/"), (path.name, resource)


def test_the_lake_policies_are_the_ones_the_hub_computes(compose: dict[str, Any]) -> None:
    """The MinIO users' policies (files createbuckets loads) are the hub's own functions'
    for the compose file's lake, so the two cannot drift apart."""
    from workbench_hub.s3 import LakeScope, service_lake_policy, worker_lake_policy

    lake = LakeScope.parse(compose["services"][HUB]["environment"]["WORKBENCH_LAKE_URI"])
    for name, policy in (
        ("lake-writer-policy.json", worker_lake_policy(lake)),
        ("lake-reader-policy.json", service_lake_policy(lake)),
    ):
        assert json.loads((MINIO / name).read_text()) == policy, name
        mounted = f"./images/minio/{name}:/{name}:ro"
        assert mounted in compose["services"]["createbuckets"]["volumes"], name
        assert f"/{name}" in (MINIO / "createbuckets.sh").read_text(), name
    script = (MINIO / "createbuckets.sh").read_text()
    assert f"local/{lake.bucket}" in script, "createbuckets does not make the lake's bucket"
    for user in ("workbench-lake", "workbench-lake-reader"):
        assert f"mc admin user add local {user} " in script, user


def test_users_servers_get_scoped_credentials_and_no_minio_secret(
    compose: dict[str, Any], s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub as compose configures it (team mode, DockerSpawner): what a user's
    container gets at spawn is temporary credentials for that user, the lake's and their
    sandbox's URIs, and none of MinIO's secrets."""
    from traitlets.config import Config

    from workbench_hub.config import configure

    values = {source: secrets.token_urlsafe(16) for source in compose["secrets"]}
    values["minio_root_user"] = "workbench-root"
    hub_secrets = _secret_files(compose, HUB, tmp_path / "secrets", values)
    with _discovery() as issuer:
        hosts = {"http://minio:9000": s3_endpoint}
        given = {
            "WORKBENCH_DOMAIN": "workbench.example.com",
            "WORKBENCH_OIDC_ISSUER": issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench",
        }
        for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
            monkeypatch.delenv(name)
        env = _compose_environment(compose["services"][HUB], given, hosts)
        env |= {f"{t.upper()}_FILE": str(p) for t, p in hub_secrets.items()}
        env["WORKBENCH_HUB_STATE_DIR"] = str(tmp_path / "state")
        env["WORKBENCH_HOME"] = str(tmp_path / "home")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        c = Config()
        configure(c, mode="team")
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"), environment={})
    asyncio.run(c.Spawner.pre_spawn_hook(spawner))
    container = {**c.Spawner.environment, **spawner.environment}
    assert spawner.environment["WORKBENCH_LAKE_URI"] == "s3://lake/main"
    assert spawner.environment["WORKBENCH_LAKE_SANDBOX_URI"] == "s3://lake/sandbox/ada"
    assert spawner.environment["AWS_SESSION_TOKEN"]
    assert spawner.environment["AWS_ACCESS_KEY_ID"] not in ("workbench", "workbench-root")
    for secret in MINIO_SECRETS:
        assert values[secret] not in json.dumps(container), secret
        assert secret.upper() not in json.dumps(container), secret


def test_the_core_opens_the_team_lake_where_the_hub_scopes_it(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service and the workers open the lake the hub scopes users' credentials to,
    each as its own MinIO user with its password from its docker secret, and keep no
    lake on a volume."""
    from workbench_server.lake import Lake
    from workbench_server.settings import WorkbenchSettings

    uri = compose["services"][HUB]["environment"]["WORKBENCH_LAKE_URI"]
    values = {source: secrets.token_urlsafe(16) for source in compose["secrets"]}
    users = {SERVICE: "workbench-lake-reader", WORKER: "workbench-lake"}
    for name, user in users.items():
        spec = compose["services"][name]
        assert not any(target.endswith("/lake") for _, target, _ in _mounts(spec)), name
        folder = tmp_path / name
        folder.mkdir()
        made = _secret_files(compose, name, folder / "secrets", values)
        env = _compose_environment(spec, {}, {"/run/secrets": str(folder / "secrets")})
        with monkeypatch.context() as patch:
            for variable in [v for v in os.environ if v.startswith(("WORKBENCH_", "AWS_"))]:
                patch.delenv(variable)
            for variable, value in env.items():
                patch.setenv(variable, value)
            lake = Lake.default(WorkbenchSettings.from_env(folder / "home")).location
        assert lake.root == uri, name
        assert lake.storage.access_key_id == user, name
        password = made["minio_lake_reader_password" if name == SERVICE else "minio_lake_password"]
        assert lake.storage.secret_access_key.get_secret_value() == password.read_text().strip()
        assert str(lake.storage.endpoint_url).rstrip("/") == "http://minio:9000", name
    assert "workbench-lake" not in compose["volumes"]


def _doc_table(header: str) -> list[list[str]]:
    """The rows of the guide's table whose header line starts with ``header``."""
    lines = DEPLOY_DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def test_the_deploy_guide_says_which_networks_each_service_is_on(
    compose: dict[str, Any],
) -> None:
    services, runtime = compose["services"], _runtime_services(compose)
    documented = {}
    for cells in _doc_table("| service | image | what it does | networks |"):
        name = re.match(r"`([^`]+)`", cells[0]).group(1)
        documented[name] = set(re.findall(r"[a-z_]+", cells[-1])) & (
            set(compose["networks"]) | {"user"}
        )
    assert set(documented) == set(services)
    for name in services:
        expected = _networks(services[name]) if name in runtime else {_user_network(compose)}
        assert documented[name] - {"user"} == expected, name


def test_the_deploy_guide_says_what_each_account_writes_reads_and_holds(
    compose: dict[str, Any],
) -> None:
    services, runtime = compose["services"], _runtime_services(compose)
    rows = {
        re.match(r"`([^`]+)`", cells[0]).group(1): cells
        for cells in _doc_table("| service | account | writes | reads, never writes | secrets |")
    }
    # Every service built from this repository runs the workbench's code: all are here.
    ours = {name for name, spec in services.items() if (built := _build(spec)) and built[0] == ROOT}
    assert set(rows) == ours
    for name, (_, account_cell, writes, reads, secrets_cell) in rows.items():
        account, uid, _ = _account(compose, name)
        spec = services[name]
        if account == "root":
            assert account_cell.startswith("root"), name
            if step := (spec.get("environment") or {}).get(STEP_ACCOUNTS_ENV):
                # A boxed root says how, and as whom its steps run.
                step_uid, _, _ = _useradd(_stage_script(_build(spec)[1]), step)
                kept = _caps(spec.get("cap_add")) | {step}
                assert _ticked(account_cell) >= kept, (name, kept - _ticked(account_cell))
                assert f"uid {step_uid}" in account_cell and "no-new-privileges" in account_cell
        else:
            assert _ticked(account_cell) == {account} and f"uid {uid}" in account_cell, name
        if name in runtime:
            assert _ticked(writes) == _named(spec, compose, writable=True), name
            assert _ticked(reads) == _named(spec, compose, writable=False), name
            held = {s if isinstance(s, str) else s["source"] for s in spec.get("secrets", [])}
            assert _ticked(secrets_cell) == held, name
        else:  # user containers: what DockerSpawner mounts
            volumes = {v.replace("{username}", "<name>") for v in _user_container_volumes()}
            assert _ticked(writes) == volumes and not _ticked(reads) | _ticked(secrets_cell), name


def test_the_deploy_guide_says_what_steps_can_read_in_a_worker(compose: dict[str, Any]) -> None:
    """The guide's table of a worker container's accounts: the step account writes what it
    may write and names, among what it cannot read, each secret of the worker and each
    volume it cannot enter."""
    spec = compose["services"][WORKER]
    step = (spec.get("environment") or {}).get(STEP_ACCOUNTS_ENV)
    rows = _doc_table("| account | what runs as it | reads | writes | cannot read |")
    assert rows and rows[0][0].startswith(_account(compose, WORKER)[0]), rows
    cells = next((c for c in rows if _ticked(c[0]) == {step}), None)
    assert cells, f"no row for {step} in the guide's table of a worker container"
    _, dockerfile_path = _build(spec)
    uid, gid, _ = _useradd(_stage_script(dockerfile_path), step)
    folders = _image_folders(dockerfile_path)
    volumes = {s: t for s, t, _ in _mounts(spec) if s in compose["volumes"]}
    writable = {v for v, t in volumes.items() if _allows(folders[t], uid, {gid}, 3)}
    closed = {v for v, t in volumes.items() if not _allows(folders[t], uid, {gid}, 1)}
    _, _, reads, writes, cannot = cells
    assert _ticked(writes) == writable, (writes, writable)
    assert _ticked(cannot) == _held(spec) | closed, (cannot, _held(spec) | closed)
    assert not _ticked(reads) & (_held(spec) | closed), reads


def test_every_service_has_a_healthcheck_and_a_restart_policy(compose: dict[str, Any]) -> None:
    services = _runtime_services(compose)
    waited_for = {
        dependency
        for spec in services.values()
        for dependency, rule in (spec.get("depends_on") or {}).items()
        if rule.get("condition") == "service_completed_successfully"
    }
    for name, spec in services.items():
        if _one_shot(spec):
            # A job: runs once, must finish before what depends on it starts.
            assert name in waited_for, f"{name} runs once but nothing waits for it"
            assert "healthcheck" not in spec, name
            continue
        assert spec.get("restart") in LONG_RUNNING_RESTART, name
        check = spec.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith(("/", ".", "$")):
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
    # Build-only images carry their own HEALTHCHECK.
    for name, spec in compose["services"].items():
        if name not in services:
            _, path = _build(spec)
            assert any(c.cmd == "HEALTHCHECK" for c in dockerfile.parse_file(str(path))), name
    # State lives in named volumes, so `docker compose down` (without -v) loses nothing.
    for name, target in (
        ("postgres", "/var/lib/postgresql/data"),
        ("minio", "/data"),
        ("hub", "/srv/jupyterhub"),
        ("workbench-service", "/srv/workbench"),
        ("workbench-service", "/srv/workbench/pipelines"),
        ("worker", "/srv/workbench/runs"),
    ):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert mounts[target] in compose["volumes"], name


def _read_names() -> set[str]:
    """Every WORKBENCH_* name the code and images read."""
    text = "".join(
        p.read_text(errors="ignore")
        for folder in ("hub", "server_ext", "pipelines", "images")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in {".py", ".sh", ".template", ""} and p.is_file()
    )
    return set(re.findall(r"WORKBENCH_[A-Z0-9_]+", text))


def test_settings_are_ones_the_code_reads_and_all_in_env_example(compose: dict[str, Any]) -> None:
    read = _read_names()
    for name, spec in compose["services"].items():
        for variable in spec.get("environment") or {}:
            if variable.startswith("WORKBENCH_"):
                assert variable in read, f"{name}: nothing reads {variable}"
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert interpolated == documented


@pytest.mark.parametrize(
    ("service", "context", "path"), _dockerfiles(), ids=[d[0] for d in _dockerfiles()]
)
def test_dockerfiles_parse_and_copy_what_exists(service: str, context: Path, path: Path) -> None:
    commands = dockerfile.parse_file(str(path))
    assert commands, path
    first = next(c for c in commands if c.cmd != "ARG")
    assert first.cmd == "FROM", f"{path}: starts with {first.cmd}"
    ignore_file = path.with_name(path.name + ".dockerignore")
    ignored = ignore_file.read_text().split() if ignore_file.exists() else []
    for command in commands:
        assert command.cmd != "ADD" or not any(
            v.startswith(("http://", "https://")) for v in command.value
        ), f"{path}:{command.start_line}: ADD of a URL (download with RUN and check it)"
        if command.cmd in {"COPY", "ADD"} and not any(
            f.startswith("--from=") for f in command.flags
        ):
            for source in command.value[:-1]:
                assert (context / source).exists(), f"{path}:{command.start_line}: {source}"
                top = source.split("/")[0]
                assert top not in ignored, f"{path}: {source} is in {ignore_file.name}"


# Images whose PID 1 reaps by itself: nginx's master process waits for its workers and
# starts nothing else.
REAPS_BY_ITSELF = {"nginx"}


@pytest.mark.parametrize(
    ("service", "context", "path"), _dockerfiles(), ids=[d[0] for d in _dockerfiles()]
)
def test_every_image_runs_under_an_init_that_reaps(service: str, context: Path, path: Path) -> None:
    """A process that dies leaves its children to PID 1, which must wait for them: a
    ``kill -9`` of ``workbench up`` (the OOM killer) hands it what its parts ran, a worker
    killed its kernels, a step's kernel its own children. ``workbench worker``, the hub
    and the service never wait for processes that are not theirs, so as PID 1 they kept
    them as zombies for good. Each image starts its command under tini, which reaps them,
    wherever the image runs (``docker run`` without ``--init``, Kubernetes, which has no
    such option); compose adds no ``init`` of its own in front of it."""
    compose_name, _, service = service.partition(":")
    if service in REAPS_BY_ITSELF:
        return
    stage = _final_stage(path)
    entrypoints = [c.value for c in stage if c.cmd == "ENTRYPOINT"]
    assert entrypoints, f"{path}: no ENTRYPOINT, so its CMD is PID 1"
    assert entrypoints[-1][0] == "tini", f"{path}: PID 1 is {entrypoints[-1][0]}, not tini"
    assert re.search(r"apt-get install [^&]*\btini\b", _stage_script(path)), (
        f"{path}: tini is not installed in the final stage"
    )
    spec = load(ROOT / compose_name)["services"][service]
    assert not spec.get("init"), f"{compose_name}: {service} puts an init in front of tini"


def test_every_service_is_started_by_a_test() -> None:
    for path, mapping in ((COMPOSE, SERVICE_TESTS), (LOCAL_COMPOSE, LOCAL_SERVICE_TESTS)):
        services = set(load(path)["services"])
        assert set(mapping) == services, (
            f"{path.name}: map every service to the test that starts it "
            f"(new: {services - set(mapping)}, gone: {set(mapping) - services})"
        )
        for reference in mapping.values():
            file, _, function = reference.partition("::")
            tree = ast.parse((ROOT / file).read_text())
            if function:
                names = {
                    n.name
                    for n in ast.walk(tree)
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                }
                assert function in names, reference


# --- every service as a process -----------------------------------------------------------


def test_nginx_terminates_tls_in_front_of_a_real_hub(tmp_path: Path) -> None:
    nginx_support.nginx_binary()  # fails with what to install when missing
    with running_hub(tmp_path / "hub") as hub, running_nginx_for(hub.url) as proxy:
        # Port 80 only redirects to the public HTTPS URL, path and query kept.
        plain = requests.get(f"{proxy.http_url}/hub/login?next=%2Fhub%2F", allow_redirects=False)
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"{proxy.https_url}/hub/login?next=%2Fhub%2F"
        # HTTPS with the certificate the image's script made, verified against it (per
        # request: REQUESTS_CA_BUNDLE in the environment would override Session.verify).
        tls = {"verify": str(proxy.cert), "timeout": 10}
        session = requests.Session()
        page = session.get(f"{proxy.https_url}/hub/login", **tls)
        assert page.status_code == 200
        assert 'name="password"' in page.text
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        # Signing in through the proxy works: the hub sees the forwarded scheme and host.
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert xsrf
        answer = session.post(
            f"{proxy.https_url}/hub/login",
            data={"username": "ada", "password": hub.user_password, "_xsrf": xsrf.group(1)},
            allow_redirects=False,
            **tls,
        )
        assert answer.status_code == 302, answer.text[:300]
        assert session.get(f"{proxy.https_url}/hub/api/user", **tls).json()["name"] == "ada"
        assert session.get(f"{proxy.https_url}/hub/health", **tls).status_code == 200


def running_nginx_for(url: str):
    return nginx_support.running_nginx(url.removeprefix("http://").rstrip("/"))


def test_nginx_config_passes_nginx_t() -> None:
    binary = nginx_support.nginx_binary()
    work = Path(tempfile.mkdtemp(prefix="workbench-nginx-t-"))
    try:
        # Upstream on loopback: `hub` resolves only on the compose network.
        _, main = nginx_support.prepare(work, "127.0.0.1:8000")
        rendered = (work / "conf.d" / "workbench.conf").read_text()
        assert "${" not in rendered and "$request_uri" in rendered and "$host" in rendered
        checked = nginx_support.check_config(binary, work, main)
        assert checked.returncode == 0, checked.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_postgres_init_script_makes_both_databases() -> None:
    import psycopg

    script = ROOT / "images" / "postgres" / "initdb" / "10-workbench.sh"
    secrets = Path(tempfile.mkdtemp(prefix="workbench-pg-secrets-"))
    (secrets / "workbench_db_password").write_text("wb pass'word\n")
    (secrets / "temporal_db_password").write_text("temporal-secret\n")
    # Not under pytest's tmp dir: the cluster runs as an unprivileged user.
    with running_cluster(Path(tempfile.mkdtemp(prefix="workbench-pg-init-"))) as cluster:
        # The script as the image runs it, with the secrets folder moved.
        text = script.read_text().replace("/run/secrets", str(secrets))
        env = os.environ | {
            "PATH": f"{find_bindir()}:{os.environ['PATH']}",
            "POSTGRES_USER": cluster.user,
            "PGHOST": cluster.host,
            "PGPORT": str(cluster.port),
            "PGPASSWORD": cluster.password,
        }
        done = subprocess.run(
            ["sh", "-c", text], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        for user, password, database in (
            ("workbench", "wb pass'word", "workbench"),
            ("temporal", "temporal-secret", "temporal"),
            ("temporal", "temporal-secret", "temporal_visibility"),
        ):
            with psycopg.connect(
                host=cluster.host,
                port=cluster.port,
                user=user,
                password=password,
                dbname=database,
                connect_timeout=10,
            ) as conn:
                owner = conn.execute(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                    (database,),
                ).fetchone()
                assert owner == (user,)
    shutil.rmtree(secrets, ignore_errors=True)


@pytest.fixture(scope="module")
def temporal_with_ui() -> Iterator[tuple[str, str]]:
    """``temporal server start-dev`` with its web UI (the dev server embeds the same UI)."""
    from workbench_server.supervisor import free_port
    from workbench_server.temporal import temporal_binary

    work = Path(tempfile.mkdtemp(prefix="workbench-temporal-ui-"))
    # Four different ports: free_port may hand out one just freed twice in a row.
    ports: list[int] = []
    while len(ports) < 4:
        if (candidate := free_port("127.0.0.1")) not in ports:
            ports.append(candidate)
    port, ui_port, http_port, metrics_port = ports
    argv = [
        str(temporal_binary()),
        *("server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)),
        *("--ui-port", str(ui_port), "--http-port", str(http_port)),
        *("--metrics-port", str(metrics_port)),
        *("--db-filename", str(work / "temporal.db"), "--log-level", "warn"),
        "--ui-disable-news-fetch",  # no network here
    ]
    with (work / "temporal.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        try:
            asyncio.run(wait_for_temporal(f"127.0.0.1:{port}", proc))
        except RuntimeError as exc:
            raise AssertionError(f"{exc}: {(work / 'temporal.log').read_text()[-2000:]}") from None
        ui = f"http://127.0.0.1:{ui_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (work / "temporal.log").read_text()
            try:
                if requests.get(ui, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield f"127.0.0.1:{port}", ui
    finally:
        terminate(proc)
        shutil.rmtree(work, ignore_errors=True)


def test_temporal_server_and_ui_answer(temporal_with_ui: tuple[str, str]) -> None:
    _, ui = temporal_with_ui
    page = requests.get(ui, timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    # The UI reads the cluster through its own API, as temporal-ui does from `temporal`.
    # (Its gRPC channel may have dialled before the frontend listened: it redials.)
    deadline = time.monotonic() + 30
    while (namespaces := requests.get(f"{ui}/api/v1/namespaces", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, namespaces.text[:300]
        time.sleep(0.5)
    assert "default" in namespaces.text


def test_worker_passes_the_image_healthcheck(
    temporal_with_ui: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from tests.conftest import spawn_worker, stop_worker

    address, _ = temporal_with_ui
    script = ROOT / "images" / "worker" / "healthcheck.py"
    settings = {"WORKBENCH_TEMPORAL_ADDRESS": address, "WORKBENCH_TASK_QUEUE": "compose-check"}
    settings["WORKBENCH_HOME"] = str(tmp_path / "home")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    # The script's check, in this process while waiting (a fresh interpreter per poll is
    # slow on a busy machine); then the script itself, as Docker runs it.
    spec = importlib.util.spec_from_file_location("worker_healthcheck", script)
    assert spec and spec.loader
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)
    assert "no worker of" in (asyncio.run(healthcheck.check()) or "")
    proc = spawn_worker(tmp_path / "home", address, "compose-check")
    try:
        deadline = time.monotonic() + 90
        while (problem := asyncio.run(healthcheck.check())) and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "home" / "worker-test.log").read_text()
            time.sleep(0.5)
        assert problem is None, problem
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60
        )
        assert (done.returncode, done.stdout.strip()) == (0, "healthy"), done.stderr
    finally:
        stop_worker(proc)


EXTERNAL_HUB_CONFIG = """\
import os
from workbench_hub.config import configure

configure(c)
# On loopback here; in the stack the hub API listens on the hub's compose networks.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.services.append({{"name": "test-admin", "api_token": os.environ["TEST_ADMIN_TOKEN"]}})
c.JupyterHub.load_roles.append(
    {{"name": "test-admin", "scopes": ["admin:users", "tokens", "read:services"],
      "services": ["test-admin"]}}
)
"""


def _compose_environment(spec: dict[str, Any], given: dict[str, str], hosts: dict[str, str]):
    """A service's ``environment`` as compose would give it (``given`` for .env settings,
    else each ``${NAME:-default}``), with compose host names replaced by ``hosts``."""

    def interpolate(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition(":-")
        name = name.split(":?")[0]
        return given.get(name, default)

    env = {}
    for name, value in (spec.get("environment") or {}).items():
        value = re.sub(r"\$\{([^}]*)\}", interpolate, str(value))
        for host, here in hosts.items():
            value = value.replace(host, here)
        env[name] = value
    return env


def _secret_files(compose: dict[str, Any], name: str, folder: Path, values: dict[str, str]):
    """The service's docker secrets as files in ``folder``, named by their targets."""
    folder.mkdir(mode=0o700)
    made = {}
    for secret in compose["services"][name].get("secrets", []):
        source = secret if isinstance(secret, str) else secret["source"]
        target = source if isinstance(secret, str) else secret.get("target", source)
        (folder / target).write_text(values[source] + "\n")
        (folder / target).chmod(0o600)
        made[target] = folder / target
    return made


@contextmanager
def _discovery() -> Iterator[str]:
    """An OpenID provider's discovery document (the hub reads it at start; nobody signs in
    here: users and tokens come from the hub's API)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Discovery(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = json.dumps(
                {f"{k}_endpoint": f"{base}/{k}" for k in ("authorization", "token", "userinfo")}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_workbench_service_runs_beside_the_hub_as_an_external_service(
    compose: dict[str, Any],
    temporal_with_ui: tuple[str, str],
    pg_conninfo: str,
    tmp_path: Path,
) -> None:
    """The service as its container runs it (the compose file's environment and secrets,
    the image's entrypoint and command), started by nobody but compose, beside a hub set
    up by configure(c) from the hub's compose environment (team mode, DockerSpawner): the
    hub routes /services/workbench/ to it, users reach it with their tokens, and the hub
    holds neither the DB password nor the key."""
    from cryptography.fernet import Fernet

    from tests.support.hub import Family, stop
    from workbench_server.supervisor import free_port

    if shutil.which("configurable-http-proxy") is None:  # a failure, not a silent skip
        pytest.fail("needs `npm install -g configurable-http-proxy` (.ci/run does it)")
    ports: list[int] = []
    while len(ports) < 4:
        if (candidate := free_port("127.0.0.1")) not in ports:
            ports.append(candidate)
    proxy_port, hub_port, proxy_api_port, service_port = ports
    hosts = {
        "hub:8081": f"127.0.0.1:{hub_port}",
        "workbench-service:8181": f"127.0.0.1:{service_port}",
        "temporal:7233": temporal_with_ui[0],
        "0.0.0.0": "127.0.0.1",
    }
    values = {
        "workbench_service_api_token": secrets.token_hex(32),
        "workbench_secrets_key": Fernet.generate_key().decode(),
        "workbench_db_password": pg_conninfo.split(":")[2].split("@")[0],
        "workbench_oidc_client_secret": secrets.token_urlsafe(16),
        "minio_workbench_password": secrets.token_urlsafe(16),
        "minio_lake_reader_password": secrets.token_urlsafe(16),
        "workbench_metrics_token": secrets.token_hex(32),
    }
    entrypoint = (ROOT / "images" / "common" / "workbench-entrypoint.sh").read_text()
    service_dir, base = (
        tmp_path / "service",
        {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))},
    )
    service_dir.mkdir()
    _secret_files(compose, SERVICE, service_dir / "secrets", values)
    # Secrets the service reads itself (its lake password): where the test put them.
    here = hosts | {"/run/secrets": str(service_dir / "secrets")}
    service_env = base | _compose_environment(compose["services"][SERVICE], {}, here)
    service_env |= {
        "WORKBENCH_HOME": str(service_dir / "home"),  # the image's /srv/workbench
        # From the secret workbench_db_password in the stack (the entrypoint).
        "WORKBENCH_DB_URL": pg_conninfo,
    }
    text = entrypoint.replace("/run/secrets", str(service_dir / "secrets"))
    text = text.replace("/run/workbench", str(service_dir / "private"))
    _, dockerfile_path = _build(compose["services"][SERVICE])
    command = next(c.value for c in reversed(_final_stage(dockerfile_path)) if c.cmd == "CMD")
    argv = ["sh", "-c", text, "workbench-entrypoint"]
    argv += [sys.executable if word == "python3" else word for word in command]

    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    hub_secrets = _secret_files(compose, HUB, hub_dir / "secrets", values)
    admin_token = secrets.token_hex(32)
    config = hub_dir / "jupyterhub_config.py"
    config.write_text(EXTERNAL_HUB_CONFIG.format(hub_port=hub_port, proxy_api_port=proxy_api_port))
    with _discovery() as issuer:
        given = {
            "WORKBENCH_DOMAIN": f"127.0.0.1:{proxy_port}",
            "WORKBENCH_OIDC_ISSUER": issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench",
        }
        hub_env = base | _compose_environment(compose["services"][HUB], given, hosts)
        hub_env |= {
            # Docker secrets are files in /run/secrets there; here <NAME>_FILE says where.
            **{f"{target.upper()}_FILE": str(path) for target, path in hub_secrets.items()},
            "WORKBENCH_HUB_IP": "127.0.0.1",
            "WORKBENCH_HUB_HOST": "127.0.0.1",  # `hub` on the compose networks
            "WORKBENCH_HUB_PORT": str(proxy_port),
            "WORKBENCH_HUB_STATE_DIR": str(hub_dir / "state"),
            "TEST_ADMIN_TOKEN": admin_token,
        }
        (hub_dir / "state").mkdir(mode=0o700)
        with (service_dir / "service.log").open("ab") as log:
            service = subprocess.Popen(
                argv, env=service_env, stdout=log, stderr=subprocess.STDOUT, cwd=service_dir
            )
        with (hub_dir / "hub.log").open("ab") as log:
            hub = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                env=hub_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=hub_dir,
                start_new_session=True,
            )
        family = Family(hub)

        def logs() -> str:
            return "\n".join(
                f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                for path in (hub_dir / "hub.log", service_dir / "service.log")
            )

        proxy = f"http://127.0.0.1:{proxy_port}"
        admin = {"Authorization": f"token {admin_token}"}
        try:
            deadline = time.monotonic() + 90
            while True:
                family.update()
                assert hub.poll() is None and service.poll() is None, logs()
                try:
                    if requests.get(f"{proxy}/hub/api/", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, logs()
                time.sleep(0.3)
            made = requests.post(f"{proxy}/hub/api/users/alice", headers=admin, timeout=10)
            assert made.status_code == 201, made.text
            token = requests.post(
                f"{proxy}/hub/api/users/alice/tokens", json={}, headers=admin, timeout=10
            ).json()["token"]
            url = f"{proxy}/services/workbench/workbench/api/connections"
            while True:  # the service migrates its database before it answers
                assert service.poll() is None, logs()
                try:
                    answer = requests.get(
                        url, headers={"Authorization": f"token {token}"}, timeout=10
                    )
                    if answer.status_code not in (502, 503):
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, logs()
                time.sleep(0.5)
            assert (answer.status_code, answer.json()) == (200, []), answer.text[:300]
            assert requests.get(url, timeout=10).status_code == 403
            bad = requests.get(url, headers={"Authorization": "token nope"}, timeout=10)
            assert bad.status_code == 403

            # The hub started nothing for it and knows it by URL only.
            known = requests.get(f"{proxy}/hub/api/services/workbench", headers=admin, timeout=10)
            assert known.json()["url"] == f"http://127.0.0.1:{service_port}"
            assert not known.json()["command"] and not known.json()["pid"]
            family.update()
            assert service.pid not in family.seen
            # The entrypoint gave the service its token from the secret.
            environ = Path(f"/proc/{service.pid}/environ").read_bytes().decode(errors="replace")
            assert f"JUPYTERHUB_API_TOKEN={values['workbench_service_api_token']}" in environ
            # ... and Prometheus' scrape token, as a private copy: the metrics answer to it.
            metrics = f"{proxy}/services/workbench/workbench/metrics"
            scrape = {"Authorization": f"Bearer {values['workbench_metrics_token']}"}
            scraped = requests.get(metrics, headers=scrape, timeout=10)
            assert scraped.status_code == 200, scraped.text[:300]
            assert "workbench_disk_used_bytes" in scraped.text
            assert requests.get(metrics, timeout=10).status_code == 403
            # Nothing of the core's reaches the hub: not its environment, not its processes.
            for pid in (hub.pid, *family.seen):
                try:
                    seen = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                assert "WORKBENCH_DB_URL" not in seen and "WORKBENCH_SECRETS_KEY" not in seen
                assert values["workbench_secrets_key"] not in seen
                assert values["workbench_db_password"] not in seen
        finally:
            stop(family)
            terminate(service, 20)


def test_singleuser_server_keeps_notebooks_in_s3(s3_endpoint: str, tmp_path: Path) -> None:
    import boto3

    from workbench_hub.config import ScopedS3Credentials
    from workbench_server.supervisor import free_port

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="workbench",
        aws_secret_access_key="workbench-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="notebooks")
    # What the hub gives ada's container at spawn: her own temporary credentials.
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"), environment={})
    hook = ScopedS3Credentials("notebooks", s3_endpoint, "workbench", "workbench-secret", 3600)
    asyncio.run(hook(spawner))
    assert spawner.environment["AWS_SESSION_TOKEN"]
    assert "workbench-secret" not in spawner.environment.values()
    port, token = free_port("127.0.0.1"), "compose-test-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "WORKBENCH_"))}
    env |= {
        **spawner.environment,
        "JUPYTERHUB_USER": "ada",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    root = tmp_path / "work"
    root.mkdir()
    config = ROOT / "images" / "singleuser" / "jupyter_server_config.py"
    argv = [
        *(sys.executable, "-m", "jupyter_server", "--config", str(config)),
        *(f"--port={port}", "--ip=127.0.0.1", "--no-browser", "--allow-root"),
        *(f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"),
    ]
    with (tmp_path / "server.log").open("ab") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/api/status", headers=headers, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        notebook = {
            "cells": [
                {
                    "id": "c1",
                    "cell_type": "code",
                    "source": "SELECT 1",
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        saved = requests.put(
            f"{url}/api/contents/month-end.ipynb",
            json={"type": "notebook", "content": notebook},
            headers=headers,
            timeout=30,
        )
        assert saved.status_code == 201, saved.text
        # In the bucket under the hub user's prefix, and not on the container's disk.
        stored = s3.get_object(Bucket="notebooks", Key="ada/month-end.ipynb")
        assert json.loads(stored["Body"].read())["cells"][0]["source"] == "SELECT 1"
        assert not list(root.iterdir())
        read = requests.get(f"{url}/api/contents/month-end.ipynb", headers=headers, timeout=30)
        assert read.status_code == 200
        assert read.json()["content"]["cells"][0]["source"] == "SELECT 1"
        listing = requests.get(f"{url}/api/contents/", headers=headers, timeout=30).json()
        assert [item["name"] for item in listing["content"]] == ["month-end.ipynb"]
    finally:
        terminate(proc, 20)


def test_nginx_passes_websockets_through() -> None:
    """Kernels talk over websockets: the Upgrade must reach the upstream and come back."""
    import ssl
    import threading

    from tornado.httpclient import HTTPRequest
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop
    from tornado.web import Application
    from tornado.websocket import WebSocketHandler, websocket_connect

    from workbench_server.supervisor import free_port

    nginx_support.nginx_binary()  # fails with what to install when missing

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(f"{self.request.headers.get('X-Forwarded-Proto')}:{message}")

    port, started = free_port("127.0.0.1"), threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        loop = IOLoop(make_current=False)

        def start() -> None:
            server = HTTPServer(Application([(r"/user/ada/api/kernels/k/channels", Echo)]))
            server.listen(port, "127.0.0.1")
            holder.update(loop=loop, server=server)
            started.set()

        loop.add_callback(start)
        loop.start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        with nginx_support.running_nginx(f"127.0.0.1:{port}") as proxy:
            context = ssl.create_default_context(cafile=str(proxy.cert))

            async def exchange() -> str | None:
                url = proxy.https_url.replace("https", "wss", 1)
                request = HTTPRequest(f"{url}/user/ada/api/kernels/k/channels", ssl_options=context)
                socket = await websocket_connect(request)
                socket.write_message("ping")
                answer = await socket.read_message()
                socket.close()
                return answer

            assert asyncio.run(asyncio.wait_for(exchange(), 20)) == "https:ping"
    finally:
        loop = holder.get("loop")
        if loop is not None:
            loop.add_callback(holder["server"].stop)
            loop.add_callback(loop.stop)
        thread.join(10)
