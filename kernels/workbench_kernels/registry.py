"""The connections of this kernel's user, turned into jupysql connections when first used."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from workbench_server.connections.kinds import KIND_ADAPTER, KindConfig
from workbench_server.lake_env import LAKE_SANDBOX_ENV, LAKE_URI_ENV, lake_from_env

from .api import Bootstrap, WorkbenchUnavailable, fetch_bootstrap, fetch_usable
from .lake_session import LakeSession

if TYPE_CHECKING:
    from workbench_server.lake import WriterInfo

LAKE = "lake"
# Who a notebook's writes are by: JupyterHub's user name, else the account's.
HUB_USER_ENV = "JUPYTERHUB_USER"
WRITER_USER_ENV = "WORKBENCH_USER"  # set explicitly, it wins
NOTEBOOK_ENV = "JPY_SESSION_NAME"  # the notebook's path, as JupyterLab starts kernels
SQL_KINDS = ("postgres", "duckdb", "sqlalchemy", "lake")


class WorkbenchConnectionError(Exception):
    """A connection cannot be used; ``str()`` names it and says why."""


class KernelConnections:
    """Names → settings, refreshed from the workbench; jupysql connections made lazily."""

    def __init__(
        self,
        fetch: Callable[[], Bootstrap] = fetch_bootstrap,
        usable: Callable[[list[str]], list[str]] = fetch_usable,
    ) -> None:
        self._fetch = fetch
        self._usable = usable
        self.settings: dict[str, KindConfig] = {}
        self.problems: dict[str, str] = {}
        self.lake_location: str | None = None
        self.writer: dict[str, Any] = {}  # what the kernel's starter says of its writes
        self.unavailable: str | None = None
        self._lakes: dict[str, LakeSession] = {}
        self._registered: set[str] = set()

    def refresh(self) -> None:
        try:
            bootstrap = self._fetch()
        except WorkbenchUnavailable as exc:
            self.unavailable = str(exc)
            return
        self.unavailable = None
        self.lake_location = bootstrap.lake
        self.writer = dict(bootstrap.writer)
        settings, problems = {}, {}
        for name, values in bootstrap.connections.items():
            try:
                settings[name] = KIND_ADAPTER.validate_python(values)
            except ValidationError as exc:
                problems[name] = f"invalid settings ({exc.error_count()} error(s))"
        changed = {n for n in self.settings if settings.get(n) != self.settings.get(n)}
        self._registered -= changed  # re-create jupysql connections whose settings changed
        self.settings, self.problems = settings, problems
        for session in self._lakes.values():
            session.sources = self._attachable()

    def check(self, names: list[str]) -> None:
        """Before ``names`` are used: ask the workbench whether this kernel's user still
        may. Those unshared or deleted since are forgotten here (their jupysql connection
        closed, their lake attachment dropped) and the first is raised as
        :class:`WorkbenchConnectionError`. If the workbench cannot answer, nothing is used."""
        names = [n for n in dict.fromkeys(names) if n in self.settings]
        if not names:
            return
        try:
            allowed = set(self._usable(names))
        except WorkbenchUnavailable as exc:
            raise WorkbenchConnectionError(
                f"connection {names[0]!r}: cannot check with the workbench that you may "
                f"still use it ({exc})"
            ) from None
        revoked = [n for n in names if n not in allowed]
        for name in revoked:
            self.forget(name)
        if revoked:
            raise WorkbenchConnectionError(
                f"connection {revoked[0]!r} is no longer shared with you (or was removed); "
                "ask its owner"
            )

    def forget(self, name: str) -> None:
        """Drop connection ``name`` from this kernel, credentials and open handles too."""
        self.settings.pop(name, None)
        self._registered.discard(name)
        try:
            from sql.connection import ConnectionManager

            connection = ConnectionManager.connections.pop(name, None)
            if connection is not None:
                if ConnectionManager.current is connection:
                    ConnectionManager.current = None
                connection.close()
        except Exception:  # noqa: S110 - closing what may already be gone
            pass
        for session in self._lakes.values():
            session.sources = self._attachable()
            session.detach(name)

    def _attachable(self) -> dict[str, KindConfig]:
        return {n: s for n, s in self.settings.items() if s.kind in ("postgres", "duckdb")}

    def knows(self, name: str) -> bool:
        return name == LAKE or name in self.settings

    def refresh_lakes(self) -> None:
        """Look at every lake again now (S3 lakes are otherwise re-listed every 30 s)."""
        for session in self._lakes.values():
            session.refresh_views(force=True)

    def lake_session(self, name: str | None) -> LakeSession | None:
        """The DuckDB session behind ``name`` if it is a lake (the default one included)."""
        if name is None:
            return None
        own = self.settings.get(name)
        if name != LAKE and (own is None or own.kind != "lake"):
            return None
        if name not in self._lakes:
            if name == LAKE and os.environ.get(LAKE_URI_ENV):
                self._lakes[name] = self._team_lake()
            else:
                storage = own if own is not None and own.kind == "lake" else None
                location = storage.location if storage is not None else self.lake_location
                self._lakes[name] = LakeSession(location, self._attachable(), storage, name)
        return self._lakes[name]

    def _team_lake(self) -> LakeSession:
        """The default lake where this kernel's environment says (team mode: the hub
        gives a user's server ``WORKBENCH_LAKE_URI``, the endpoint and the user's own
        temporary credentials, and ``WORKBENCH_LAKE_SANDBOX_URI``, where they write),
        opened with those credentials, never with anything of the workbench's."""
        from workbench_server.errors import ConfigurationError

        try:
            team = lake_from_env()
            sandbox = lake_from_env(LAKE_SANDBOX_ENV)
        except ConfigurationError as exc:
            return LakeSession(None, self._attachable(), problem=f"the lake: {exc}")
        location = team.location if team is not None else self.lake_location
        return LakeSession(location, self._attachable(), team, LAKE, sandbox=sandbox)

    def writer_info(self, tool: str) -> WriterInfo:
        """Who this kernel's lake writes are by: the pipeline run's step and attempt (a
        step's kernel: the worker says which), or the notebook and its user."""
        from workbench_server.lake import WriterInfo

        given = {
            k: v for k, v in self.writer.items() if k in WriterInfo.model_fields and v is not None
        }
        found = WriterInfo.from_env(
            tool=tool,
            notebook=os.environ.get(NOTEBOOK_ENV) or None,
            user=None if os.environ.get(WRITER_USER_ENV) else os.environ.get(HUB_USER_ENV),
        )
        return WriterInfo.model_validate({**found.model_dump(), **given})

    def descriptor(self, name: str) -> Any:
        """What jupysql's ConnectionManager.set accepts for connection ``name``."""
        lake = self.lake_session(name)
        if lake is not None:
            return lake.db
        settings = self.settings.get(name)
        if settings is None:
            raise WorkbenchConnectionError(f"no connection named {name!r}")
        if settings.kind == "superset":
            raise WorkbenchConnectionError(
                f"connection {name!r} is a Superset, not SQL: publish lake tables to it "
                f"(workbench publish gold.TABLE --to {name})"
            )
        if settings.kind not in SQL_KINDS:
            raise WorkbenchConnectionError(
                f"connection {name!r} is Odoo's external API, not SQL: use %odoo with it"
            )
        if settings.kind == "duckdb":
            import duckdb

            return duckdb.connect(settings.path, read_only=settings.read_only)
        return _engine(settings)

    def register(self, name: str) -> None:
        """Make ``name`` a jupysql alias without changing the current connection."""
        if name in self._registered:
            return
        from sql.connection import ConnectionManager

        descriptor = self.descriptor(name)
        current = ConnectionManager.current
        try:
            ConnectionManager.set(descriptor, displaycon=False, alias=name)
        except Exception as exc:
            raise WorkbenchConnectionError(f"connection {name!r}: {error_message(exc)}") from None
        finally:
            if current is not None:
                ConnectionManager.current = current
        self._registered.add(name)


