"""The scrape token: the one secret a Prometheus server needs to read ``/metrics``.

It is a bearer token of its own, not a Jupyter or hub token: it opens the metrics
endpoints of the workbench server and of its workers and nothing else, so it can sit in
a Prometheus configuration without giving anyone a notebook. It is read from a file
readable by its owner only: ``$WORKBENCH_METRICS_TOKEN_FILE`` (a docker secret in the
team stack), else ``metrics-token`` in the workbench home, created on first use there
so that a local server and its worker share one.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path

from ..errors import ConfigurationError

TOKEN_FILE_ENV = "WORKBENCH_METRICS_TOKEN_FILE"  # noqa: S105 - a variable name
TOKEN_FILE = "metrics-token"  # noqa: S105 - a file name in the workbench home
_MIN_LENGTH = 16

log = logging.getLogger(__name__)


def token_path(home: Path) -> Path:
    """``$WORKBENCH_METRICS_TOKEN_FILE``, else the home's ``metrics-token``."""
    override = os.environ.get(TOKEN_FILE_ENV)
    return Path(override) if override else home / TOKEN_FILE


def ensure_token_file(path: Path) -> None:
    """Create a random token in ``path`` (mode 0600) unless the file exists.

    ``O_EXCL`` makes a server and a worker starting together agree on one token.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")


def read_token(path: Path) -> str:
    """The token in ``path``; a clear error when it is missing, too open or too short."""
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"metrics scrape token {path} cannot be read ({exc.strerror or exc}); create it "
            f"(mode 600) or point {TOKEN_FILE_ENV} at one"
        ) from None
    if mode & 0o077:
        raise ConfigurationError(
            f"metrics scrape token {path} is readable by others (mode {mode:o}); "
            "run chmod 600 on it"
        )
    if len(text) < _MIN_LENGTH:
        raise ConfigurationError(
            f"metrics scrape token {path} holds fewer than {_MIN_LENGTH} characters; "
            "use a long random one"
        )
    return text


class ScrapeToken:
    """Checks the ``Authorization: Bearer ...`` header of a scrape.

    The file is read again when it changes (its modification time or size), so a token
    is rotated by writing the new one where Prometheus and the workbench read it, with no
    restart. A file that turns unreadable or readable by others refuses every scrape
    until it is fixed (the log says why)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen = self._stamp()
        self._token: str | None = read_token(path)

    @classmethod
    def for_home(cls, home: Path) -> ScrapeToken:
        """The token of this installation, creating the home's own file on first use
        (a file named by the environment must exist already)."""
        path = token_path(home)
        if not os.environ.get(TOKEN_FILE_ENV):
            ensure_token_file(path)
        return cls(path)

    @property
    def token(self) -> str | None:
        """The token now in the file (None while the file is unusable)."""
        stamp = self._stamp()
        with self._lock:
            if stamp != self._seen:
                self._seen = stamp
                try:
                    self._token = read_token(self.path)
                except ConfigurationError as exc:
                    log.error("metrics scrapes are refused: %s", exc)
                    self._token = None
            return self._token

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def allows(self, authorization: str | None) -> bool:
        """Whether the header carries this token; compared in constant time."""
        scheme, _, given = (authorization or "").strip().partition(" ")
        token = self.token
        if scheme.lower() != "bearer" or token is None:
            return False
        return secrets.compare_digest(given.strip().encode(), token.encode())
