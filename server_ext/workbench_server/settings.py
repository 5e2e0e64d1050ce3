"""Where the core finds its parts: one pydantic model shared by every adapter."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from .connections.kinds import LakeConfig
from .errors import ConfigurationError
from .home import WorkbenchHome
from .lake_env import LAKE_ENDPOINT_ENV, LAKE_URI_ENV, lake_from_env

DB_URL_ENV = "WORKBENCH_DB_URL"
# A file (mode 0600) holding the URL: how children get a URL with a password, so that it
# is in no process's environment (/proc/PID/environ), kernels' least of all.
DB_URL_FILE_ENV = "WORKBENCH_DB_URL_FILE"
DB_URL_FILE = "db-url"  # in the home's run folder
# Set in a JupyterHub user server (and its terminals): the hub's workbench service, and
# the server's own hub token, the user's identity there.
SERVICE_URL_ENV = "WORKBENCH_SERVICE_URL"
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"  # noqa: S105 - a variable name
TEMPORAL_ADDRESS_ENV = "WORKBENCH_TEMPORAL_ADDRESS"
TEMPORAL_NAMESPACE_ENV = "WORKBENCH_TEMPORAL_NAMESPACE"
TASK_QUEUE_ENV = "WORKBENCH_TASK_QUEUE"
OPENLINEAGE_TRANSPORT_ENV = "WORKBENCH_OPENLINEAGE_TRANSPORT"
OPENLINEAGE_NAMESPACE_ENV = "WORKBENCH_OPENLINEAGE_NAMESPACE"
EGRESS_DENY_ENV = "WORKBENCH_EGRESS_DENY"
EGRESS_ALLOW_ENV = "WORKBENCH_EGRESS_ALLOW"
TESTS_PER_MINUTE_ENV = "WORKBENCH_CONNECTION_TESTS_PER_MINUTE"
MODE_ENV = "WORKBENCH_MODE"
PII_COLUMNS_ENV = "WORKBENCH_PII_COLUMNS"
DATA_ROOTS_ENV = "WORKBENCH_DATA_ROOTS"
STEP_HEARTBEAT_TIMEOUT_ENV = "WORKBENCH_STEP_HEARTBEAT_TIMEOUT"
DEFAULT_TASK_QUEUE = "workbench"
DEFAULT_OPENLINEAGE_NAMESPACE = "workbench"
DEFAULT_TESTS_PER_MINUTE = 10
# Seconds without a heartbeat before Temporal takes a step's attempt for lost and runs it
# again; the shortest a worker's heartbeats (sent every third of it) leave room for.
DEFAULT_STEP_HEARTBEAT_TIMEOUT_S = 10.0
MIN_STEP_HEARTBEAT_TIMEOUT_S = 1.0
# The team stack's own services (docker-compose.yml: PostgreSQL, Temporal and its UI, the
# hub's API) and the service's own loopback: no user's connection or webhook goes there.
TEAM_EGRESS_DENY = ("postgres", "temporal", "temporal-ui", "hub", "127.0.0.0/8", "::1")


def db_url_from_env() -> str | None:
    """``$WORKBENCH_DB_URL``, else the URL in the file ``$WORKBENCH_DB_URL_FILE`` names."""
    if os.environ.get(DB_URL_ENV):
        return os.environ[DB_URL_ENV]
    file = os.environ.get(DB_URL_FILE_ENV)
    if not file:
        return None
    try:
        return Path(file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"{DB_URL_FILE_ENV}={file} cannot be read ({exc.strerror})"
        ) from None


def json_object_env(name: str) -> dict | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{name}: expected a JSON object")
    return value


def names_env(name: str) -> list[str] | None:
    """A comma-separated list from ``name``; None when the variable is not set."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def egress_deny_from_env() -> list[str]:
    """``$WORKBENCH_EGRESS_DENY``; unset, the team stack's services in team mode."""
    found = names_env(EGRESS_DENY_ENV)
    if found is not None:
        return found
    return list(TEAM_EGRESS_DENY) if os.environ.get(MODE_ENV) == "team" else []


def egress_allow_from_env() -> list[str]:
    """``$WORKBENCH_EGRESS_ALLOW`` (empty: every host not denied)."""
    return names_env(EGRESS_ALLOW_ENV) or []


def data_roots_from_env(home: Path) -> list[str]:
    """``$WORKBENCH_DATA_ROOTS`` (``os.pathsep``-separated), else the home's default."""
    from .connections.data_roots import data_roots_from_env as from_env

    return from_env(home)


