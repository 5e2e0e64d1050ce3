"""The workbench's MCP server: the agents' tools and resources, each call as its caller.

One :class:`~mcp.server.mcpserver.MCPServer` serves both transports. Over streamable HTTP
(:mod:`.http`) the caller is the user whose Jupyter or hub token authenticated the HTTP
request: the tornado handler resolves the token to a :class:`Principal` exactly as every
REST handler does and puts it in the ASGI scope of that request, where each call reads
it (``ctx.request_context.request``), per request, never per session. Over stdio
(``workbench mcp``) the caller is the account that started the process, as for every
other CLI command.

Every call is audited (:mod:`.audit`) with its outcome; a domain error (not found,
permission denied, invalid input) is the tool's error message, and anything else is an
internal error whose details stay in the server log under a reference.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field, ValidationError
from pydantic_core import to_json

from .._version import __version__
from ..errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    WorkbenchError,
)
from ..principal import Principal
from . import audit
from .tools import AgentTools

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

PRINCIPAL_KEY = "workbench.principal"
"""Where the HTTP bridge puts the caller's :class:`Principal` in a request's ASGI scope."""

INSTRUCTIONS = """\
The Data Engineering Workbench: a finance team's lakehouse on Odoo data. Find tables with
search_catalog, read their columns with describe_table (or the table schema resource),
look at rows with preview_table (pii columns are masked unless you may see them), follow
where data comes from and goes with lineage, and answer questions with query_sql
(read-only SELECT on the lake's bronze/silver/gold tables, named layer.name, or on a
postgres/duckdb connection you may use; results are capped in rows, bytes and time).
list_pipelines, run_pipeline and run_status start and follow pipeline runs you may
operate; list_approvals and decide_approval answer approval gates you are an approver
of. Everything runs as your workbench user and is audited."""

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
# Bounds in the tools' input schemas, so an agent sees them and a call outside them is
# answered "limit must be between 1 and 1000" (it was clamped: limit -5 gave one row).
SearchLimit = Annotated[int, Field(ge=1, le=50)]
PreviewLimit = Annotated[int, Field(ge=1, le=200)]
RowLimit = Annotated[int, Field(ge=1, le=1000)]
RunsLimit = Annotated[int, Field(ge=1, le=200)]
Depth = Annotated[int, Field(ge=1, le=10)]
Seconds = Annotated[float, Field(gt=0, le=30)]
# Refusals the caller can act on: their message is the answer.
REFUSED = (NotFoundError, PermissionDeniedError, InvalidInputError)


class WorkbenchMcp:
    """The MCP server of one workbench; ``principal`` is the stdio caller (None: HTTP)."""

    def __init__(
        self, workbench: Workbench, principal: Principal | None = None, transport: str = "http"
    ) -> None:
        self.workbench = workbench
        self.default_principal = principal
        self.transport = transport
        self.server: MCPServer = MCPServer(
            name="workbench",
            title="Data Engineering Workbench",
            instructions=INSTRUCTIONS,
            version=__version__,
            log_level="WARNING",
        )
        if not _tracing():
            # The SDK wraps every call in an OpenTelemetry span (about 0.05 ms of CPU a
            # call, a sixth of its server's share); with no tracer provider installed in
            # this process the span goes nowhere, so the middleware is left out. The
            # request-state boundary (a security check) stays.
            low = self.server._lowlevel_server
            low.middleware = [m for m in low.middleware if type(m).__name__ != _OTEL_MIDDLEWARE]
        self._register()
        self._plain_argument_errors()
        self._list_tables_as_resources()

    def _plain_argument_errors(self) -> None:
        """Arguments that do not fit a tool's schema are answered in a line an agent can
        act on ("limit must be an integer", "limit must be between 1 and 1000") instead
        of pydantic's report (its error count, input_value, type codes and a link to
        errors.pydantic.dev); still the tool's result with isError, as the SDK answers."""
        server = self.server
        call_tool = server.call_tool

        async def plain(name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            try:
                return await call_tool(name, arguments, context)
            except ToolError as exc:
                if not isinstance(exc.__cause__, ValidationError):
                    raise
                schema = server._tool_manager.get_tool(name).parameters
                raise ToolError(_argument_errors(exc.__cause__, schema)) from exc.__cause__

        server.call_tool = plain  # type: ignore[method-assign]

    def _list_tables_as_resources(self) -> None:
        """``resources/list``: the catalog tables the caller may use, each as its schema
        resource, a page of :data:`RESOURCES_PAGE` at a time. The SDK listed none (the
        schemas are a template), so clients that offer what ``resources/list`` gives
        (Claude Desktop's attach menu, the MCP Inspector's resources) showed no table.
        Audited as ``resource:list``, as a search is."""
        from mcp.shared.exceptions import MCPError
        from mcp_types import INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource

        from ..catalog import CatalogService

        async def list_tables(ctx: Any, params: PaginatedRequestParams) -> ListResourcesResult:
            request = getattr(ctx, "request", None)
            principal = (getattr(request, "scope", None) or {}).get(PRINCIPAL_KEY)
            if not isinstance(principal, Principal):
                if self.default_principal is None or request is not None:
                    raise MCPError(INVALID_PARAMS, "not authenticated: send a user's token")
                principal = self.default_principal
            cursor = params.cursor or "0"
            if not cursor.isdigit() or len(cursor) > 9:
                raise MCPError(INVALID_PARAMS, "cursor: pass the nextCursor of the last page")
            started = time.perf_counter()
            catalog = CatalogService(self.workbench, principal)
            total, tables = await asyncio.to_thread(
                catalog.tables, None, None, False, int(cursor), RESOURCES_PAGE
            )
            audit.record(
                self.workbench,
                principal.name,
                self.transport,
                "resource:list",
                {"cursor": params.cursor},
                "ok",
                None,
                (time.perf_counter() - started) * 1000,
            )
            after = int(cursor) + len(tables)
            return ListResourcesResult(
                resources=[
                    Resource(
                        uri=f"workbench://tables/{ref}/schema",
                        name=ref,
                        title=t.label,
                        description=t.description or t.comment,
                        mime_type="application/json",
                    )
                    for t in tables
                    for ref in (f"{t.connection}.{t.schema_name}.{t.name}",)
                ],
                next_cursor=str(after) if tables and after < total else None,
            )

        low = self.server._lowlevel_server
        low.add_request_handler("resources/list", PaginatedRequestParams, list_tables)

    # -- who is calling, and the audited call -----------------------------------------
    def principal_of(self, ctx: Context) -> Principal:
        try:
            request = ctx.request_context.request
        except ValueError:
            request = None
        scope = getattr(request, "scope", None) or {}
        found = scope.get(PRINCIPAL_KEY)
        if isinstance(found, Principal):
            return found
        if self.default_principal is not None and request is None:
            return self.default_principal
        raise ToolError("not authenticated: send the workbench token of a user")

    async def call(
        self,
        ctx: Context,
        name: str,
        arguments: dict[str, Any],
        work: Callable[[AgentTools], Any],
        error: type[Exception] = ToolError,
        at_once: Callable[[AgentTools], Any] | None = None,
    ) -> Any:
        """``work`` as the caller (off the event loop unless it is a coroutine), audited.

        ``at_once``: a way to the answer that needs no I/O (an index in memory), tried on
        the loop first; None from it means "not now", and ``work`` runs as usual."""
        principal = self.principal_of(ctx)
        tools = AgentTools(self.workbench, principal)
        started = time.perf_counter()

        def audited(outcome: str, message: str | None) -> None:
            audit.record(
                self.workbench,
                principal.name,
                self.transport,
                name,
                arguments,
                outcome,
                message,
                (time.perf_counter() - started) * 1000,
            )

        def blocking() -> Any:
            try:
                result = work(tools)
            except Exception as exc:
                raise _Failed(exc) from exc
            audited("ok", None)
            return result

        if at_once is not None:
            try:
                quick = at_once(tools)
            except Exception:
                quick = None  # the thread's run says what is wrong, and audits it
            if quick is not None:
                audited("ok", None)
                return _text(quick)
        try:
            if inspect.iscoroutinefunction(work):
                try:
                    result = await work(tools)
                except Exception as exc:
                    raise _Failed(exc) from exc
                audited("ok", None)
                return _text(result)
            return _text(await asyncio.to_thread(blocking))
        except _Failed as failed:
            exc = failed.cause
            if isinstance(exc, REFUSED):
                message, outcome = str(exc), "refused"
            elif isinstance(exc, WorkbenchError):  # unavailable, misconfigured, limited
                message, outcome = str(exc), "error"
            else:
                ref = uuid.uuid4().hex[:12]
                log.error("Agent tool %s failed (ref %s)", name, ref, exc_info=exc)
                message, outcome = (
                    f"internal error; the server log has the details (ref {ref})",
                    "error",
                )
            audited(outcome, message)
            raise error(message) from None

    # -- tools and resources -----------------------------------------------------------
    def _register(self) -> None:
        mcp = self.server

        @mcp.tool(annotations=READ, structured_output=False)
        async def search_catalog(ctx: Context, query: str, limit: SearchLimit = 10) -> str:
            """Search the data catalog (tables of the lake and of connections you may use)
            by words in names, Odoo labels, descriptions and columns; best matches first.
            Each hit's `ref` (connection.schema.name) names the table in other tools."""
            args = {"query": query, "limit": limit}
            return await self.call(
                ctx,
                "search_catalog",
                args,
                lambda t: t.search(query, limit),
                at_once=lambda t: t.search_in_memory(query, limit),
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def describe_table(ctx: Context, table: str) -> str:
            """A catalog table's metadata: description, owner and certification, Odoo model,
            and every column with its type, label, key and tags (pii among them). `table`
            is a catalog id, connection.schema.name, or layer.name of the lake."""
            return await self.call(
                ctx, "describe_table", {"table": table}, lambda t: t.describe(table)
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def preview_table(ctx: Context, table: str, limit: PreviewLimit = 20) -> str:
            """The first rows of a table (at most 200), read-only. Columns tagged pii are
            masked (•••) unless you own the connection, administer, or are in pii-readers."""
            return await self.call(
                ctx,
                "preview_table",
                {"table": table, "limit": limit},
                lambda t: t.preview(table, limit),
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def lineage(
            ctx: Context,
            table: str,
            direction: Literal["upstream", "downstream"] = "upstream",
            depth: Depth = 3,
            column: str | None = None,
        ) -> str:
            """Where a dataset's data comes from (upstream) or goes to (downstream): the
            datasets and the jobs (pipeline steps, notebooks) between them, `depth` steps
            away; with `column`, that column's lineage. `table` is connection.schema.name
            or layer.name of the lake."""
            args = {"table": table, "direction": direction, "depth": depth, "column": column}
            return await self.call(
                ctx, "lineage", args, lambda t: t.lineage(table, direction, depth, column)
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def query_sql(
            ctx: Context,
            sql: str,
            connection: str = "lake",
            limit: RowLimit = 100,
            timeout_s: Seconds = 10.0,
        ) -> str:
            """Run one read-only query (SELECT, WITH ... SELECT, UNION) and get its rows.
            On the lake (connection "lake", the default) name tables layer.name, e.g.
            `SELECT account, sum(balance) FROM gold.trial_balance GROUP BY 1`; on a
            postgres or duckdb connection you may use, the source's own SQL. At most 1000
            rows, 1 MB and 30 s; statements that write are refused."""
            args = {"sql": sql, "connection": connection, "limit": limit, "timeout_s": timeout_s}
            return await self.call(
                ctx, "query_sql", args, lambda t: t.query(sql, connection, limit, timeout_s)
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def list_pipelines(ctx: Context) -> str:
            """The pipelines you may see: steps, parameters, schedule, and whether you may
            run them (may_operate)."""
            return await self.call(
                ctx, "list_pipelines", {}, lambda t: {"pipelines": t.pipelines()}
            )

        @mcp.tool(
            annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False),
            structured_output=False,
        )
        async def run_pipeline(
            ctx: Context,
            name: str,
            parameters: dict[str, Any] | None = None,
        ) -> str:
            """Start a run of pipeline `name` (its current version) with `parameters`;
            answers the run's id and status. Follow it with run_status. Needs the
            pipeline's operator rights."""

            async def start(t: AgentTools) -> Any:
                return await t.run_pipeline(name, parameters)

            args = {"name": name, "parameters": parameters or {}}
            return await self.call(ctx, "run_pipeline", args, start)

        @mcp.tool(annotations=READ, structured_output=False)
        async def run_status(ctx: Context, run_id: str) -> str:
            """A pipeline run's status (queued, running, succeeded, failed, cancelled), its
            steps' attempts, error, and the lake table versions it read and wrote."""

            async def status(t: AgentTools) -> Any:
                return await t.run_status(run_id)

            return await self.call(ctx, "run_status", {"run_id": run_id}, status)

        @mcp.tool(annotations=READ, structured_output=False)
        async def list_runs(
            ctx: Context,
            pipeline: str | None = None,
            limit: RunsLimit = 20,
        ) -> str:
            """The latest runs you may see, newest first, of one pipeline or of all."""
            args = {"pipeline": pipeline, "limit": limit}
            return await self.call(
                ctx, "list_runs", args, lambda t: {"runs": t.runs(pipeline, limit)}
            )

        @mcp.tool(annotations=READ, structured_output=False)
        async def list_approvals(ctx: Context) -> str:
            """Approval gates of pipeline runs that wait for a decision you may take, oldest
            first: run, step, message, approvers, since when."""
            return await self.call(
                ctx, "list_approvals", {}, lambda t: {"approvals": t.approvals()}
            )

        @mcp.tool(
            annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True),
            structured_output=False,
        )
        async def decide_approval(
            ctx: Context, run_id: str, step_id: str, approve: bool, reason: str = ""
        ) -> str:
            """Approve (the run goes on) or reject (the run fails with `reason`) a pending
            approval step of a run. Only its approvers (and admins) may decide; the
            decision is recorded as made by you through MCP."""

            async def decide(t: AgentTools) -> Any:
                return await t.decide(run_id, step_id, approve, reason)

            args = {"run_id": run_id, "step_id": step_id, "approve": approve, "reason": reason}
            return await self.call(ctx, "decide_approval", args, decide)

        @mcp.resource(
            "workbench://tables/{ref}/schema",
            name="table_schema",
            description="A catalog table's columns (type, label, key, tags, pii) as JSON; "
            "ref is connection.schema.name or layer.name of the lake.",
            mime_type="application/json",
        )
        async def table_schema(ctx: Context, ref: str) -> str:
            return await self.call(
                ctx, "resource:table_schema", {"ref": ref}, lambda t: t.schema(ref), ResourceError
            )


_OTEL_MIDDLEWARE = "OpenTelemetryMiddleware"
RESOURCES_PAGE = 200  # tables per page of resources/list


def _tracing() -> bool:
    """Whether an OpenTelemetry tracer provider is installed (spans would be exported):
    only the API's default proxy means none is."""
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "an object",
    "list": "a list",
}


def _argument_errors(exc: ValidationError, schema: dict[str, Any]) -> str:
    """One plain sentence per wrong argument, named as the caller named it."""
    properties = schema.get("properties", {})
    said = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "arguments"
        kind, ctx = error["type"], error.get("ctx") or {}
        bounds = properties.get(str(error["loc"][0]), {}) if error["loc"] else {}
        low = bounds.get("minimum", bounds.get("exclusiveMinimum"))
        high = bounds.get("maximum", bounds.get("exclusiveMaximum"))
        if kind == "missing":
            said.append(f"{field} is required")
        elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            if "exclusiveMinimum" in bounds and high is not None:
                said.append(f"{field} must be more than {low} and at most {high}")
            elif low is not None and high is not None:
                said.append(f"{field} must be between {low} and {high}")
            else:
                said.append(f"{field} {error['msg'].lower().replace('input should', 'must')}")
        elif kind == "literal_error":
            said.append(f"{field} must be one of {ctx.get('expected', '')}")
        elif (base := kind.split("_")[0]) in _KINDS:
            said.append(f"{field} must be {_KINDS[base]}")
        elif kind == "extra_forbidden":
            said.append(f"{field} is not an argument of this tool")
        else:
            said.append(f"{field}: {error['msg'][:1].lower()}{error['msg'][1:]}")
    return "; ".join(dict.fromkeys(said))


def _text(result: Any) -> str:
    """A tool's answer as compact JSON text: what agents read (fewer tokens than indented
    JSON) and what a program parses. Bytes are that JSON already."""
    if isinstance(result, bytes):
        return result.decode()
    return to_json(result, fallback=str).decode()


class _Failed(Exception):
    """A tool's own exception, carried out of its thread to be audited and answered."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


__all__ = ["PRINCIPAL_KEY", "WorkbenchMcp"]
