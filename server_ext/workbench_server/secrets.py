"""Encryption of connection secrets at rest (Fernet), and key rotation without loss.

The key lives in a file (the workbench home's ``secrets.key``, mode 0600, or the path in
``WORKBENCH_SECRETS_KEY_FILE`` — e.g. a docker secret). Rotation first writes the new key
beside the old one (``secrets.key.new``), re-encrypts every row in one transaction, and
only then moves the new key into place: a crash at any point leaves every row readable,
because both keys are tried while ``secrets.key.new`` exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import ConfigurationError

MASK = "***set***"


def _read_key(path: Path) -> Fernet:
    try:
        return Fernet(path.read_bytes().strip())
    except FileNotFoundError:
        raise ConfigurationError(f"secrets key {path} does not exist") from None
    except (ValueError, OSError) as exc:
        raise ConfigurationError(f"secrets key {path} is not a valid Fernet key: {exc}") from None


def pending_key_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".new")


class SecretBox:
    """Encrypts and decrypts the secret fields of a connection as one token."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        keys = [_read_key(key_path)]
        pending = pending_key_path(key_path)
        if pending.exists():  # an interrupted rotation: accept both keys
            keys.insert(0, _read_key(pending))
        self._fernet = MultiFernet(keys)

    def seal(self, secrets: dict[str, str]) -> bytes | None:
        if not secrets:
            return None
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, token: bytes | None, *, what: str) -> dict[str, str]:
        if token is None:
            return {}
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ConfigurationError(
                f"the secrets of {what} cannot be decrypted with key {self.key_path}: "
                "was the key replaced?"
            ) from None


def write_key_file(path: Path, key: bytes) -> None:
    """Write a key file readable by its owner only, durably, replacing nothing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def begin_rotation(key_path: Path) -> tuple[Fernet, MultiFernet]:
    """Create the pending key; return it and a MultiFernet that re-encrypts old tokens."""
    pending = pending_key_path(key_path)
    if not pending.exists():
        write_key_file(pending, Fernet.generate_key())
    new = _read_key(pending)
    return new, MultiFernet([new, _read_key(key_path)])


def finish_rotation(key_path: Path) -> None:
    """Make the pending key the key (atomic rename); the old key is gone afterwards."""
    os.replace(pending_key_path(key_path), key_path)
