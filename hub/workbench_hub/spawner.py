"""``UserAccountSpawner``: every hub user's server runs as that user's own OS account.

A hub that runs as root (``workbench up --hub`` as root, or team mode with
``WORKBENCH_SPAWNER=local``) must not start users' servers as root, nor as one shared
account: each user could then read every other user's files, kernel connection files and
server environment (with its hub token), and the hub's and the workbench's secrets.

Hub user ``alice`` runs as the system account ``<prefix>alice`` (``wb-alice`` by
default), made on her first spawn with ``useradd`` and a private home
``<users_dir>/alice`` (mode 0700, hers), or as an existing account an admin maps her to
(:attr:`UserAccountSpawner.accounts`). JupyterHub's ``LocalProcessSpawner`` does the rest
(groups, gid and uid dropped before exec, the home as working directory and ``HOME``, so
Jupyter's runtime folder with the kernel connection files is in it); this subclass only
replaces its assumption that a hub user name is an account name.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Dict, Unicode

from workbench_server.errors import ConfigurationError

from .names import check_user_name

# What useradd accepts (Debian's shadow): at most 32 characters.
_ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"
# useradd locks /etc/passwd and gives up when another useradd holds it: one at a time.
_CREATING = threading.Lock()


class UserAccountSpawner(LocalProcessSpawner):
    """A ``jupyterhub-singleuser`` process per hub user, as that user's OS account."""

    users_dir = Unicode(
        config=True,
        help="""Folder of the homes of the accounts this spawner makes: ``<users_dir>/<hub
        user>``. Owned and writable by root only and traversable by others (0711), outside
        the workbench home. Set by ``WORKBENCH_HUB_USERS_DIR``.""",
    )
    account_prefix = Unicode(
        "wb-",
        config=True,
        help="""Hub user ``alice`` runs as the account ``<account_prefix>alice``, made on her
        first spawn unless it exists with its home in ``users_dir``. A prefix keeps hub
        names apart from the machine's own accounts (``postgres``, ``daemon``, ...). Set by
        ``WORKBENCH_HUB_SYSTEM_USER_PREFIX``.""",
    )
    accounts = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""Hub users mapped to existing OS accounts (``{"alice": "asmith"}``): these run
        as that account, with its own home, and no account is made for them. Never root or
        the hub's own account. Set by ``WORKBENCH_HUB_SYSTEM_USERS`` (``alice=asmith,...``).""",
    )

    _account: pwd.struct_passwd | None = None

    async def start(self) -> Any:
        # useradd and chown block: off the hub's event loop.
        self._account = await asyncio.to_thread(self.ensure_account)
        return await super().start()

    def ensure_account(self) -> pwd.struct_passwd:
        """The user's account, made (with its private home) if it does not exist yet."""
        name = check_user_name(self.user.name)
        mapped = self.accounts.get(name)
        if mapped:
            try:
                entry = pwd.getpwnam(mapped)
            except KeyError:
                raise ConfigurationError(
                    f"hub user {name!r} is mapped to the account {mapped!r}, which does not "
                    "exist: create it or change WORKBENCH_HUB_SYSTEM_USERS"
                ) from None
            return _unprivileged(entry, name)
        account = f"{self.account_prefix}{name}"
        if not _ACCOUNT_NAME.fullmatch(account):
            raise ConfigurationError(
                f"hub user {name!r} would run as {account!r}, which is no valid account name "
                "(at most 32 characters): use a shorter WORKBENCH_HUB_SYSTEM_USER_PREFIX"
            )
        home = Path(self.users_dir) / name
        with _CREATING:
            try:
                entry = pwd.getpwnam(account)
            except KeyError:
                entry = _create_account(account, home, name)
        if Path(entry.pw_dir) != home:
            # Not one this spawner made: maybe a real person's, or a service's.
            raise ConfigurationError(
                f"hub user {name!r} would run as the existing account {account!r}, whose home "
                f"is {entry.pw_dir}, not {home}: map the user to it with "
                "WORKBENCH_HUB_SYSTEM_USERS if that is meant, or choose another "
                "WORKBENCH_HUB_SYSTEM_USER_PREFIX"
            )
        _unprivileged(entry, name)
        _private_home(home, entry)
        return entry

    def _entry(self) -> pwd.struct_passwd:
        if self._account is None:
            self._account = self.ensure_account()
        return self._account

    def make_preexec_fn(self, name: str) -> Any:
        return set_user_setuid(self._entry().pw_name)

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        entry = self._entry()
        env["USER"] = env["LOGNAME"] = entry.pw_name
        env["HOME"] = entry.pw_dir
        # The account's login shell is nologin (no su, no ssh); the lab's terminals need a
        # real one.
        env["SHELL"] = shutil.which("bash") or "/bin/sh"
        return env

    async def move_certs(self, paths: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError("internal_ssl is not supported with per-user accounts")


def _unprivileged(entry: pwd.struct_passwd, name: str) -> pwd.struct_passwd:
    if entry.pw_uid in (0, os.geteuid()):
        raise ConfigurationError(
            f"hub user {name!r} would run as {entry.pw_name!r} (uid {entry.pw_uid}), with the "
            "hub's own rights: map them to an ordinary account"
        )
    return entry


def _create_account(account: str, home: Path, name: str) -> pwd.struct_passwd:
    """``useradd``: a system account and group of its own, no login shell, home ``home``."""
    useradd = shutil.which("useradd", path=f"{os.environ.get('PATH', '')}:{_SBIN}")
    nologin = shutil.which("nologin", path=_SBIN) or "/bin/false"
    if useradd is None:
        raise ConfigurationError(
            "useradd is not installed: the hub makes an OS account per user when run as root"
        )
    made = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--shell",
            nologin,
            "--home-dir",
            str(home),
            "--create-home",
            "--comment",
            f"workbench hub user {name}",
            account,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise ConfigurationError(
            f"could not create the account {account!r} for hub user {name!r}: "
            f"{made.stderr.strip() or f'useradd exited with {made.returncode}'}"
        )
    return pwd.getpwnam(account)


def _private_home(home: Path, entry: pwd.struct_passwd) -> None:
    """``home`` a real folder owned by the account, mode 0700 (useradd makes it 0755)."""
    home.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(home)
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"{home} must be a folder, the home of {entry.pw_name!r}")
    # Only root writes the users folder, so nothing can swap the home under us.
    if (info.st_uid, info.st_gid) != (entry.pw_uid, entry.pw_gid):
        os.chown(home, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(home, 0o700)
