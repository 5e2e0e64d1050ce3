"""A real n8n (2.8, the newest that runs on Node 20) for tests/test_n8n.py.

.ci/run installs it from tests/support/n8n/package-lock.json into
~/.cache/workbench-peers/n8n (see that package.json for why it overrides ``xlsx``). Each
test session starts one n8n on 127.0.0.1 with a throwaway user folder, sets up its owner
through its REST API, and makes an API key for its public API (workflows, credentials,
executions), as a person would in its settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.processes import terminate
from workbench_server.supervisor import free_port

INSTALL = Path(os.environ.get("WORKBENCH_N8N_HOME", Path.home() / ".cache/workbench-peers/n8n"))
BINARY = INSTALL / "node_modules" / ".bin" / "n8n"
HOW_TO_INSTALL = (
    f"n8n is not installed at {INSTALL}: run .ci/run, or install it by hand with\n"
    f"  mkdir -p {INSTALL} && cp tests/support/n8n/package*.json {INSTALL}/ && "
    f"npm_config_nodedir=/usr npm ci --prefix {INSTALL} --no-audit --no-fund\n"
    "(4-5 minutes and 2.4 GB: sqlite3 builds from source)"
)
OWNER = {
    "email": "owner@example.com",
    "firstName": "Work",
    "lastName": "Bench",
    "password": "Workbench-n8n-1",
}
SCOPES = [
    "workflow:create",
    "workflow:read",
    "workflow:list",
    "workflow:activate",
    "workflow:deactivate",
    "credential:create",
    "execution:read",
    "execution:list",
]


class N8nError(Exception):
    pass


def _call(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _parsed(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, _parsed(exc.read()), dict(exc.headers)


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:  # e.g. its HTML page while it starts
        return raw.decode(errors="replace")


@dataclass
class N8n:
    """One n8n process (stopped and started again by tests) and its public API key."""

    folder: Path
    port: int = field(default_factory=lambda: free_port("127.0.0.1"))
    broker_port: int = field(default_factory=lambda: free_port("127.0.0.1"))
    api_key: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("N8N_", "WORKBENCH_"))},
            "N8N_USER_FOLDER": str(self.folder),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_PORT": str(self.port),
            "N8N_HOST": "127.0.0.1",
            "WEBHOOK_URL": f"{self.url}/",
            "N8N_RUNNERS_BROKER_PORT": str(self.broker_port),
            "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_SECURE_COOKIE": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
            "DB_SQLITE_POOL_SIZE": "2",
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "n8n.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BINARY), "start"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()  # never leave it running behind a failed start
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Its REST API is the last thing to come up (health answers before).
                code, body, _ = _call(f"{self.url}/rest/settings")
                if code == 200 and isinstance(body, dict):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise N8nError(f"n8n did not start; see {self.folder / 'n8n.log'}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 30)
            self.proc = None

    def set_up_owner(self) -> None:
        """The owner account and an API key for the public API (what a person does once
        in n8n's settings)."""
        code, body, headers = _call(f"{self.url}/rest/owner/setup", "POST", OWNER)
        if code != 200:
            raise N8nError(f"owner setup answered {code}: {body}")
        cookie = headers.get("Set-Cookie", "").split(";")[0]
        code, body, _ = _call(
            f"{self.url}/rest/api-keys",
            "POST",
            {"label": "workbench tests", "expiresAt": None, "scopes": SCOPES},
            {"Cookie": cookie},
        )
        if code != 200:
            raise N8nError(f"API key creation answered {code}: {body}")
        self.api_key = body["data"]["rawApiKey"]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        code, answer, _ = _call(
            f"{self.url}/api/v1/{path}", method, body, {"X-N8N-API-KEY": self.api_key}
        )
        if code >= 300:
            raise N8nError(f"{method} /api/v1/{path} answered {code}: {answer}")
        return answer

    def import_workflow(self, workflow: dict[str, Any]) -> str:
        """Import a workflow (as exported: name, nodes, connections, settings), publish
        it; returns its id."""
        keep = {k: workflow[k] for k in ("name", "nodes", "connections", "settings")}
        made = self.api("POST", "workflows", keep)
        self.api("POST", f"workflows/{made['id']}/activate")
        return made["id"]

    def header_credential(self, name: str, header: str, value: str) -> str:
        made = self.api(
            "POST",
            "credentials",
            {"name": name, "type": "httpHeaderAuth", "data": {"name": header, "value": value}},
        )
        return made["id"]

    def webhook(self, path: str, body: Any) -> tuple[int, Any]:
        code, answer, _ = _call(f"{self.url}/webhook/{path}", "POST", body)
        return code, answer

    def executions(self, workflow_id: str) -> list[dict[str, Any]]:
        found = self.api("GET", f"executions?workflowId={workflow_id}&includeData=true&limit=20")
        return found["data"]


def installed() -> bool:
    return BINARY.exists() and shutil.which("node") is not None