# Lines jupysql adds around a database error; the driver's own words follow its marker.
DRIVER_MARKER = "Original error message from DB driver:"
BOILERPLATE = ("If using snippets", "For more details", "(Background on this error")
HINTS = ("Candidate bindings:", "Did you mean", "HINT:")


def error_message(exc: BaseException) -> str:
    """One line: what the database (or jupysql) said, without wrappers and links."""
    text = str(getattr(exc, "orig", None) or exc)
    if DRIVER_MARKER in text:
        text = text.split(DRIVER_MARKER, 1)[1]
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(BOILERPLATE)
    ]
    if not lines:
        return type(exc).__name__
    first = re.sub(r"^\([\w.]+\)\s*", "", lines[0])  # "(psycopg.errors.X) message"
    # DuckDB's words around an error raised in a Python function (time travel's).
    first = re.sub(r"^.*Python exception occurred while executing the UDF: \w+: ", "", first)
    position = next((line for line in lines[1:] if line.startswith("LINE ")), None)
    # The database's own suggestion, what a mistyped name needs most: DuckDB's
    # "Candidate bindings: ..." and "Did you mean ...?", PostgreSQL's "HINT: ...".
    hints = [" ".join(line.split()) for line in lines[1:] if line.startswith(HINTS)]
    said = " ".join([first, *hints])
    return f"{said} ({position})" if position else said


def _engine(settings: KindConfig) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import URL, make_url

    if settings.kind == "postgres":
        url = URL.create(
            "postgresql+psycopg",
            username=settings.user,
            password=settings.password.get_secret_value() if settings.password else None,
            host=settings.host,
            port=settings.port,
            database=settings.database,
            query={"sslmode": settings.sslmode},
        )
        connect_args: dict[str, Any] = {
            "connect_timeout": 10,
            "application_name": "workbench-kernel",
        }
        if settings.schema_:
            connect_args["options"] = f"-c search_path={settings.schema_}"
        return create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    url = make_url(settings.url)
    if settings.password is not None:
        url = url.set(password=settings.password.get_secret_value())
    return create_engine(url)
