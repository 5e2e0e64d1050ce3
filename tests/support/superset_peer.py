"""A real Apache Superset (6.1) for tests/test_superset.py.

.ci/run installs it from tests/support/superset/requirements.txt into its own venv under
~/.cache/workbench-peers/superset (never the project's venv) and makes a template metadata
DB there once (``superset db upgrade``, the admin, ``superset init``: minutes). Each test
session copies the template and starts one gunicorn on 127.0.0.1, stopped by its PID.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import terminate
from workbench_server.supervisor import free_port

HERE = Path(__file__).parent / "superset"
INSTALL = Path(
    os.environ.get("WORKBENCH_SUPERSET_HOME", Path.home() / ".cache/workbench-peers/superset")
)
GUNICORN = INSTALL / "venv" / "bin" / "gunicorn"
TEMPLATE = INSTALL / "template.db"
ADMIN = ("admin", "admin-password-1")
HOW_TO_INSTALL = (
    f"Superset is not installed at {INSTALL}: run .ci/run, or by hand:\n"
    f"  python3 -m venv {INSTALL}/venv && {INSTALL}/venv/bin/pip install -r "
    f"tests/support/superset/requirements.txt && tests/support/superset/make_template.sh {INSTALL}"
)


class SupersetError(Exception):
    pass


def installed() -> bool:
    return GUNICORN.exists() and TEMPLATE.exists()


@dataclass
class Superset:
    """One Superset web server on a copy of the template metadata DB."""

    folder: Path
    port: int = field(default_factory=lambda: free_port("127.0.0.1"))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        db = self.folder / "superset.db"
        shutil.copyfile(TEMPLATE, db)
        env = {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "WORKBENCH_"))
            },
            "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"),
            "WORKBENCH_SUPERSET_DB": str(db),
            # The template's secret key: it encrypted nothing yet but must stay the same.
            "WORKBENCH_SUPERSET_SECRET_KEY": "template-only-not-a-secret",
            "FLASK_APP": "superset",
            "PYTHONUNBUFFERED": "1",
            "SUPERSET_LOG_SECRET": secrets.token_hex(4),
        }
        argv = [
            str(GUNICORN),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--timeout",
            "120",
            "superset.app:create_app()",
        ]
        with (self.folder / "superset.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
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
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SupersetError(f"Superset did not start; see {self.folder / 'superset.log'}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 30)
            self.proc = None
