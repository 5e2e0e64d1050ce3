"""``/workbench/mcp``: the MCP server over streamable HTTP, inside jupyter-server.

Why a bridge, and this one: jupyter-server is a tornado application and the MCP SDK's
HTTP transport is ASGI (Starlette). Mounting a second web server on another port would
need its own authentication, TLS and proxy route; wrapping tornado in an ASGI server is
not possible inside a running Jupyter server. The SDK's
:class:`~mcp.server.streamable_http_manager.StreamableHTTPSessionManager` is a plain
ASGI callable that needs only a running task group (its ``run()``), and tornado runs on
the same asyncio loop that anyio uses. So :class:`McpHandler`, an ordinary workbench
handler, authenticates the request exactly as every REST handler does (Jupyter's
identity provider: a server token, or in the hub's service a hub API token; the
workbench's principal provider for users and groups), then hands the request to the
session manager as one ASGI call: the body once, a disconnect when tornado sees the
connection close, and the answer (JSON, or an SSE stream flushed event by event)
written back through tornado. The SDK keeps every protocol decision (sessions,
versions, SSE, errors); the handler keeps every security decision.

The caller's :class:`Principal` travels in the request's ASGI scope (read by each call,
see :mod:`.server`), and as the scope's ``user``, to which the SDK binds a session: a
session made with one user's token answers 404 to anyone else's.

The session manager starts with the first MCP request (importing the SDK costs
start-up time that a server without agents need not pay) and stops with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from pydantic import TypeAdapter
from tornado.iostream import StreamClosedError
from tornado.web import HTTPError

from ..errors import InvalidInputError
from ..handlers.base import WorkbenchHandler
from . import audit, hooks_http

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

PATH = "workbench/mcp"
MAX_BODY_BYTES = 4 * 1024 * 1024
# Headers of the caller's request the SDK never needs: the credentials stay here.
DROPPED_REQUEST_HEADERS = {b"authorization", b"cookie", b"x-xsrftoken"}
# Headers tornado sets itself from what is written.
DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection"}
MAX_USERS_KEPT = 10_000


class McpHttp:
    """The session manager of one server, run in a task of its own from first use."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench
        self._manager: Any = None
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._users: dict[str, Any] = {}

    async def manager(self) -> Any:
        if self._ready.is_set():  # every request but the first ones
            return self._manager
        async with self._lock:
            if self._task is None:
                from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

                from .server import WorkbenchMcp

                mcp = WorkbenchMcp(self.workbench, transport="http")
                self._manager = StreamableHTTPSessionManager(
                    app=mcp.server._lowlevel_server,
                    # One JSON answer per request: no stream to hold open for a tool call.
                    json_response=True,
                    stateless=False,
                    max_request_body_size=MAX_BODY_BYTES,
                )
                self._task = asyncio.create_task(self._run(), name="workbench-mcp")
        await self._ready.wait()
        return self._manager

    def user(self, name: str) -> Any:
        """The SDK's identity of user ``name`` (to which it binds a session), made once per
        user: it holds the name alone (never a token), so every request of the user can
        share it instead of building two models per call."""
        found = self._users.get(name)
        if found is None:
            from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
            from mcp.server.auth.provider import AccessToken

            if len(self._users) >= MAX_USERS_KEPT:
                self._users.clear()
            found = AuthenticatedUser(
                AccessToken(token="", client_id=f"workbench:{name}", scopes=[])
            )
            self._users[name] = found
        return found

    async def _run(self) -> None:
        try:
            async with self._manager.run():
                self._ready.set()
                await self._stop.wait()
        except Exception:
            log.exception("The MCP session manager stopped")
            raise

    async def close(self) -> None:
        if self._task is not None:
            self._stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)


