"""``workbench doctor``: check that this machine can run a workbench, part by part."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import click

from .. import temporal
from ..errors import WorkbenchError
from ..home import WorkbenchHome
from ..settings import WorkbenchSettings
from ..supervisor import free_port, port_in_use
from . import home_option

Result = tuple[bool, str]


def _python() -> Result:
    ok = sys.version_info >= (3, 11)
    return ok, f"Python {platform.python_version()} at {sys.executable}" + (
        "" if ok else " (need 3.11+)"
    )


def _labextension() -> Result:
    # Node is needed only to build the wheel; at run time the prebuilt extension is enough.
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("labextensions"):
        manifest = os.path.join(root, "@workbench", "core", "package.json")
        if os.path.isfile(manifest):
            with open(manifest) as handle:
                version = json.load(handle).get("version", "?")
            return (
                True,
                f"prebuilt JupyterLab extension @workbench/core {version} (node not needed)",
            )
    return False, "the prebuilt JupyterLab extension @workbench/core is not installed; reinstall"


def _temporal_binary() -> Result:
    binary = temporal.temporal_binary()
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=20)
    return out.returncode == 0, f"{out.stdout.strip() or out.stderr.strip()} at {binary}"


def _home(home: WorkbenchHome) -> Callable[[], Result]:
    def check() -> Result:
        from ..health import unwritable_reason

        home.prepare()
        reason = unwritable_reason(home.root)
        if reason:  # an empty probe file fits on a full disk: the DB's next commit does not
            return False, f"home {home.root}: {reason}"
        return True, f"home {home.root} is writable, secrets key mode 0600"

    return check


def _ports(ip: str, port: int | None) -> Callable[[], Result]:
    def check() -> Result:
        if port is not None and port_in_use(ip, port):
            return False, f"port {port} on {ip} is already in use"
        return True, f"can listen on {ip} (e.g. port {port or free_port(ip)})"

    return check


def _sqlite_file(db_url: str) -> str | None:
    """The file of a SQLite metadata DB, or None for another database."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _database(settings: WorkbenchSettings) -> Callable[[], Result]:
    def check() -> Result:
        from ..db import current_revision, head_revision, make_engine  # SQLAlchemy: ~0.5 s
        from ..health import unwritable_reason

        # SQLite on a full (or read-only) file system says only "disk I/O error" when it
        # cannot make its journal: the file system is the cause, and is named instead.
        path = _sqlite_file(settings.db_url)
        unwritable = unwritable_reason(Path(path)) if path else None
        engine = make_engine(settings.db_url)
        try:
            current, head = current_revision(engine), head_revision()
        except Exception as exc:
            if unwritable is None:
                raise
            said = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            return False, f"metadata DB {path} cannot be opened: {unwritable} (SQLite: {said})"
        finally:
            engine.dispose()
        if unwritable:
            return False, f"metadata DB {path} can be read but nothing can be saved: {unwritable}"
        if current != head:
            return (
                False,
                f"metadata DB at revision {current}, code expects {head} (workbench up migrates)",
            )
        return True, f"metadata DB {engine.url.render_as_string()} migrated (revision {head})"

    return check


def _connections(settings: WorkbenchSettings) -> Callable[[], Result]:
    def check() -> Result:
        from sqlalchemy import inspect, select

        from ..connections.service import config_url_passwords
        from ..db import make_engine
        from ..db.models import Connection

        engine = make_engine(settings.db_url)
        try:
            with engine.connect() as conn:
                if not inspect(conn).has_table("connections"):
                    return True, "no connections yet"
                rows = conn.execute(
                    select(Connection.name, Connection.kind, Connection.config)
                ).all()
        finally:
            engine.dispose()
        # Saved before passwords were kept out of URLs, by a kind with no password field
        # to move it to (the 0018 migration moved every other one).
        held = [
            f"{name!r} ({kind}: {', '.join(keys)})"
            for name, kind, config in rows
            if (keys := config_url_passwords(config or {}))
        ]
        if held:
            return False, (
                f"connection(s) {', '.join(held)} keep a password in a URL, in clear in the "
                "metadata DB: save each again with the URL without it (the service's key "
                "in its own field)"
            )
        return True, f"{len(rows)} connection(s), no password kept in a URL"

    return check


def _round_trip(settings: WorkbenchSettings) -> Callable[[], Result]:
    async def ping() -> str:
        from workbench_pipelines.workflows import PingWorkflow

        client = await temporal.connect(
            settings.temporal_address or "", settings.temporal_namespace
        )
        info = await asyncio.wait_for(
            client.execute_workflow(
                PingWorkflow.run, id=f"doctor-{uuid.uuid4().hex}", task_queue=settings.task_queue
            ),
            15,
        )
        return info.identity

    def check() -> Result:
        identity = asyncio.run(ping())
        return True, f"Temporal at {settings.temporal_address} ran a ping through worker {identity}"

    return check


def _cdc(settings: WorkbenchSettings, name: str) -> Callable[[], Result]:
    """Whether connection ``name`` (a PostgreSQL source) allows logical replication."""

    def check() -> Result:
        from ..connections import ConnectionService
        from ..connections.egress import EgressPolicy, pin
        from ..connections.kinds import PostgresConfig
        from ..connections.replication import check as readiness
        from ..core import Workbench
        from ..principal import local_principal

        workbench = Workbench(settings)
        try:
            cfg = ConnectionService(workbench, local_principal()).resolve(name)
        finally:
            workbench.close()
        if not isinstance(cfg, PostgresConfig):
            return False, (
                f"connection {name!r} is a {cfg.kind} connection: change data capture "
                "reads a postgres connection"
            )
        pinned = pin(name, cfg, EgressPolicy.from_settings(settings))
        found = readiness(pinned.psycopg_kwargs("workbench-doctor", 10))
        return found.ok, f"{name}: {found.summary()}"

    return check


@click.command()
@home_option
@click.option("--ip", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="A port you intend to use for JupyterLab.")
@click.option(
    "--cdc",
    "cdc",
    multiple=True,
    metavar="CONNECTION",
    help="Also check that this postgres connection allows change data capture (logical "
    "replication), and say what to change if not. May be given several times.",
)
def doctor(home: str | None, ip: str, port: int | None, cdc: tuple[str, ...] = ()) -> None:
    """Check Python, the prebuilt extension, the temporal binary, ports, home and DB
    (and, with --cdc, a source's logical replication)."""
    workbench_home = WorkbenchHome.resolve(home)
    settings = WorkbenchSettings.from_env(workbench_home.root)
    checks: list[tuple[str, Callable[[], Result]]] = [
        ("python", _python),
        ("lab extension", _labextension),
        ("temporal binary", _temporal_binary),
        ("ports", _ports(ip, port)),
        ("home", _home(workbench_home)),
        ("metadata DB", _database(settings)),
        ("connections", _connections(settings)),
    ]
    if settings.temporal_address:
        checks.append(("run engine", _round_trip(settings)))
    checks.extend((f"cdc {name}", _cdc(settings, name)) for name in cdc)
    failed = 0
    for name, check in checks:
        try:
            ok, detail = check()
        except WorkbenchError as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # a doctor reports every failure and goes on to the next
            ok, detail = False, f"{type(exc).__name__}: {exc}".splitlines()[0]
        failed += not ok
        click.echo(f"{'ok  ' if ok else 'FAIL'} {name:16} {detail}")
    if failed:
        click.echo(f"{failed} check(s) failed.", err=True)
        sys.exit(1)
