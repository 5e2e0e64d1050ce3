"""A real JupyterHub (configurable-http-proxy, the workbench service, local user servers).

Started from ``configure(c)`` exactly as ``jupyterhub_config.py`` does, plus what a test
needs: free ports, and a test-only hub service whose token may manage users and groups
(the hub's own way to give a script admin rights). Local mode by default; team mode
(OIDC login) with the ``WORKBENCH_*`` settings a test passes in ``env``.

Run as root (as the tests and CI are), the hub starts each user's server as an OS account
of its own: here with a prefix unique to the hub, homes in a folder of its own outside
pytest's private temporary folders, and both removed when the hub stops.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.support.oidc import sign_in
from workbench_server.supervisor import free_port

IP = "127.0.0.1"
CONFIG = """\
import os
from workbench_hub.config import configure

configure(c)
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.services.append({{"name": "test-admin", "api_token": os.environ["TEST_ADMIN_TOKEN"]}})
c.JupyterHub.load_roles.append(
    {{
        "name": "test-admin",
        "scopes": ["admin:users", "admin:groups", "admin:servers", "tokens"],
        "services": ["test-admin"],
    }}
)
"""


@dataclass
class Hub:
    url: str
    home: Path
    admin_token: str
    proc: subprocess.Popen[bytes]
    log: Path
    user_password: str
    users: Path  # the folder of users' homes: <users>/<name>
    account_prefix: str | None = None  # hub user alice runs as <prefix>alice (as root)
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    def account(self, name: str) -> str:
        """The OS account the user's server runs as."""
        return (
            f"{self.account_prefix}{name}"
            if self.account_prefix
            else pwd.getpwuid(os.geteuid()).pw_name
        )

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """The hub's REST API as the test-admin service."""
        return requests.request(
            method,
            f"{self.url}/hub/api/{path}",
            headers={"Authorization": f"token {self.admin_token}"},
            timeout=10,
            **kwargs,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def login(self, name: str) -> requests.Session:
        """Sign in through the hub's login form, as a browser does (local mode)."""
        session = requests.Session()
        form = session.get(f"{self.url}/hub/login", timeout=10)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        assert xsrf, form.text[:500]
        answer = session.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": self.user_password, "_xsrf": xsrf.group(1)},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
        self.sessions[name] = session
        return session

    def login_oidc(self, login: str, password: str, name: str | None = None) -> requests.Response:
        """Sign in through the identity provider (team mode), as a browser does.

        ``login`` is what the person types at the provider; ``name`` the hub user it should
        become (default the same). Returns the hub's answer to the provider's redirect
        back: a redirect into the hub when the hub accepts the user (the session is then
        kept as ``name``'s), else the hub's refusal.
        """
        session = requests.Session()
        answer = sign_in(session, f"{self.url}/hub/oauth_login", login, password)
        if answer.status_code == 302:
            self.sessions[name or login] = session
        return answer

    def start_servers(self, *names: str, timeout: float = 90) -> None:
        """Ask for each user's server as that user (/hub/spawn); wait until all are ready."""
        # At once: the hub holds each /hub/spawn answer for up to 10 s of a slow start.
        with ThreadPoolExecutor(len(names)) as pool:
            for name in names:
                pool.submit(
                    self.sessions[name].get,
                    f"{self.url}/hub/spawn/{name}",
                    allow_redirects=False,
                    timeout=30,
                )
        deadline = time.monotonic() + timeout
        waiting = list(names)
        while waiting and time.monotonic() < deadline:
            name = waiting[0]
            server = self.api("GET", f"users/{name}").json().get("servers", {}).get("")
            if server and server.get("ready"):
                # Open the lab once: JupyterHub's OAuth dance gives the session the
                # server's cookie, and the lab page the _xsrf cookie for writes.
                page = self.sessions[name].get(f"{self.url}/user/{name}/lab", timeout=30)
                assert page.status_code == 200, page.text[:300]
                waiting.pop(0)
            else:
                time.sleep(0.3)
        assert not waiting, f"servers of {waiting} not ready in {timeout}s:\n{self.log_text()}"

    def workbench(self, name: str, method: str, path: str, **kwargs: object) -> requests.Response:
        """``/user/<name>/workbench/api/<path>`` through the proxy, as that user's browser."""
        session = self.sessions[name]
        headers = {"X-XSRFToken": session.cookies.get("_xsrf", path=f"/user/{name}/") or ""}
        return session.request(
            method,
            f"{self.url}/user/{name}/workbench/api/{path}",
            headers=headers,
            timeout=30,
            **kwargs,
        )

    def service(self, name: str, method: str, path: str, **kwargs: object) -> requests.Response:
        """The workbench service itself, through the proxy, with an API token of the user."""
        return requests.request(
            method,
            f"{self.url}/services/workbench/workbench/api/{path}",
            headers={"Authorization": f"token {self.user_token(name)}"},
            timeout=30,
            **kwargs,
        )

    def user_token(self, name: str) -> str:
        """A short-lived API token of the user (as a script of theirs would have)."""
        answer = self.api("POST", f"users/{name}/tokens", json={"expires_in": 600})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def run_in_kernel(self, name: str, code: str, timeout: float = 90) -> str:
        """Start a workbench kernel in the user's server, run ``code``, return its stdout."""
        with self.kernel(name) as run:
            return run(code, timeout)

    @contextmanager
    def kernel(self, name: str) -> Iterator[Callable[..., str]]:
        """A workbench kernel in the user's server while the block lasts: yields
        ``run(code, timeout=90)``, which returns the code's stdout."""
        token = self.user_token(name)
        headers = {"Authorization": f"token {token}"}
        kernels = f"{self.url}/user/{name}/api/kernels"
        kernel = requests.post(kernels, json={"name": "workbench"}, headers=headers, timeout=30)
        assert kernel.status_code == 201, kernel.text
        channels = f"{kernels}/{kernel.json()['id']}/channels".replace("http", "ws", 1)

        def run(code: str, timeout: float = 90) -> str:
            return asyncio.run(asyncio.wait_for(_execute(channels, headers, code), timeout))

        try:
            yield run
        finally:
            requests.delete(f"{kernels}/{kernel.json()['id']}", headers=headers, timeout=30)

    def put_files(self, name: str, files: Mapping[str, str | dict]) -> None:
        """Write files (text, or a notebook as a dict) into the user's folder through their
        server's contents API, folders first, as the user's browser would."""
        headers = {"Authorization": f"token {self.user_token(name)}"}
        contents = f"{self.url}/user/{name}/api/contents"
        folders = sorted({str(Path(p).parent) for p in files} - {"."}, key=len)
        for folder in folders:
            put = requests.put(
                f"{contents}/{folder}", json={"type": "directory"}, headers=headers, timeout=30
            )
            assert put.status_code in (200, 201), (folder, put.text)
        for path, content in files.items():
            model = (
                {"type": "notebook", "content": content}
                if isinstance(content, dict)
                else {"type": "file", "format": "text", "content": content}
            )
            put = requests.put(f"{contents}/{path}", json=model, headers=headers, timeout=30)
            assert put.status_code in (200, 201), (path, put.text)

    def server_pid(self, name: str) -> int:
        """The process of the user's single-user server (a child of the hub)."""
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            cmdline = " ".join(child.cmdline())
            if (
                "jupyterhub-singleuser" in cmdline
                and child.environ().get("JUPYTERHUB_USER") == name
            ):
                return child.pid
        raise AssertionError(f"no single-user server process for {name}")


async def _execute(url: str, headers: dict[str, str], code: str) -> str:
    """One execute_request over the kernel's websocket (Jupyter's messaging protocol)."""
    socket = await websocket_connect(HTTPRequest(url, headers=headers))
    msg_id = uuid.uuid4().hex
    socket.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False},
                "channel": "shell",
            }
        )
    )
    out: list[str] = []
    try:
        while True:
            raw = await socket.read_message()
            assert raw is not None, "kernel websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        socket.close()