class McpHandler(WorkbenchHandler):
    """Streamable HTTP (POST, GET for the server's stream, DELETE to end a session)."""

    auth_resource = "workbench.agents"
    max_body_bytes = MAX_BODY_BYTES

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self._closed = asyncio.Event()

    def check_xsrf_cookie(self) -> None:
        """MCP clients send a token, never a browser's cookies: a request authenticated
        by cookie alone is refused below, so no XSRF check is needed or possible."""

    def set_cookie(self, *args: Any, **kwargs: Any) -> None:
        """No cookie is handed out here. Jupyter's identity provider gives a request
        authenticated by token a login cookie, for a browser's next requests; an MCP client
        sends its token with every request and its cookie is refused anyway (see
        :attr:`token_authenticated_by_header`). A login cookie is a credential the agent's
        HTTP client would keep and send back with every call for nothing (the client's
        cookie jar and the server's check of the signed cookie cost CPU on each)."""

    def set_signed_cookie(self, *args: Any, **kwargs: Any) -> None:
        """Nor is one signed: the login cookie Jupyter's identity provider hands a
        token-authenticated request goes through here (as :meth:`set_secure_cookie`)
        before :meth:`set_cookie`, and signing it (an HMAC of the user's JSON) cost CPU on
        every MCP call for a cookie that is never sent."""

    set_secure_cookie = set_signed_cookie

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:  # (set here: sending an error clears earlier headers)
            self.set_header("WWW-Authenticate", 'Bearer realm="workbench"')
        super().write_error(status_code, **kwargs)

    def on_connection_close(self) -> None:
        self._closed.set()

    @allow_unauthenticated  # answered 401 below, as MCP clients expect, not 403
    async def get(self) -> None:
        await self._serve()

    @allow_unauthenticated
    async def post(self) -> None:
        await self._serve()

    @allow_unauthenticated
    async def delete(self) -> None:
        await self._serve()

    async def _serve(self) -> None:
        user = self.current_user
        if user is None or not self.token_authenticated_by_header:
            raise HTTPError(
                401,
                "send a workbench token: Authorization: token <your Jupyter or hub API token>",
            )
        if not self.authorizer.is_authorized(
            self, user, _action(self.request.method), "workbench.agents"
        ):
            raise HTTPError(403, "this token may not use the workbench's agents")
        if self.request.method == "POST" and _is_batch(self.request.body):
            # 2025-03-26 allowed JSON-RPC batches, later versions do not; the SDK's session
            # path answered one with pydantic's report of four union members.
            self.set_status(400)
            self.set_header("Content-Type", "application/json")
            self.finish(BATCH_REFUSED)
            return
        principal = self.principal
        http: McpHttp = self.settings["workbench_mcp"]
        manager = await http.manager()
        await manager.handle_request(self._scope(principal), self._receive, self._send)
        if not self._finished:
            self.finish()

    @property
    def token_authenticated_by_header(self) -> bool:
        """A token in the Authorization header (or the ``token`` query argument), never a
        cookie: another user's page on the same origin could make a browser send one."""
        header = self.request.headers.get("Authorization", "")
        query = self.get_query_argument("token", None)
        return bool(header.strip()) or bool(query)

    def _scope(self, principal: Any) -> dict[str, Any]:
        from .server import PRINCIPAL_KEY

        request = self.request
        host, _, port = (request.host or "127.0.0.1").partition(":")
        query = request.query or ""
        if "token" in query:
            query = "&".join(part for part in query.split("&") if part.partition("=")[0] != "token")
        headers = []
        for name, value in request.headers.get_all():
            raw = name.lower().encode("latin-1")
            if raw not in DROPPED_REQUEST_HEADERS:
                headers.append((raw, value.encode("latin-1", "replace")))
        http: McpHttp = self.settings["workbench_mcp"]
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version.removeprefix("HTTP/") or "1.1",
            "method": request.method,
            "scheme": request.protocol,
            "path": request.path,
            "raw_path": request.path.encode("latin-1", "replace"),
            "root_path": "",
            "query_string": query.encode("latin-1", "replace"),
            "headers": headers,
            "client": (request.remote_ip or "", 0),
            "server": (host, int(port) if port.isdigit() else 0),
            # The SDK binds a session to this identity: one user cannot use another's.
            "user": http.user(principal.name),
            PRINCIPAL_KEY: principal,
        }

    async def _receive(self) -> dict[str, Any]:
        if not getattr(self, "_body_sent", False):
            self._body_sent = True
            return {"type": "http.request", "body": self.request.body or b"", "more_body": False}
        await self._closed.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self._finished or self._closed.is_set():
            return
        if message["type"] == "http.response.start":
            self.set_status(message["status"])
            self.clear_header("Content-Type")
            for raw_name, raw_value in message.get("headers") or []:
                name = raw_name.decode("latin-1")
                if name.lower() not in DROPPED_RESPONSE_HEADERS:
                    self.add_header(name, raw_value.decode("latin-1"))
            if self.request.method == "GET":
                # The server's stream: its headers go now, as an ASGI server sends them;
                # tornado held them until the first event or keep-alive ping (15 s), and
                # a client waiting to learn whether there is a stream waited that long.
                try:
                    await self.flush()
                except StreamClosedError:
                    self._closed.set()
        elif message["type"] == "http.response.body":
            body = message.get("body") or b""
            if body:
                self.write(body)
            if message.get("more_body"):
                try:
                    await self.flush()
                except StreamClosedError:
                    self._closed.set()
            else:
                self.finish()
                self._closed.set()


BATCH_REFUSED = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"JSON-RPC batches are not '
    b'supported: send one request per POST"}}'
)


def _is_batch(body: bytes | None) -> bool:
    """Whether a POST's body is a JSON array (a batch), without reading more than its start."""
    first = (body or b"")[:1]
    if first.isspace():
        first = body.lstrip()[:1]  # type: ignore[union-attr]
    return first == b"["


def _action(method: str | None) -> str:
    return "read" if method in ("GET", "HEAD") else "write"


_CALLS = TypeAdapter(list[audit.AgentCallOut])


class CallsHandler(WorkbenchHandler):
    """``GET /workbench/api/agents/calls[?user=NAME][&limit=N]``: the audit log of agents'
    calls, newest first: one's own; an admin's, everyone's (or ``user``'s)."""

    auth_resource = "workbench.agents"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", 100, low=1, high=1000, clamp=True)
        who = self.get_query_argument("user", None)
        if who is not None and not 0 < len(who) <= 200:
            raise InvalidInputError("user: a user name (at most 200 characters)")
        found = await asyncio.to_thread(audit.calls, self.workbench, self.principal, who, limit)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(_CALLS.dump_json(found))


ROUTES = [
    (PATH, McpHandler),
    ("workbench/api/agents/calls", CallsHandler),
    *hooks_http.ROUTES,
]
