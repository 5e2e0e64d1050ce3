"""What an agent may do, as one principal: each tool calls the workbench's own services.

Nothing here checks a permission of its own or reads the metadata DB around a service:
the catalog filters tables and masks pii for the principal, the connection service
resolves only connections the principal may use, the pipeline registry and run service
decide who may see and run what. An agent can do exactly what its user can do through
the REST API, no more.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import to_json
from sqlalchemy import select

from ..catalog import CatalogService
from ..catalog.default_lake import ensure_default_lake
from ..db.models import CatalogTable
from ..errors import InvalidInputError, NotFoundError
from . import sql as readonly

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

DEFAULT_LAKE = "lake"
SQL_KINDS = ("lake", "postgres", "duckdb")
_REF = re.compile(r"[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+){0,2}")


class AgentTools:
    """The agents' tools for ``principal`` of ``workbench`` (blocking: run off a loop)."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    @property
    def catalog(self) -> CatalogService:
        return CatalogService(self.workbench, self.principal)

    # -- the catalog ------------------------------------------------------------------
    def table_id(self, table: str | int) -> int:
        """A catalog table by id, ``connection.schema.name``, or ``schema.name`` of the lake."""
        if isinstance(table, int) or (isinstance(table, str) and table.isdigit()):
            return int(table)
        if not isinstance(table, str) or not _REF.fullmatch(table):
            raise InvalidInputError(
                "table: a catalog id, connection.schema.name, or layer.name of the lake "
                "(e.g. gold.trial_balance)"
            )
        parts = table.split(".")
        if len(parts) == 1:
            raise InvalidInputError(
                f"table: {table!r} needs its schema (schema.name, or connection.schema.name)"
            )
        connection, schema, name = parts if len(parts) == 3 else (DEFAULT_LAKE, *parts)
        # The connection as the caller may use it (not found otherwise), then the id alone:
        # the services that take the id check the caller's rights again.
        row = self.catalog.access.connection(connection)
        with self.workbench.sessions() as session:
            found = session.scalar(
                select(CatalogTable.id).where(
                    CatalogTable.connection_id == row.id,
                    CatalogTable.schema_name == schema,
                    CatalogTable.name == name,
                )
            )
        if found is None:
            raise NotFoundError(f"no table {schema}.{name} in the catalog of {connection!r}")
        return found

    def search(
        self, query: str, limit: int = 10, filters: dict[str, str] | None = None
    ) -> dict[str, Any]:
        page = self.catalog.search(query, filters or None, 0, max(1, min(limit, 50)))
        return self._hits(
            page.query, page.total, ((h.table, h.score, h.matched_columns) for h in page.hits)
        )

    def search_in_memory(self, query: str, limit: int = 10) -> bytes | None:
        """:meth:`search`'s answer as JSON if the catalog's index in memory answers at once
        (no read of the metadata DB), else None: for callers on an event loop, as the REST
        search does.

        Made as the REST search's JSON is: each table's part of a hit is JSON kept in the
        snapshot while the table does not change, and only the score and matched columns
        are added per call (no dict built and serialized per hit)."""
        from ..catalog import searching

        searching.check(query, None)
        snapshot = searching.snapshots.fresh(self.workbench)
        if snapshot is None or len(snapshot.index.docs) > searching.IN_MEMORY_DOCS:
            return None
        limit = max(1, min(limit, 50))
        found = snapshot.index.search(query, snapshot.usable(self.principal), None, 0, limit)
        hits = b",".join(
            b'%b,"score":%b,"matched_columns":%b}'
            % (
                snapshot.memo("agent_hit", h.doc.id, _hit_head),
                to_json(round(h.score, 3)),
                to_json(h.columns),
            )
            for h in found.hits
        )
        return b'{"query":%b,"total":%b,"tables":[%b]}' % (
            to_json(query),
            to_json(found.total),
            hits,
        )

    @staticmethod
    def _hits(query: str, total: int, hits: Any) -> dict[str, Any]:
        """``hits``: (table summary, score, matched columns) of each result."""
        return {
            "query": query,
            "total": total,
            "tables": [
                {**_hit_fields(table), "score": round(score, 3), "matched_columns": columns}
                for table, score, columns in hits
            ],
        }

    def describe(self, table: str | int) -> dict[str, Any]:
        detail = self.catalog.table(self.table_id(table))
        out = detail.model_dump(mode="json", by_alias=True, exclude={"history"})
        out["ref"] = f"{detail.connection}.{detail.schema_name}.{detail.name}"
        return out

    def schema(self, table: str | int) -> dict[str, Any]:
        """Columns only: the table schema resource's content."""
        detail = self.catalog.table(self.table_id(table))
        return {
            "table": f"{detail.connection}.{detail.schema_name}.{detail.name}",
            "description": detail.description,
            "columns": [
                {
                    "name": c.name,
                    "type": c.data_type,
                    "nullable": c.nullable,
                    "primary_key": c.primary_key,
                    "label": c.label,
                    "references": c.references,
                    "tags": sorted({*c.tags, *c.auto_tags}),
                    "pii": "pii" in {*c.tags, *c.auto_tags},
                }
                for c in detail.columns
            ],
        }

    def preview(self, table: str | int, limit: int = 20) -> dict[str, Any]:
        found = self.catalog.preview(self.table_id(table), max(1, min(limit, 200)))
        return found.model_dump(mode="json")

    # -- lineage ------------------------------------------------------------------------
    def lineage(
        self,
        table: str,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: int = 3,
        column: str | None = None,
    ) -> dict[str, Any]:
        from ..lineage.service import LineageService

        if not isinstance(table, str) or not _REF.fullmatch(table) or table.count(".") == 0:
            raise InvalidInputError(
                "table: connection.schema.name, or layer.name of the lake (e.g. gold.x)"
            )
        parts = table.split(".")
        namespace, name = (
            (parts[0], ".".join(parts[1:])) if len(parts) == 3 else (DEFAULT_LAKE, table)
        )
        graph = LineageService(self.workbench, self.principal).graph(
            namespace, name, column, direction, depth
        )
        return graph.model_dump(mode="json")

    # -- read-only SQL ------------------------------------------------------------------
    def query(
        self,
        sql: str,
        connection: str = DEFAULT_LAKE,
        limit: int = 100,
        timeout_s: float = 10.0,
    ) -> dict[str, Any]:
        from ..connections.egress import EgressPolicy, pin
        from ..connections.service import ConnectionService

        limit = max(1, min(int(limit), readonly.MAX_ROWS))
        timeout_s = max(0.1, min(float(timeout_s), readonly.MAX_SECONDS))
        catalog = self.catalog
        if connection == DEFAULT_LAKE:
            ensure_default_lake(self.workbench)  # made with the catalog's first listing
        row = catalog.access.connection(connection)  # NotFound for one the caller may not use
        if row.kind not in SQL_KINDS:
            raise InvalidInputError(
                f"connection {connection!r} is a {row.kind} connection; SQL runs on the lake "
                "and on postgres and duckdb connections (preview its tables instead)"
            )
        if row.kind == "lake":
            query = readonly.read_only_query(sql, "duckdb")
            result = readonly.run_on_lake(catalog, query, limit, readonly.MAX_BYTES, timeout_s)
            result.source = connection
            return result.as_dict()
        settings = ConnectionService(self.workbench, self.principal).resolve(connection)
        settings = pin(connection, settings, EgressPolicy.from_settings(self.workbench.settings))
        # A function defined in the database reads around the masks: built-ins only then.
        builtin_only = not catalog.access.may_see_pii(row)
        if row.kind == "postgres":
            query = readonly.read_only_query(sql, "postgres")
            readonly.mask_pii(catalog, row, query, "public")
            return readonly.run_on_postgres(
                settings, query, limit, readonly.MAX_BYTES, timeout_s, connection, builtin_only
            ).as_dict()
        query = readonly.read_only_query(sql, "duckdb")
        readonly.mask_pii(catalog, row, query, "main")
        return readonly.run_on_duckdb_file(
            settings, query, limit, readonly.MAX_BYTES, timeout_s, connection, builtin_only
        ).as_dict()

    # -- pipelines ----------------------------------------------------------------------
    def pipelines(self) -> list[dict[str, Any]]:
        from ..pipelines.registry import PipelineRegistry

        return [
            p.model_dump(
                mode="json",
                include={
                    "name",
                    "owner",
                    "description",
                    "steps",
                    "parameters",
                    "schedule",
                    "current_version",
                    "may_operate",
                },
            )
            for p in PipelineRegistry(self.workbench, self.principal).list()
        ]

    async def run_pipeline(
        self, name: str, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from ..pipelines.runs import RunService

        run = await RunService(self.workbench, self.principal).start(name, parameters or {})
        return _run(run)

    async def run_status(self, run_id: str) -> dict[str, Any]:
        from ..pipelines.runs import RunService

        if not isinstance(run_id, str) or not re.fullmatch(r"[0-9a-f]{32}", run_id):
            raise InvalidInputError("run_id: the 32 hexadecimal characters run_pipeline answered")
        # On the server's loop, as REST's run detail: the core's Temporal client is asked
        # (a connection of its own from a thread cost ~3 ms a call).
        return _run(await RunService(self.workbench, self.principal).status(run_id))

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        from ..pipelines.runs import RunService

        found = RunService(self.workbench, self.principal).list(pipeline, max(1, min(limit, 200)))
        return [_run(r, steps=False) for r in found]

    # -- approvals ----------------------------------------------------------------------
    def approvals(self) -> list[dict[str, Any]]:
        """Pending approvals the principal may decide, oldest first."""
        from ..approvals.service import ApprovalService

        return [
            a.model_dump(mode="json", exclude={"escalated_at"})
            for a in ApprovalService(self.workbench, self.principal).pending()
        ]

    async def decide(
        self, run_id: str, step_id: str, approve: bool, reason: str = ""
    ) -> dict[str, Any]:
        """Approve or reject a pending approval the principal may decide (the approval
        service checks who may; its answer is refused otherwise)."""
        from ..approvals.service import ApprovalService

        if not isinstance(run_id, str) or not re.fullmatch(r"[0-9a-f]{32}", run_id):
            raise InvalidInputError("run_id: the 32 hexadecimal characters of the run")
        if not isinstance(step_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", step_id):
            raise InvalidInputError("step_id: the approval step's id in the pipeline")
        if len(reason) > 2000:
            raise InvalidInputError("reason: at most 2,000 characters")
        service = ApprovalService(self.workbench, self.principal)
        decided = await service.decide(run_id, step_id, approve, reason, via="mcp")
        return decided.model_dump(mode="json", exclude={"escalated_at"})


def _run(run: Any, steps: bool = True) -> dict[str, Any]:
    out = run.model_dump(
        mode="json",
        include={
            "id",
            "pipeline",
            "version",
            "status",
            "trigger",
            "parameters",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "tables",
        },
    )
    if steps:
        out["steps"] = [
            {k: v for k, v in a.items() if k in ("step_id", "attempt", "status", "error")}
            for a in (x.model_dump(mode="json") for x in run.attempts)
        ]
    return out


def _hit_fields(table: Any) -> dict[str, Any]:
    """What an agent's search hit says of its table (a catalog table summary)."""
    return {
        "id": table.id,
        "ref": f"{table.connection}.{table.schema_name}.{table.name}",
        "kind": table.kind,
        "label": table.label,
        "description": table.description,
        "odoo_model": table.odoo_model,
        "rows": table.row_estimate,
    }


def _hit_head(table: Any) -> bytes:
    """:func:`_hit_fields` as JSON without its closing brace: a hit's score and matched
    columns follow."""
    return to_json(_hit_fields(table))[:-1]