class Family:
    """Every process the hub started, remembered while the hub lives: a hub that dies
    early leaves its proxy and services orphaned, out of reach of children()."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.seen: dict[int, psutil.Process] = {}

    def update(self) -> None:
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass


def _wait_http(url: str, family: Family, log: Path, timeout: float) -> None:
    proc = family.proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        family.update()
        if proc.poll() is not None:
            raise AssertionError(f"hub exited ({proc.returncode}):\n{log.read_text()[-6000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not answering in {timeout}s:\n{log.read_text()[-6000:]}")


@contextmanager
def running_hub(
    root: Path, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Hub]:
    """A hub on free loopback ports with its state, users and workbench home under root.

    ``port`` is the proxy's (the hub's public URL); ``env`` adds or overrides settings,
    e.g. ``WORKBENCH_MODE=team`` with the provider's.
    """
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    port, service_port = port or free_port(IP), free_port(IP)
    config = root / "jupyterhub_config.py"
    config.write_text(CONFIG.format(hub_port=free_port(IP), proxy_api_port=free_port(IP)))
    admin_token, password = secrets.token_hex(32), secrets.token_urlsafe(16)
    hub_env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))}
    hub_env |= {
        "WORKBENCH_MODE": "local",
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_HUB_PORT": str(port),
        "WORKBENCH_SERVICE_URL": f"http://{IP}:{service_port}",
        "WORKBENCH_HUB_PASSWORD": password,
        "WORKBENCH_IDENTITY_CACHE_SECONDS": "1",
        "TEST_ADMIN_TOKEN": admin_token,
    }
    prefix = None
    if os.geteuid() == 0:
        _check_accounts_can_run_python()
        # pytest's temporary folders are private to root: users' homes go elsewhere.
        users = Path(tempfile.mkdtemp(prefix="workbench-users-"))
        users.chmod(0o711)
        prefix = f"wbt{secrets.token_hex(3)}-"
        hub_env |= {
            "WORKBENCH_HUB_USERS_DIR": str(users),
            "WORKBENCH_HUB_SYSTEM_USER_PREFIX": prefix,
        }
    else:
        users = Path((env or {}).get("WORKBENCH_HUB_STATE_DIR") or home / "hub") / "users"
    hub_env |= dict(env or {})
    log = root / "hub.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=root,
            env=hub_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    hub = Hub(f"http://{IP}:{port}", home, admin_token, proc, log, password, users, prefix)
    family = Family(proc)
    try:
        _wait_http(f"{hub.url}/hub/api/", family, log, timeout=90)
        _wait_http(f"http://{IP}:{service_port}/services/workbench/api", family, log, timeout=60)
        yield hub
    finally:
        stop(family)
        if prefix is not None:
            remove_accounts(prefix)
            shutil.rmtree(users, ignore_errors=True)


@functools.cache
def _check_accounts_can_run_python() -> None:
    """Users' servers run as other accounts: they need this interpreter and checkout.

    Checked once per test session (the probe imports JupyterHub and the workbench as
    another account: 5-20 s on a loaded machine) once it has passed."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import jupyterhub.singleuser, workbench_hub, workbench_server"],
            user=65534,  # nobody, as a user's account would be
            group=65534,
            extra_groups=[],
            cwd="/",
            capture_output=True,
            text=True,
            timeout=120,
        )
    except OSError as exc:  # the interpreter itself is out of reach
        problem = str(exc)
    else:
        if probe.returncode == 0:
            return
        problem = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
    pytest.fail(
        "as root the hub runs each user's server as their own OS account, and another "
        f"account cannot run {sys.executable} with this checkout ({problem}): make each "
        "folder above the interpreter's real path and above the checkout traversable by "
        "others (chmod o+x, as .ci/run does)"
    )


def remove_accounts(prefix: str) -> None:
    """Delete the OS accounts (and their groups) whose names start with ``prefix``: only
    those a test's hub made, each after whatever process it still runs."""
    for entry in pwd.getpwall():
        if not entry.pw_name.startswith(prefix):
            continue
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real == entry.pw_uid:
                try:
                    proc.kill()
                    proc.wait(10)
                except psutil.Error:
                    continue
        subprocess.run(["userdel", entry.pw_name], check=True, capture_output=True, timeout=60)


def stop(family: Family, timeout: float = 30) -> None:
    """SIGTERM the hub (it stops its servers, services and proxy), then kill what is left."""
    proc = family.proc
    family.update()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for child in family.seen.values():  # psutil refuses to kill a reused pid
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
