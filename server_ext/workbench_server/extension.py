"""The jupyter-server extension: settings as traitlets, the core, and the URL table."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Dict, Float, Int, List, Type, Unicode, default

from ._version import __version__
from .errors import ConfigurationError
from .home import ROUTES_READY, WorkbenchHome, default_home

if TYPE_CHECKING:
    from .core import Workbench
    from .core_router import CoreRouter

API_PREFIX = "workbench/api"


class WorkbenchApp(ExtensionApp):
    """Serves the workbench REST API under ``/workbench/api`` from the core."""

    name = "workbench_server"
    version = __version__
    load_other_extensions = True

    home = Unicode(
        config=True,
        help="""Workbench home folder (metadata DB, Temporal DB, logs, lake, secrets key).
        Defaults to $WORKBENCH_HOME, else ~/.workbench.""",
    )
    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the metadata DB. Defaults to $WORKBENCH_DB_URL, else the URL in
        the file $WORKBENCH_DB_URL_FILE names (how children get one with a password), else a
        SQLite file in the home. PostgreSQL URLs use psycopg 3.""",
    )
    temporal_address = Unicode(
        config=True,
        help="host:port of the Temporal frontend. Defaults to $WORKBENCH_TEMPORAL_ADDRESS.",
    )
    temporal_namespace = Unicode(
        config=True,
        help="Temporal namespace. Defaults to $WORKBENCH_TEMPORAL_NAMESPACE or 'default'.",
    )
    task_queue = Unicode(
        config=True,
        help="""Task queue the pipeline workers poll.
        Defaults to $WORKBENCH_TASK_QUEUE or 'workbench'.""",
    )
    connection_test_timeout = Float(
        10.0, config=True, help="Seconds a connection test may take before it reports a timeout."
    )
    egress_deny = List(
        Unicode(),
        config=True,
        help="""Hosts that connection tests, catalog scans and previews, and webhook
        notifications may not reach on a user's behalf: host names (a leading "*." for
        every subdomain), IP addresses and CIDRs, e.g. ["postgres", "10.0.0.0/8"]. A name
        is denied as written and at every address it resolves to. Link-local and cloud
        metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200)
        are denied whatever this says. A denied host gets one answer that does not tell
        whether anything listens there. Defaults to $WORKBENCH_EGRESS_DENY (comma-
        separated); unset, team mode ($WORKBENCH_MODE=team) denies the stack's own
        services (postgres, temporal, temporal-ui, hub) and loopback, local mode nothing
        more.""",
    )
    egress_allow = List(
        Unicode(),
        config=True,
        help="""When not empty, the only hosts (names, addresses, CIDRs, as in egress_deny)
        that connections and webhooks may reach; every address a name resolves to must be
        allowed, and egress_deny still wins. Defaults to $WORKBENCH_EGRESS_ALLOW
        (comma-separated), else empty: every host that is not denied.""",
    )
    connection_tests_per_minute = Int(
        config=True,
        help="""Connection tests one user may run in any minute; the next answers 429 with
        Retry-After. 0 turns the limit off. Defaults to
        $WORKBENCH_CONNECTION_TESTS_PER_MINUTE, else 10.""",
    )
    step_heartbeat_timeout = Float(
        config=True,
        help="""Seconds without a heartbeat after which Temporal takes a running step's
        attempt for lost (its worker died or stalled, or Temporal could not be reached)
        and runs it again; at least 1. Each run keeps the value it started with. Set the
        same for the workers (they heartbeat every third of it). Defaults to
        $WORKBENCH_STEP_HEARTBEAT_TIMEOUT, else 10.""",
    )
    data_roots = List(
        Unicode(),
        config=True,
        help="""Folders that connections' files may lie in: DuckDB files, local lake
        folders and SQLite/DuckDB SQLAlchemy URLs, which this server opens for catalog
        scans, previews and connection tests. Paths are resolved (links followed) and
        must stay below one of these, checked when a connection is saved and again at
        every open. An entry may hold {username}, the connection's owner
        (/home/users/{username}). The workbench home's private files are never reached
        through a folder that contains it. Defaults to $WORKBENCH_DATA_ROOTS (separated
        by the OS path separator, ':'), else the home's demo and lake folders and the
        users' folders where a hub's local spawner puts them, each to its user (none when
        user servers run in containers); with one user, this account's home folder. With
        one user (no hub) the notebook folder is added to either (see docs/deploy.md).""",
    )
    pii_columns = List(
        Unicode(),
        config=True,
        help="""Column names that catalog scans tag pii (previews mask them for anyone but
        a connection's owner, admins and the pii-readers group), besides the personal-data
        fields of Odoo's partners, users, bank accounts, employees, applicants and leads
        and their common names. Each is a regular expression matched, whole and ignoring
        case, against the column name or table.column: ["x_studio_.*salary.*",
        "hr_employee\\.x_nickname"]. The next scan of each source applies a change.
        Defaults to $WORKBENCH_PII_COLUMNS (comma-separated, or a JSON list).""",
    )
    principal_provider_class = Type(
        default_value="workbench_server.principal.PrincipalProvider",
        klass="workbench_server.principal.PrincipalProvider",
        config=True,
        help="""Maps requests to users and groups for permission checks. The default makes
        the local user the owner and admin of everything.""",
    )
    health_timeout = Float(
        3.0, config=True, help="Seconds each health check may take before its part counts as down."
    )
    openlineage_transport = Dict(
        config=True,
        help="""Where OpenLineage events go: an openlineage-python transport config, e.g.
        {"type": "http", "url": "http://marquez:5000", "auth": {"type": "api_key",
        "apiKey": "..."}} or {"type": "file", "log_file_path": "/data/ol.jsonl",
        "append": true}. Defaults to $WORKBENCH_OPENLINEAGE_TRANSPORT (JSON); when empty,
        events go to openlineage-python's own OPENLINEAGE_URL / OPENLINEAGE_CONFIG if set,
        else nowhere (lineage is still stored and served by the workbench).""",
    )
    openlineage_namespace = Unicode(
        config=True,
        help="""OpenLineage namespace of the workbench's jobs (notebooks, pipeline steps).
        Defaults to $WORKBENCH_OPENLINEAGE_NAMESPACE or 'workbench'.""",
    )
    service_url = Unicode(
        config=True,
        help="""Base URL of the hub's workbench service, e.g.
        http://127.0.0.1:8181/services/workbench/. When set (JupyterHub sets it for every
        user server, see workbench_hub.config), this server holds no core at all: no
        metadata DB, no secrets key. It forwards every /workbench/api request, its
        kernels' included, to the service with its own hub API token
        ($JUPYTERHUB_API_TOKEN), and the service decides with the hub's users and groups
        what this server's user may see and do. Defaults to $WORKBENCH_SERVICE_URL.""",
    )
    service_timeout = Float(
        120.0,
        config=True,
        help="Seconds a request forwarded to the workbench service may take (service_url).",
    )
    metrics_cache_seconds = Float(
        15.0,
        config=True,
        help="""How long /workbench/metrics reuses the totals it read from the metadata DB
        (runs, step attempts, catalog scans): however often Prometheus scrapes, the DB is
        queried at most once in this many seconds.""",
    )
    kernels_via_hub = Bool(
        False,
        config=True,
        help="""Set in the hub's workbench service, which starts no kernels: its kernel
        routes (a user's connections with credentials) answer user servers calling for
        their kernels with their user's hub token, instead of a kernel token of this
        server.""",
    )

    core_in_background = Bool(
        False,
        config=True,
        help="""Open the core (metadata DB, SQLAlchemy, Temporal's client, the workbench's
        handlers: about 1 s of CPU) once the server runs instead of before it listens.
        Workbench requests that come sooner wait for it and are then served as usual; if
        it cannot open, they answer 503 with the reason. `workbench up` sets it: the lab
        is up about that much sooner.""",
    )

    @default("home")
    def _default_home(self) -> str:
        return str(default_home())

    @default("db_url")
    def _default_db_url(self) -> str:
        from .settings import db_url_from_env

        return db_url_from_env() or WorkbenchHome.resolve(self.home).default_db_url

    @default("temporal_address")
    def _default_temporal_address(self) -> str:
        from .settings import TEMPORAL_ADDRESS_ENV

        return os.environ.get(TEMPORAL_ADDRESS_ENV, "")

    @default("temporal_namespace")
    def _default_temporal_namespace(self) -> str:
        from .settings import TEMPORAL_NAMESPACE_ENV

        return os.environ.get(TEMPORAL_NAMESPACE_ENV) or "default"

    @default("task_queue")
    def _default_task_queue(self) -> str:
        from .settings import DEFAULT_TASK_QUEUE, TASK_QUEUE_ENV

        return os.environ.get(TASK_QUEUE_ENV) or DEFAULT_TASK_QUEUE

    @default("openlineage_transport")
    def _default_openlineage_transport(self) -> dict:
        from .settings import OPENLINEAGE_TRANSPORT_ENV, json_object_env

        return json_object_env(OPENLINEAGE_TRANSPORT_ENV) or {}

    @default("openlineage_namespace")
    def _default_openlineage_namespace(self) -> str:
        from .settings import DEFAULT_OPENLINEAGE_NAMESPACE, OPENLINEAGE_NAMESPACE_ENV

        return os.environ.get(OPENLINEAGE_NAMESPACE_ENV) or DEFAULT_OPENLINEAGE_NAMESPACE

    @default("egress_deny")
    def _default_egress_deny(self) -> list[str]:
        from .settings import egress_deny_from_env

        return egress_deny_from_env()

    @default("egress_allow")
    def _default_egress_allow(self) -> list[str]:
        from .settings import egress_allow_from_env

        return egress_allow_from_env()

    @default("pii_columns")
    def _default_pii_columns(self) -> list[str]:
        from .settings import pii_columns_from_env

        return pii_columns_from_env()

    @default("connection_tests_per_minute")
    def _default_connection_tests_per_minute(self) -> int:
        from .settings import tests_per_minute_from_env

        return tests_per_minute_from_env()

    @default("step_heartbeat_timeout")
    def _default_step_heartbeat_timeout(self) -> float:
        from .settings import step_heartbeat_timeout_from_env

        return step_heartbeat_timeout_from_env()

    @default("data_roots")
    def _default_data_roots(self) -> list[str]:
        from .settings import data_roots_from_env

        roots = data_roots_from_env(WorkbenchHome.resolve(self.home).root)
        if not self.kernels_via_hub:
            # One user, whose notebooks (and files beside them) are in the root folder.
            roots.append(str(Path(self.serverapp.root_dir).absolute()))
        return roots

    @default("service_url")
    def _default_service_url(self) -> str:
        from .settings import SERVICE_URL_ENV

        return os.environ.get(SERVICE_URL_ENV, "")

    def initialize_settings(self) -> None:
        if self.service_url:
            self._forward_to_service()
            return
        if self.core_in_background:
            # Kernels started before the core opens get their tokens all the same.
            if not self.kernels_via_hub:
                self.settings.update(workbench_kernels=self._kernel_tokens())
            return
        self.settings.update(self._open_core())

    def _open_core(self) -> dict[str, Any]:
        """The core and what the handlers find in the server's settings."""
        from .agents import http as agents_http
        from .connections.limits import RateLimiter
        from .core import Workbench
        from .metrics.exposition import ServerMetrics
        from .settings import WorkbenchSettings

        settings = WorkbenchSettings(
            home=Path(self.home),
            db_url=self.db_url,
            temporal_address=self.temporal_address or None,
            temporal_namespace=self.temporal_namespace,
            task_queue=self.task_queue,
            openlineage_transport=self.openlineage_transport or None,
            openlineage_namespace=self.openlineage_namespace,
            egress_deny=list(self.egress_deny),
            egress_allow=list(self.egress_allow),
            connection_tests_per_minute=self.connection_tests_per_minute,
            step_heartbeat_timeout_s=self.step_heartbeat_timeout,
            pii_columns=list(self.pii_columns),
            data_roots=list(self.data_roots),
        )
        self.workbench = Workbench(settings)
        self.log.info("Workbench %s using home %s", __version__, settings.home)
        return {
            "workbench": self.workbench,
            "workbench_health_timeout": self.health_timeout,
            "workbench_test_timeout": self.connection_test_timeout,
            "workbench_test_limiter": RateLimiter(
                settings.connection_tests_per_minute, "connection tests"
            ),
            "workbench_principals": self.principal_provider_class(parent=self),
            "workbench_kernels": None if self.kernels_via_hub else self._kernel_tokens(),
            "workbench_metrics": ServerMetrics(self.workbench, self.metrics_cache_seconds),
            "workbench_scrape_token": self._scrape_token(settings.home),
            "workbench_mcp": agents_http.McpHttp(self.workbench),
        }

    def _scrape_token(self, home: Path) -> Any:
        """The token /workbench/metrics asks for; without one the route answers 503 and
        the rest of the server works as before."""
        from .metrics.token import ScrapeToken

        try:
            return ScrapeToken.for_home(home)
        except (ConfigurationError, OSError) as exc:
            self.log.error("Workbench metrics are off: %s", exc)
            return None

    def _forward_to_service(self) -> None:
        from .handlers.forward import ServiceForwarder
        from .settings import HUB_TOKEN_ENV, SERVICE_URL_ENV

        hub_token = os.environ.get(HUB_TOKEN_ENV)
        if not hub_token:
            raise ConfigurationError(
                f"{SERVICE_URL_ENV} is set but {HUB_TOKEN_ENV} is not: only a JupyterHub user "
                "server can use the workbench service; unset it to run the core here"
            )
        url = self.service_url if self.service_url.endswith("/") else self.service_url + "/"
        self.settings.update(
            workbench_service=ServiceForwarder(url, hub_token, self.service_timeout),
            workbench_kernels=self._kernel_tokens(),
        )
        self.log.info("Workbench %s forwarding to the workbench service at %s", __version__, url)

    def _kernel_tokens(self) -> Any:
        """Hand each kernel this server starts a token of its own and the API's address,
        in the kernel's environment: not on a command line (visible to every user of the
        machine), not in a file, and not in the server's own environment."""
        from .kernel_tokens import give_kernels_tokens

        return give_kernels_tokens(self.serverapp.kernel_manager, self.serverapp.connection_url)

    def _routes(self) -> list[tuple[str, type]]:
        """The workbench's URL table (patterns relative to the server's base URL)."""
        from .handlers import forward
        from .handlers.base import UnknownRouteHandler

        # Last: an API path no route matches answers JSON, not Jupyter's HTML 404.
        unknown = (rf"/{API_PREFIX}/.*", UnknownRouteHandler)
        if self.service_url:
            routes = [(rf"/{API_PREFIX}/{pattern}", h) for pattern, h in forward.ROUTES]
            return [*routes, unknown]
        from .agents import http as agents_http
        from .handlers import metrics

        modules = [importlib.import_module(f".handlers.{name}", __package__) for name in HANDLERS]
        # The MCP endpoint first: tornado tries the patterns in order, and an agent's every
        # call is one request to this one path (behind the REST routes it cost some 35
        # pattern matches a call). One pattern more before a REST route is one failed match.
        routes: list[tuple[str, type]] = [(rf"/{agents_http.PATH}", agents_http.McpHandler)]
        routes += [
            (rf"/{API_PREFIX}/{pattern}", handler)
            for module in modules
            for pattern, handler in module.ROUTES
        ]
        # The service exports its figures, not each user server.
        routes += [(rf"/{pattern}", handler) for pattern, handler in metrics.ROUTES]
        routes += [
            (rf"/{API_PREFIX}/{pattern}", handler) for pattern, handler in metrics.API_ROUTES
        ]
        # Agents (MCP over streamable HTTP); in a user server of a hub, agents connect
        # to the hub's workbench service instead (docs/agents.md).
        routes += [
            (rf"/{pattern}", handler)
            for pattern, handler in agents_http.ROUTES
            if pattern != agents_http.PATH
        ]
        return [*routes, unknown]

    def initialize_handlers(self) -> None:
        from .handlers.redact import redact_request_logs

        # Tornado logs failed requests with their full URI: no token in it may be logged.
        redact_request_logs()
        if self.core_in_background and not self.service_url:
            from .core_router import CoreRouter

            web_app = self.serverapp.web_app
            self._core_router: CoreRouter | None = CoreRouter(
                web_app, url_path_join(web_app.settings["base_url"], "workbench/")
            )
            # Tornado's own add_handlers: jupyter-server's checks each handler class for
            # authentication, which the routes get when they exist (_open_core_in_background).
            tornado.web.Application.add_handlers(web_app, ".*$", [self._core_router.rule()])
            self.log.info("%s; the core opens in the background", ROUTES_READY)
            return
        self.handlers.extend(self._routes())
        self.log.info(ROUTES_READY)

    async def _start_jupyter_server_extension(self, serverapp: object) -> None:
        """Open the core now if it opens in the background, then start the built-in alert
        engine (not in a server that forwards to the hub's service: the service evaluates
        the rules)."""
        router: CoreRouter | None = getattr(self, "_core_router", None)
        if router is not None:
            self._opening = asyncio.create_task(self._open_core_in_background(router))
            return
        self._start_alerts()

    def _start_alerts(self) -> None:
        workbench: Workbench | None = getattr(self, "workbench", None)
        if workbench is not None:
            from .alerts.engine import AlertEngine

            self._alerts_task = asyncio.create_task(AlertEngine(workbench).run_forever())

    async def _open_core_in_background(self, router: CoreRouter) -> None:
        started = time.perf_counter()
        try:
            # The imports, most of the cost, in a thread: the server keeps answering (the
            # lab's page, kernels) meanwhile. The objects are made on the server's loop.
            await asyncio.to_thread(_import_core)
            web_app = self.serverapp.web_app
            web_app.settings.update(self._open_core())
            kwargs = {"name": self.name}
            routes = [
                (url_path_join(web_app.settings["base_url"], pattern), handler, kwargs)
                for pattern, handler in self._routes()
            ]
            check = getattr(web_app, "_check_handler_auth", None)
            unchecked = [m for p, h, _ in routes for m in (check(p, h) if check else [])]
            if unchecked:
                self.log.warning("Workbench endpoints without authentication: %s", unchecked)
        except Exception as exc:
            self.log.exception("The workbench could not start")
            router.failed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        router.open(routes)
        self.log.info(
            "Workbench core open %.2f s after the server started", time.perf_counter() - started
        )
        self._start_alerts()

    async def stop_extension(self) -> None:
        opening: asyncio.Task | None = getattr(self, "_opening", None)
        if opening is not None and not opening.done():
            opening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await opening
        task: asyncio.Task | None = getattr(self, "_alerts_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        mcp = self.settings.get("workbench_mcp") or self.serverapp.web_app.settings.get(
            "workbench_mcp"
        )
        if mcp is not None:
            await mcp.close()
        workbench: Workbench | None = getattr(self, "workbench", None)
        if workbench is not None:
            workbench.close()


# The handler modules of /workbench/api, in the order their routes are matched.
HANDLERS = (
    "system",
    "connections",
    "kernel",
    "pipelines",
    "approvals",
    "catalog",
    "catalog_live",
    "lineage",
    "lake",
    "sla",
    "alerts",
    "operations",
    "webhooks",
    "superset",
    "ocr",
)


def _import_core() -> None:
    """Import what opening the core and its handlers needs (run in a thread)."""
    for name in (
        ".core",
        ".settings",
        ".agents.http",
        ".alerts.engine",
        ".connections.limits",
        ".metrics.exposition",
        ".metrics.token",
        ".principal",
        ".handlers.metrics",
        *(f".handlers.{handler}" for handler in HANDLERS),
    ):
        importlib.import_module(name, __package__)
    from alembic import command  # noqa: F401  the core checks its schema with Alembic
