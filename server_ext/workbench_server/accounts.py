"""Which OS account runs a user's code on this machine, when the workbench runs as root.

A hub run as root starts each hub user's server as an account of their own
(``workbench_hub.spawner``): hub user ``alice`` is ``<prefix>alice`` (``wb-alice`` by
default) or the account an admin maps her to. Pipeline steps are the same user's code:
the worker runs each step's kernel as its pipeline owner's account
(``WORKBENCH_STEP_ACCOUNTS=hub``), or as one fixed account of no one's
(``WORKBENCH_STEP_ACCOUNTS=<account>``, as in the team stack's workers), never as itself.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from .errors import ConfigurationError

STEP_ACCOUNTS_ENV = "WORKBENCH_STEP_ACCOUNTS"
PREFIX_ENV = "WORKBENCH_HUB_SYSTEM_USER_PREFIX"
ACCOUNT_MAP_ENV = "WORKBENCH_HUB_SYSTEM_USERS"
DEFAULT_PREFIX = "wb-"


def account_map_from_env() -> dict[str, str]:
    """``$WORKBENCH_HUB_SYSTEM_USERS``: ``alice=asmith,bob=bjones``, hub user to account."""
    accounts = {}
    for pair in os.environ.get(ACCOUNT_MAP_ENV, "").split(","):
        if not pair.strip():
            continue
        user, _, account = (part.strip() for part in pair.partition("="))
        if not user or not account:
            raise ConfigurationError(
                f"{ACCOUNT_MAP_ENV}: {pair.strip()!r} names no account; write "
                "hubname=account, separated by commas"
            )
        accounts[user.lower()] = account
    return accounts


def hub_account_name(user: str) -> str:
    """The OS account hub user ``user`` runs as on a root hub."""
    return account_map_from_env().get(user) or os.environ.get(PREFIX_ENV, DEFAULT_PREFIX) + user


@dataclass(frozen=True)
class StepAccount:
    """An OS account a step's kernel runs as."""

    name: str
    uid: int
    gid: int
    home: str
    # One account for every owner's steps (``WORKBENCH_STEP_ACCOUNTS=<account>``): no
    # step may leave anything there for the next one, so each gets a fresh home.
    shared: bool = False


def step_account(owner: str) -> StepAccount | None:
    """The account the steps of ``owner``'s pipelines run as; None: the worker's own
    (``WORKBENCH_STEP_ACCOUNTS`` unset, a single user's machine)."""
    how = os.environ.get(STEP_ACCOUNTS_ENV, "").strip()
    if not how:
        return None
    account = hub_account_name(owner) if how == "hub" else how
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        raise ConfigurationError(
            f"pipeline steps of {owner!r} run as the account {account!r}, which does not "
            "exist on this machine"
            + (": it is made when they first start their server in the hub" if how == "hub" else "")
        ) from None
    if entry.pw_uid == 0 or entry.pw_uid == os.geteuid():
        raise ConfigurationError(
            f"pipeline steps of {owner!r} would run as {account!r}, a privileged account; "
            f"{STEP_ACCOUNTS_ENV} must name an unprivileged one"
        )
    # Steps run with their primary group only: one of the worker's groups (in the team
    # stack, the group that reads the docker secrets) would let them read what it reads.
    if entry.pw_gid in {os.getegid(), *os.getgroups()}:
        raise ConfigurationError(
            f"pipeline steps of {owner!r} would run as {account!r}, whose primary group "
            f"(gid {entry.pw_gid}) is one of the worker's; give it a group of its own"
        )
    return StepAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, shared=how != "hub")
