"""The workbench home: one folder that holds everything a local workbench keeps.

Layout (created on first use, reused afterwards so a restart loses nothing)::

    HOME/
      metadata.db         SQLite metadata store (unless WORKBENCH_DB_URL points elsewhere)
      secrets.key         Fernet key for connection secrets, mode 0600
      temporal/           Temporal dev server SQLite file
      lake/               bronze/silver/gold Parquet/Delta files
      demo/               generated demo databases
      logs/               one log file per supervised process
      run/                lock and state of a running ``workbench up``
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError
from .lake_layout import LAYERS

HOME_ENV = "WORKBENCH_HOME"
KEY_FILE_ENV = "WORKBENCH_SECRETS_KEY_FILE"
# Written by `workbench up` in the home's run folder while it starts the worker or
# restarts a crashed part (read by the health checks).
COMPONENTS_FILE = "components.json"
# The worker `workbench up` starts touches this file in the run folder from its event
# loop every few seconds (the path in WORKER_HEARTBEAT_ENV): the keeper restarts one
# whose loop stopped doing so (stuck: SIGSTOP, a deadlock, a blocking call on the loop).
WORKER_HEARTBEAT_FILE = "worker.alive"
WORKER_HEARTBEAT_ENV = "WORKBENCH_WORKER_HEARTBEAT"
# What the server extension logs once the workbench's routes are in place: `workbench up`
# looks for it in the lab's log before it prints the URL.
ROUTES_READY = "Workbench routes ready"


def default_home() -> Path:
    """``$WORKBENCH_HOME`` if set, else ``~/.workbench``."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".workbench"


@dataclass(frozen=True)
class WorkbenchHome:
    """Paths inside a workbench home; :meth:`prepare` makes them exist."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> WorkbenchHome:
        root = Path(path).expanduser() if path else default_home()
        return cls(root.absolute())

    @property
    def metadata_db(self) -> Path:
        return self.root / "metadata.db"

    @property
    def default_db_url(self) -> str:
        return f"sqlite:///{self.metadata_db}"

    @property
    def secrets_key(self) -> Path:
        override = os.environ.get(KEY_FILE_ENV)
        return Path(override) if override else self.root / "secrets.key"

    @property
    def temporal_dir(self) -> Path:
        return self.root / "temporal"

    @property
    def temporal_db(self) -> Path:
        return self.temporal_dir / "temporal.db"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def demo_dir(self) -> Path:
        return self.root / "demo"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    def prepare(self) -> None:
        """Create the folders and the secrets key; raise one clear error if impossible."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(f"workbench home {self.root} exists but is not a directory")
        try:
            # The home holds the metadata DB and the key: private to its owner.
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Also when it existed before (made by hand, with the usual umask): a hub's
            # users run as other accounts and must not reach metadata.db or hub/.
            if self.root.stat().st_mode & 0o077 and self.root.stat().st_uid == os.geteuid():
                self.root.chmod(0o700)
            for folder in (
                self.temporal_dir,
                self.lake,
                self.demo_dir,
                self.logs,
                self.run_dir,
                *(self.lake / layer for layer in LAYERS),
            ):
                folder.mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigurationError(
                f"workbench home {self.root} is not writable ({exc.strerror or exc}); "
                "choose another with --home or WORKBENCH_HOME"
            ) from exc
        ensure_key_file(self.secrets_key)


def ensure_key_file(path: Path) -> None:
    """Create a Fernet key file readable by its owner only, unless it already exists.

    ``O_EXCL`` makes two concurrent starts agree on one key instead of overwriting.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"secrets key {path} is readable by others (mode {mode:o}); run chmod 600 on it"
            )
        return
    key = base64.urlsafe_b64encode(secrets.token_bytes(32))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
