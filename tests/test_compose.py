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
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
    "singleuser": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
    "worker": "tests/test_compose.py::test_worker_passes_the_image_healthcheck",
    "postgres": "tests/test_compose.py::test_postgres_init_script_makes_both_databases",
    "temporal": "tests/test_compose.py::test_temporal_server_and_ui_answer",
    "temporal-ui": "tests/test_compose.py::test_temporal_server_and_ui_answer",
    # MinIO's S3 API: moto's server stands in (MinIO itself is no PyPI package).
    "minio": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
    # `mc` is not installable here: the test makes the bucket through the same S3 API.
    "createbuckets": "tests/test_compose.py::test_singleuser_server_keeps_notebooks_in_s3",
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
    # PostgreSQL, Temporal and its UI: no way in from users, no way out at all.
    assert networks["backend"].get("internal") is True
    for name in ("postgres", "temporal", "temporal-ui", "createbuckets"):
        assert services[name]["networks"] == ["backend"], name
    assert "backend" not in services["nginx"]["networks"]
    # The hub tells DockerSpawner the network by name: it must be this one.
    user_network = services["hub"]["environment"]["WORKBENCH_DOCKER_NETWORK"]
    assert networks["workbench_internal"]["name"] == user_network
    assert "workbench_internal" in services["hub"]["networks"]


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
                names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
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