def pii_columns_from_env() -> list[str]:
    """``$WORKBENCH_PII_COLUMNS``: patterns separated by commas, or a JSON list (for a
    pattern with a comma in it)."""
    raw = os.environ.get(PII_COLUMNS_ENV, "").strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{PII_COLUMNS_ENV}: not a JSON list ({exc})") from None
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise ConfigurationError(f"{PII_COLUMNS_ENV}: expected a JSON list of strings")
        return value
    return [item.strip() for item in raw.split(",") if item.strip()]


def tests_per_minute_from_env() -> int:
    raw = os.environ.get(TESTS_PER_MINUTE_ENV, "").strip()
    try:
        return int(raw) if raw else DEFAULT_TESTS_PER_MINUTE
    except ValueError:
        raise ConfigurationError(f"{TESTS_PER_MINUTE_ENV}: not a whole number") from None


def step_heartbeat_timeout_from_env() -> float:
    raw = os.environ.get(STEP_HEARTBEAT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_STEP_HEARTBEAT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= MIN_STEP_HEARTBEAT_TIMEOUT_S or value == float("inf"):
        raise ConfigurationError(
            f"{STEP_HEARTBEAT_TIMEOUT_ENV}={raw!r}: expected a number of seconds, at least "
            f"{MIN_STEP_HEARTBEAT_TIMEOUT_S:g}"
        )
    return value


class WorkbenchSettings(BaseModel):
    """Resolved settings of one workbench installation."""

    home: Path
    db_url: str
    temporal_address: str | None = Field(
        default=None, description="host:port of the Temporal frontend; None when not configured"
    )
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    openlineage_transport: dict | None = Field(
        default=None,
        description="an openlineage-python transport config (http, file, kafka, ...); "
        "None sends lineage events nowhere unless OPENLINEAGE_URL/OPENLINEAGE_CONFIG is set",
    )
    openlineage_namespace: str = DEFAULT_OPENLINEAGE_NAMESPACE
    egress_deny: list[str] = Field(
        default_factory=list,
        description="host names, addresses and CIDRs that connections and webhooks may not "
        "reach, besides link-local and cloud metadata addresses (always denied)",
    )
    egress_allow: list[str] = Field(
        default_factory=list,
        description="when not empty, the only hosts, addresses and CIDRs connections and "
        "webhooks may reach (the deny list still wins)",
    )
    step_heartbeat_timeout_s: float = Field(
        default=DEFAULT_STEP_HEARTBEAT_TIMEOUT_S,
        ge=MIN_STEP_HEARTBEAT_TIMEOUT_S,
        allow_inf_nan=False,
        description="seconds without a heartbeat after which Temporal takes a running "
        "step's attempt for lost (its worker died or stalled, or Temporal could not be "
        "reached) and runs it again; each run keeps the value it started with",
    )
    connection_tests_per_minute: int = Field(
        default=DEFAULT_TESTS_PER_MINUTE,
        description="connection tests one user may run in any minute; 0 for no limit",
    )
    pii_columns: list[str] = Field(
        default_factory=list,
        description="regular expressions of column names (or table.column) that catalog "
        "scans tag pii, besides Odoo's and common personal-data columns",
    )
    data_roots: list[str] | None = Field(
        default=None,
        description="folders that DuckDB files, lake folders and SQLite URLs of connections "
        "must lie in (an entry may hold {username}, the connection's owner); None: the "
        "default of connections.data_roots for the home",
    )
    lake: LakeConfig | None = Field(
        default=None,
        description="the default lake when it is not the home's lake folder: a folder or "
        "s3://bucket/prefix with its endpoint, region and keys ($WORKBENCH_LAKE_URI, "
        "see workbench_server.lake_env)",
    )

    @field_validator("egress_deny", "egress_allow")
    @classmethod
    def _egress_rules(cls, value: list[str]) -> list[str]:
        from .connections.egress import parse_rules

        parse_rules(value)  # a typo must stop the start, not open or close the network
        return value

    @field_validator("data_roots")
    @classmethod
    def _data_roots(cls, value: list[str] | None) -> list[str] | None:
        from .connections.data_roots import check_entries

        return None if value is None else check_entries(value)

    @property
    def allowed_data_roots(self) -> list[str]:
        """``data_roots``, or the default for this home when not set."""
        from .connections.data_roots import default_data_roots

        return self.data_roots if self.data_roots is not None else default_data_roots(self.home)

    @field_validator("pii_columns")
    @classmethod
    def _pii_columns(cls, value: list[str]) -> list[str]:
        from .catalog.pii import check_patterns

        return check_patterns(value)  # a typo must stop the start, not tag nothing

    @property
    def workbench_home(self) -> WorkbenchHome:
        return WorkbenchHome(self.home)

    @property
    def lake_root(self) -> str:
        """Where the default lake is: ``lake``'s folder or ``s3://bucket/prefix``, else the
        home's ``lake`` folder."""
        return self.lake.location if self.lake is not None else str(self.workbench_home.lake)

    @classmethod
    def from_env(
        cls, home: str | os.PathLike[str] | None = None, **overrides: object
    ) -> WorkbenchSettings:
        """Settings from ``WORKBENCH_*`` variables; explicit overrides win when not None."""
        resolved = WorkbenchHome.resolve(home)
        values: dict[str, object] = {
            "home": resolved.root,
            "db_url": db_url_from_env() or resolved.default_db_url,
            "temporal_address": os.environ.get(TEMPORAL_ADDRESS_ENV) or None,
            "temporal_namespace": os.environ.get(TEMPORAL_NAMESPACE_ENV) or "default",
            "task_queue": os.environ.get(TASK_QUEUE_ENV) or DEFAULT_TASK_QUEUE,
            "openlineage_transport": json_object_env(OPENLINEAGE_TRANSPORT_ENV),
            "openlineage_namespace": os.environ.get(OPENLINEAGE_NAMESPACE_ENV)
            or DEFAULT_OPENLINEAGE_NAMESPACE,
            "egress_deny": egress_deny_from_env(),
            "egress_allow": egress_allow_from_env(),
            "connection_tests_per_minute": tests_per_minute_from_env(),
            "step_heartbeat_timeout_s": step_heartbeat_timeout_from_env(),
            "pii_columns": pii_columns_from_env(),
            "data_roots": data_roots_from_env(resolved.root),
            "lake": lake_from_env(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def with_running_stack(self) -> WorkbenchSettings:
        """Fill in Temporal from the ``workbench up`` running on this home, if any."""
        state_file = self.workbench_home.run_dir / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return self
        return self.model_copy(
            update={
                "temporal_address": state.get("temporal"),
                "task_queue": state.get("task_queue", self.task_queue),
            }
        )

    def db_url_env(self) -> dict[str, str]:
        """The metadata DB for a child: the URL itself when it holds no password (SQLite),
        else the path of a file in the home's run folder, private to this account.
        (``urlsplit`` reads the password as SQLAlchemy's ``make_url`` does, without loading
        SQLAlchemy into ``workbench up``'s supervisor.)"""
        if urlsplit(self.db_url).password is None:
            return {DB_URL_ENV: self.db_url}
        run_dir = self.workbench_home.run_dir
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = run_dir / DB_URL_FILE
        staged = run_dir / f".{DB_URL_FILE}-{os.getpid()}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.db_url)
        os.replace(staged, path)
        return {DB_URL_FILE_ENV: str(path)}

    def child_env(self) -> dict[str, str]:
        """Environment variables that hand these settings to a child process."""
        env = {
            "WORKBENCH_HOME": str(self.home),
            **self.db_url_env(),
            TEMPORAL_NAMESPACE_ENV: self.temporal_namespace,
            TASK_QUEUE_ENV: self.task_queue,
            OPENLINEAGE_NAMESPACE_ENV: self.openlineage_namespace,
            # Always passed, empty included: a child must not fall back to another default.
            EGRESS_DENY_ENV: ",".join(self.egress_deny),
            EGRESS_ALLOW_ENV: ",".join(self.egress_allow),
            TESTS_PER_MINUTE_ENV: str(self.connection_tests_per_minute),
            STEP_HEARTBEAT_TIMEOUT_ENV: f"{self.step_heartbeat_timeout_s:g}",
            PII_COLUMNS_ENV: json.dumps(self.pii_columns),
            DATA_ROOTS_ENV: os.pathsep.join(self.allowed_data_roots),
        }
        if self.openlineage_transport:
            env[OPENLINEAGE_TRANSPORT_ENV] = json.dumps(self.openlineage_transport)
        if self.temporal_address:
            env[TEMPORAL_ADDRESS_ENV] = self.temporal_address
        if self.lake is not None:
            # Where the lake is; its keys reach a child as they reached this process (the
            # environment or files it names), never copied into an environment here.
            env[LAKE_URI_ENV] = self.lake.location
            if self.lake.endpoint_url is not None:
                env[LAKE_ENDPOINT_ENV] = str(self.lake.endpoint_url)
            if self.lake.region:
                env["AWS_REGION"] = self.lake.region
        return env
