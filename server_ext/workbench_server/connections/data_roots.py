"""Which folders file-backed connections may point into, checked on save and every open.

A DuckDB file, a lake folder or a SQLite/DuckDB SQLAlchemy URL names a path on the
machine of the workbench service, which opens it for catalog scans, previews and
connection tests on a user's behalf. Without a bound, a user (or anyone who may change
the built-in ``demo_odoo``) could point one at ``/etc/passwd``, another user's folder or
the workbench's own metadata DB and read it through a preview. :class:`DataRoots` holds
the admin's list of allowed folders (``data_roots``, ``$WORKBENCH_DATA_ROOTS``):

- a path must lie below one of them once resolved, links included (a link inside a
  root that points out of it is refused), and absolute (a relative path would mean
  whatever folder the service runs in);
- an entry may hold ``{username}``, the owner of the connection: ``/home/users/{username}``
  lets alice's connections reach ``/home/users/alice`` only;
- the workbench home (metadata DB, secrets key, the hub's state) is never reached
  through a root that merely contains it (a user's home does): only through roots
  inside it, such as its ``demo`` and ``lake`` folders.

It is checked when a connection is created or changed (with the owner) and again right
before every server-side open (:func:`~workbench_server.connections.egress.pin`), where
a link swapped in since counts as well; the open then uses the resolved path. A refusal
is a :class:`OutsideDataRootsError`, which the network policy's callers treat as theirs:
a denied test, a failed scan, a 403 preview.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NetworkPolicyError
from ..home import WorkbenchHome

if TYPE_CHECKING:
    from ..settings import WorkbenchSettings
    from .kinds import KindConfig

DATA_ROOTS_ENV = "WORKBENCH_DATA_ROOTS"
MODE_ENV = "WORKBENCH_MODE"
# Where the hub's local spawner puts users' folders (as workbench_hub.config does): a
# root hub's users' homes, and the team hub's state folder.
SPAWNER_ENV = "WORKBENCH_SPAWNER"
HUB_USERS_DIR_ENV = "WORKBENCH_HUB_USERS_DIR"
HUB_USERS_DIR = "/home/workbench-users"
HUB_STATE_DIR_ENV = "WORKBENCH_HUB_STATE_DIR"
HUB_STATE_DIR = "/srv/jupyterhub"
OWNER = "{username}"
FILE_BACKENDS = ("sqlite", "duckdb")


class OutsideDataRootsError(NetworkPolicyError):
    """A connection's file or folder is outside the folders connections may use.

    One of the workbench's policies on what it may reach for a user, answered like the
    network policy: a 403, a denied connection test, a failed scan."""


def default_data_roots(home: Path | str) -> list[str]:
    """The roots when none are configured.

    The workbench home's ``demo`` and ``lake`` folders always. Then the users' files,
    where the hub's spawner puts them: in containers (team mode's default, DockerSpawner)
    they are out of the core's reach, so nothing more; as local processes, each user's
    folder, to its user: as root, ``$WORKBENCH_HUB_USERS_DIR/{username}``; otherwise
    ``users/{username}`` in the hub's state folder, and, outside team mode (one user, or a
    local hub whose users share its account), the account's home folder.
    """
    layout = WorkbenchHome.resolve(home)
    roots = [str(layout.demo_dir), str(layout.lake)]
    team = os.environ.get(MODE_ENV) == "team"
    if (os.environ.get(SPAWNER_ENV) or ("docker" if team else "local")) != "local":
        return roots
    if os.geteuid() == 0:
        users = os.environ.get(HUB_USERS_DIR_ENV) or HUB_USERS_DIR
        return [*roots, str(Path(users).absolute() / OWNER)]
    if team:
        state = Path(os.environ.get(HUB_STATE_DIR_ENV) or HUB_STATE_DIR)
        return [*roots, str(state.absolute() / "users" / OWNER)]
    return [*roots, str(Path.home()), str(layout.root / "hub" / "users" / OWNER)]


def data_roots_from_env(home: Path | str) -> list[str]:
    """``$WORKBENCH_DATA_ROOTS`` (folders separated by ``os.pathsep``), else the default."""
    raw = os.environ.get(DATA_ROOTS_ENV)
    if raw is None:
        return default_data_roots(home)
    return [entry.strip() for entry in raw.split(os.pathsep) if entry.strip()]


def check_entries(entries: list[str]) -> list[str]:
    """``entries`` if each is an absolute folder with ``{username}`` at most as a whole
    path component; raises ``ValueError`` naming the first that is not."""
    for entry in entries:
        if not Path(entry).is_absolute():
            raise ValueError(f"data root {entry!r} is not an absolute path")
        parts = Path(entry).parts
        if any(OWNER in part and part != OWNER for part in parts) or parts.count(OWNER) > 1:
            raise ValueError(f"data root {entry!r}: {OWNER} must be one whole folder name")
    return entries


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class DataRoots:
    """The folders file-backed connections may use (see the module's docstring)."""

    entries: tuple[str, ...]
    home: Path

    @classmethod
    def from_settings(cls, settings: WorkbenchSettings) -> DataRoots:
        return cls(tuple(settings.allowed_data_roots), Path(settings.home))

    def _folders(self, owner: str | None, path: Path) -> list[Path]:
        """The roots for a connection of ``owner`` (None: unknown, at open time)."""
        out = []
        for entry in self.entries:
            if OWNER not in entry:
                out.append(Path(entry))
            elif owner is not None:
                out.append(Path(entry.replace(OWNER, owner)))
            else:
                # At open time the owner is the one the path was checked for when it was
                # saved: the name at {username}'s place in the path as written.
                before, _, after = entry.partition(OWNER)
                pattern = re.escape(before) + r"([^/]+)" + re.escape(after)
                found = re.match(pattern + r"(?:/|$)", str(path))
                if found:
                    out.append(Path(entry.replace(OWNER, found.group(1))))
        return out

    def resolve(self, path: str, *, what: str, owner: str | None = None) -> Path:
        """``path`` resolved (links followed) if it stays below a root; else raises
        :class:`OutsideDataRootsError`, naming ``what`` (the connection and field)."""
        if "\0" in path:
            raise OutsideDataRootsError(f"{what}: a path cannot contain a NUL character")
        written = Path(path)
        if not written.is_absolute():
            raise OutsideDataRootsError(f"{what}: {path!r} must be an absolute path")
        written = Path(os.path.normpath(written))
        try:
            real = written.resolve()
            home = self.home.resolve()
            allowed = False
            for folder in self._folders(owner, written):
                root = folder.resolve()
                # The home's private files are reached only through roots inside it.
                if _inside(real, home) and not _inside(root, home):
                    continue
                if _inside(real, root):
                    allowed = True
                    break
        except (OSError, RuntimeError) as exc:  # a link loop, a name too long
            raise OutsideDataRootsError(f"{what}: {path!r} cannot be resolved ({exc})") from None
        if not allowed:
            raise OutsideDataRootsError(
                f"{what}: {path} is outside the folders connections may use "
                f"({self.describe(owner)}); ask an admin to add its folder to data_roots"
            )
        return real

    def describe(self, owner: str | None) -> str:
        shown = [e.replace(OWNER, owner) if owner else e for e in self.entries]
        return ", ".join(shown) or "none are allowed"

    def confine(self, name: str, cfg: KindConfig, owner: str | None = None) -> KindConfig:
        """``cfg`` with its file or folder resolved and checked (other kinds as given).

        The returned copy names the resolved path, so what is opened is what was
        checked, not a link that may be swapped in between."""
        from .kinds import DuckDBConfig, LakeConfig, SqlAlchemyConfig

        what = f"connection {name!r}"
        if isinstance(cfg, DuckDBConfig) and cfg.path != ":memory:":
            real = self.resolve(cfg.path, what=f"{what}: path", owner=owner)
            return cfg.model_copy(update={"path": str(real)})
        if isinstance(cfg, LakeConfig) and not cfg.is_s3:
            real = self.resolve(cfg.location, what=f"{what}: location", owner=owner)
            return cfg.model_copy(update={"location": str(real)})
        if isinstance(cfg, SqlAlchemyConfig):
            from sqlalchemy.engine import make_url

            url = make_url(cfg.url)
            database = url.database
            if url.get_backend_name() in FILE_BACKENDS and database not in (None, "", ":memory:"):
                real = self.resolve(database, what=f"{what}: url", owner=owner)
                changed = url.set(database=str(real)).render_as_string(hide_password=False)
                return cfg.model_copy(update={"url": changed})
        return cfg
