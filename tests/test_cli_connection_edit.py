"""``workbench connection edit``: an admin who added a connection from the terminal shares
it, fixes a setting and changes its password there too (before, the CLI could only add
and remove: re-adding said "already exists (yours)", and sharing needed the REST API or
the panel). Against a real scram PostgreSQL; the new password is never printed."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, workbench_argv
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.principal import Principal, local_principal


def _cli(home, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        workbench_argv("connection", *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=base_env(home),
    )


def test_a_connection_is_shared_fixed_and_given_a_new_password_from_the_cli(
    workbench, home, pg_conninfo
):
    password = urlsplit(pg_conninfo).password
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(
            name="ledger",
            settings=postgres_settings(pg_conninfo, password="wrong", database="nope"),
        )
    )
    # Adding it again says how to change it, before asking for any secret.
    again = _cli(
        home, "add", "ledger", "--kind", "postgres", "--set", "host=h", "--set", "database=d",
        "--set", "user=u", "--secrets-stdin", stdin=f"password={password}\n",
    )  # fmt: skip
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert again.stderr.strip() == (
        "workbench: error: a connection named 'ledger' already exists (postgres); change it "
        "with workbench connection edit ledger (--set, --secrets-stdin, --share), or remove it"
    )
    bob = ConnectionService(workbench, Principal(name="bob", groups=frozenset({"finance"})))
    assert "ledger" not in [c.name for c in bob.list()]
    assert _cli(home, "test", "ledger").returncode == 1

    shared = _cli(home, "edit", "ledger", "--share", "finance", "--share", "audit")
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.strip() == (
        "updated connection 'ledger' (postgres); shared with audit, finance"
    )
    assert "ledger" in [c.name for c in bob.list()]

    database = urlsplit(pg_conninfo).path.lstrip("/")
    fixed = _cli(
        home,
        "edit",
        "ledger",
        "--set",
        f"database={database}",
        "--unshare",
        "audit",
        "--secrets-stdin",
        stdin=f"password={password}\n",
    )
    assert fixed.returncode == 0, fixed.stderr
    assert password not in fixed.stdout + fixed.stderr
    tested = _cli(home, "test", "ledger")
    assert tested.returncode == 0 and tested.stdout.startswith("connection 'ledger': PostgreSQL")
    # The cluster has wal_level=replica: that concerns CDC alone, and the line says so.
    assert tested.stdout.splitlines()[1].startswith(
        "for change data capture only (extract mode: cdc): logical replication not possible: "
        "wal_level is replica"
    ), tested.stdout
    shown = ConnectionService(workbench, local_principal()).get("ledger")
    assert shown.shared_groups == ["finance"]
    assert shown.settings["database"] == database and shown.settings["password"] == "***set***"

    # Mistakes: one line naming what is wrong, no traceback, nothing changed.
    for args, said in (
        (("--set", "port=five"), "connection 'ledger': port: input should be a valid integer"),
        (("--set", "colour=blue"), "'colour' is not a field of a postgres connection"),
        (("--set", "password=x"), "password may not be given on the command line"),
        ((), "nothing to change"),
        (("--share", "a", "--unshare", "a"), "--share and --unshare both name a"),
    ):
        done = _cli(home, "edit", "ledger", *args)
        assert done.returncode != 0 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    missing = _cli(home, "edit", "nothing_here", "--share", "finance")
    assert missing.returncode != 0 and "no connection named 'nothing_here'" in missing.stderr
    assert ConnectionService(workbench, local_principal()).get("ledger") == shown

    _cli(home, "edit", "ledger", "--unshare", "finance")
    assert "ledger" not in [c.name for c in bob.list()]
