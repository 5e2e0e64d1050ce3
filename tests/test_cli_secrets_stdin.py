"""``workbench connection add --secrets-stdin`` given a line that is not FIELD=VALUE
(a JSON object, a bare password): the error says which line and what is expected, and
never prints the line, which holds a secret."""

from __future__ import annotations

import subprocess

from tests.support.processes import base_env, workbench_argv


def test_a_malformed_secret_line_is_refused_without_showing_it(workbench, home):
    secret = "KDhuQz4f-not-to-be-shown"
    done = subprocess.run(
        workbench_argv(
            "connection", "add", "src", "--kind", "postgres", "--set", "host=127.0.0.1",
            "--set", "database=x", "--set", "user=u", "--secrets-stdin",
        ),
        input=f'{{"password": "{secret}"}}\n',
        capture_output=True,
        text=True,
        timeout=120,
        env=base_env(home),
    )  # fmt: skip
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert secret not in said
    assert "--secrets-stdin" in said and "line 1" in said and "FIELD=VALUE" in said
    assert "Traceback" not in said
