"""What a workbench kernel receives: the connections (with credentials) it may use.

Two places start kernels: the Jupyter server (interactive work) and the pipeline worker
(notebook steps). Both hand each kernel a token of its own and an address in the
kernel's environment, and answer ``GET /workbench/api/kernel/connections`` with the same
payload, built here, for the one principal that kernel acts for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..principal import Principal

# The connection service (with the ORM and the DB models) is imported where it is used:
# kernels import this module for its paths and names, at their first %sql.

if TYPE_CHECKING:
    from ..core import Workbench
    from ..lineage.service import RecordedSql

log = logging.getLogger(__name__)

KERNEL_AUTH_SCHEME = "WorkbenchKernel"
KERNEL_CONNECTIONS_PATH = "/workbench/api/kernel/connections"
KERNEL_USAGE_PATH = "/workbench/api/kernel/usage"
KERNEL_LINEAGE_PATH = "/workbench/api/kernel/lineage"
KERNEL_USABLE_PATH = "/workbench/api/kernel/connections/usable"
KERNEL_TOKEN_ENV = "WORKBENCH_KERNEL_TOKEN"  # noqa: S105 - a variable name
API_URL_ENV = "WORKBENCH_API_URL"
# What the server or worker holds and a kernel (user code) never inherits: the metadata
# DB's URL (with its password), the key, the SMTP login, a lineage consumer's API key.
SERVER_ONLY_ENV = (
    "WORKBENCH_DB_URL",
    "WORKBENCH_DB_URL_FILE",
    "WORKBENCH_SECRETS_KEY_FILE",
    "WORKBENCH_SMTP_URL",
    "WORKBENCH_OPENLINEAGE_TRANSPORT",
    "OPENLINEAGE_URL",
    "OPENLINEAGE_API_KEY",
    "OPENLINEAGE_CONFIG",
)


class KernelConnection(BaseModel):
    name: str
    kind: str
    settings: dict[str, object]


class KernelBootstrap(BaseModel):
    connections: list[KernelConnection]
    lake: str | None


def kernel_bootstrap(workbench: Workbench, principal: Principal) -> KernelBootstrap:
    """Every connection ``principal`` may use, secrets in clear text, and where the default
    lake is (a kernel reaches an S3 lake with the credentials of its own environment)."""
    from .service import ConnectionService

    connections = []
    for name, settings in ConnectionService(workbench, principal).resolve_all().items():
        values = settings.model_dump(mode="json", by_alias=True)
        values.update(settings.secrets())  # clear text, for this kernel only
        connections.append(KernelConnection(name=name, kind=settings.kind, settings=values))
    return KernelBootstrap(connections=connections, lake=workbench.settings.lake_root)


class UsableQuery(BaseModel):
    """Connections a kernel is about to use, to ask whether it still may."""

    names: list[str] = Field(max_length=100)


def usable_connections(workbench: Workbench, principal: Principal, names: list[str]) -> list[str]:
    """Those of ``names`` that ``principal`` may still use. Kernels ask before each use,
    so that unsharing a connection (or deleting it) stops its use at once, not at the
    next kernel restart; no secret is read or sent for this."""
    from .service import ConnectionService

    usable = {c.name for c in ConnectionService(workbench, principal).list()}
    return [name for name in names if name in usable]


class TableUse(BaseModel):
    connection: str = Field(max_length=100)
    schema_: str | None = Field(None, alias="schema", max_length=200)
    name: str = Field(max_length=300)
    count: int = Field(1, ge=1, le=1_000_000)


class KernelUsage(BaseModel):
    """How often a kernel's queries read which tables since its last report."""

    tables: list[TableUse] = Field(default_factory=list, max_length=500)


def record_kernel_usage(workbench: Workbench, principal: Principal, usage: KernelUsage) -> None:
    from ..catalog import CatalogService

    catalog = CatalogService(workbench, principal)
    for use in usage.tables:
        catalog.record_usage(use.connection, [(use.schema_, use.name)], use.count)


class KernelSql(BaseModel):
    """A statement a kernel ran that writes data, for lineage."""

    connection: str = Field(max_length=100)
    sql: str = Field(max_length=200_000)
    dialect: str = Field("duckdb", pattern="^(duckdb|postgres)$")
    job: str = Field("kernel", max_length=300)


def record_kernel_sql(
    workbench: Workbench, principal: Principal, item: KernelSql, run_id: str | None = None
) -> RecordedSql | None:
    """Parse ``item.sql`` and store its lineage under ``item.job``; never raises on bad SQL.

    None when the statement ran on a connection the principal may not use."""
    from ..lineage import sql_lineage
    from ..lineage.service import LineageService, RecordedSql, SqlContext
    from .service import ConnectionService

    usable = {c.name: c for c in ConnectionService(workbench, principal).list()}
    own = usable.get(item.connection)
    if own is None and item.connection != "lake":
        return None
    kind = own.kind if own is not None else "lake"
    if own is not None and own.kind == "lake":
        lake_root = own.settings.get("location")
    else:  # the default lake, which lake sessions of every kind see as files
        lake_root = workbench.settings.lake_root
    context = SqlContext(
        connection=item.connection,
        kind=kind,
        attachable=[n for n, c in usable.items() if c.kind in ("postgres", "duckdb")],
        attached_schemas={n: "public" for n, c in usable.items() if c.kind == "postgres"},
        lake_root=lake_root,
    )
    found = sql_lineage(item.sql, item.dialect)
    service = LineageService(workbench, principal)
    service.record_warnings(found.warnings, item.job, run_id)
    return RecordedSql(found, context, service.record(found, context, item.job, run_id))


def catalog_lake_writes(workbench: Workbench, principal: Principal, recorded: RecordedSql) -> None:
    """Scan into the catalog the lake tables a kernel's statement wrote, and only them, so
    a table made with ``%sql`` is found in the panel at once, not after the next scan of
    the lake. Never raises: the write happened; a failed scan is logged and recorded."""
    from ..catalog import CatalogService
    from ..lineage.service import resolve

    context = recorded.context
    lakes = {"lake"} | ({context.connection} if context.kind == "lake" else set())
    written: dict[str, set[str]] = {}
    for statement in recorded.found.statements:
        for output in statement.outputs:
            namespace, name = resolve(output, context)
            if namespace in lakes and name.count(".") == 1:
                written.setdefault(namespace, set()).add(name)
    for namespace, tables in written.items():
        try:
            CatalogService(workbench, principal).scan(namespace, tables=sorted(tables))
        except Exception as exc:
            log.warning("catalog scan of %s in %s after a write failed: %s", tables, namespace, exc)


def bearer_token(authorization: str) -> str | None:
    """The token of a ``WorkbenchKernel <token>`` Authorization header, else None."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme == KERNEL_AUTH_SCHEME and token else None
