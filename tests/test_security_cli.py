"""A password typed into a connection's URL on the ``workbench`` command line.

Secret fields are refused on a command line (every account on the machine reads command
lines, in ``ps`` and /proc/PID/cmdline, and the shell keeps them in its history); since
8a656f3 a password inside a URL is a secret too, moved into the encrypted password on
save. The CLI still took ``--set url=https://user:pw@host`` (or SQLAlchemy's
``?password=``) and saved it so: the password had been on the command line all along.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.processes import base_env, run_workbench, workbench_argv

PASSWORD = "s3cret-in-url"


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("superset", f"http://admin:{PASSWORD}@127.0.0.1:9/"),
        ("sqlalchemy", f"postgresql+psycopg://u@127.0.0.1:9/db?password={PASSWORD}"),
    ],
)
def test_a_password_in_a_url_is_refused_on_the_command_line(
    tmp_path: Path, kind: str, url: str
) -> None:
    env = base_env(tmp_path / "home")
    extra = ("--set", "user=admin") if kind == "superset" else ()

    def refused(*command: str) -> None:
        done = run_workbench("connection", *command, "--set", f"url={url}", env=env)
        assert done.returncode != 0, done.stdout
        assert "url: a password in a URL may not be given on the command line" in done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr

    refused("add", "leaky", "--kind", kind, *extra)
    listed = run_workbench("connection", "list", env=env)
    assert "leaky" not in listed.stdout

    # As the message says: the URL without it, the password through stdin.
    bare = url.replace(f":{PASSWORD}@", "@").replace(f"?password={PASSWORD}", "")
    added = subprocess.run(
        workbench_argv(
            "connection", "add", "leaky", "--kind", kind, "--set", f"url={bare}", *extra,
            "--secrets-stdin",
        ),
        input=f"password={PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    refused("edit", "leaky")  # nor when changing it
    shown = run_workbench("connection", "show", "leaky", env=env)
    assert PASSWORD not in shown.stdout and '"password": "***set***"' in shown.stdout
    assert bare in shown.stdout


def test_workbench_up_refuses_a_db_password_on_its_command_line(tmp_path: Path) -> None:
    """``workbench up --db-url postgresql://u:pw@host/db`` kept the metadata DB's password
    in the command line of ``workbench up`` while the stack started, for every account on
    the machine to read; WORKBENCH_DB_URL (the environment, private to the account) is
    where it goes, and the error says so before anything starts."""
    home = tmp_path / "home"
    done = run_workbench(
        "up", "--no-demo", "--db-url", f"postgresql://wb:{PASSWORD}@127.0.0.1:9/wb",
        env=base_env(home), timeout=60,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
    assert "--db-url: a password in it may not be given on the command line" in done.stderr
    assert "WORKBENCH_DB_URL" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert not (home / "run").exists()  # nothing was started
