"""A small Odoo 17 external-API server for tests, backed by an Odoo-shaped PostgreSQL database.

Odoo cannot run here, so tests talk to this stand-in instead. It speaks the protocol of
Odoo's "External API" documentation: XML-RPC at ``/xmlrpc/2/common`` and
``/xmlrpc/2/object`` (integer fault codes: 1 application error with the traceback, 2
``UserError``, 3 ``AccessDenied``, 4 ``AccessError``) and JSON-RPC 2.0 at ``/jsonrpc``
(errors as ``{"code": 200, "message": "Odoo Server Error", "data": {"name": ...}}``).
Data comes from the database the test loaded (see :mod:`workbench_server.demo`); the
server only reads.

>>> with running_odoo(conninfo) as odoo:  # doctest: +SKIP
...     common = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/common")
...     uid = common.authenticate(odoo.db, odoo.login, odoo.password, {})
"""

from __future__ import annotations

import hmac
import json
import queue
import secrets
import threading
import traceback
import xmlrpc.client
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import psycopg

from .odoo_models import (
    AccessDenied,
    AccessError,
    OperationalError,
    Registry,
    UserError,
    load_registry,
)
from .odoo_orm import call_kw

__all__ = ["DEFAULT_DENIED_MODELS", "VERSION", "OdooServer", "OdooUser", "running_odoo"]

VERSION: dict[str, object] = {
    "server_version": "17.0",
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}
"""What ``common.version()`` answers."""

DEFAULT_DENIED_MODELS: dict[str, frozenset[str]] = {
    # Like a portal user in Odoo: no access to HR data.
    "portal": frozenset({"hr.expense", "hr.expense.sheet", "hr.employee", "hr.department"}),
}
"""Models each default user may not read (by login)."""

_COMMON_METHODS = frozenset({"version", "authenticate", "login"})


@dataclass(frozen=True)
class OdooUser:
    """A user of the stand-in: ``api_keys`` work wherever the password does (RPC only)."""

    uid: int
    login: str
    password: str
    api_keys: tuple[str, ...] = ()
    denied_models: frozenset[str] = frozenset()
    denied_writes: frozenset[str] = frozenset()

    def accepts(self, secret: object) -> bool:
        """Whether ``secret`` is this user's password or one of their API keys."""
        if not isinstance(secret, str):
            return False
        candidates = (self.password, *self.api_keys)
        # compare_digest on every candidate: timing must not tell which one nearly matched.
        return any([hmac.compare_digest(secret.encode(), c.encode()) for c in candidates])


@dataclass(frozen=True)
class OdooServer:
    """A running stand-in: where it listens and the first user's credentials."""

    url: str
    db: str
    login: str
    password: str
    api_key: str
    users: Mapping[str, OdooUser] = field(default_factory=dict)
    # Read the models and fields again at the next call, as Odoo reloads its registry
    # when a module is installed or upgraded (a test that adds a field).
    reload_registry: Callable[[], None] = lambda: None

    @property
    def uid(self) -> int:
        """The uid ``authenticate`` returns for :attr:`login`."""
        return self.users[self.login].uid

    def settings(self, **override: object) -> dict[str, object]:
        """An ``odoo`` connection's settings for this server (its first user and API key
        unless ``override`` says otherwise; ``password=...`` replaces the key)."""
        settings: dict[str, object] = {
            "kind": "odoo",
            "url": self.url,
            "database": self.db,
            "login": self.login,
        }
        if "password" not in override:
            settings["api_key"] = self.api_key
        return settings | override


class _Service:
    """Odoo's ``common``, ``db`` and ``object`` services over one PostgreSQL database."""

    def __init__(
        self,
        conninfo: str,
        db_name: str,
        users: Mapping[str, OdooUser],
        writable: frozenset[str] = frozenset(),
        version: Mapping[str, object] = VERSION,
    ) -> None:
        self.conninfo = conninfo
        self.writable = writable
        self.version = dict(version)
        self.db_name = db_name
        self.users = dict(users)
        self._by_uid = {user.uid: user for user in users.values()}
        self._idle: queue.SimpleQueue[psycopg.Connection[tuple[object, ...]]] = queue.SimpleQueue()
        self._registry: Registry | None = None
        self._lock = threading.Lock()
        self._closed = False

    def dispatch(self, service: str, method: str, params: list[object]) -> object:
        """One RPC call, as Odoo's ``dispatch_rpc`` routes it."""
        if service == "common":
            if method not in _COMMON_METHODS:
                raise Exception(f"Method not found: {method}")  # a bare Exception, as in Odoo
            return getattr(self, f"_common_{method}")(*params)
        if service == "db":
            if method == "list":
                return [self.db_name]
            if method == "server_version":
                return self.version["server_version"]
            raise KeyError(method)
        if service == "object":
            if method == "execute_kw":
                return self._execute_kw(*params)
            if method == "execute":
                db, uid, password, model, name, *args = params
                return self._execute_kw(db, uid, password, model, name, args)
            raise NameError(f"Method not available {method}")
        raise KeyError(service)

    def _common_version(self) -> dict[str, object]:
        return self.version

    def _common_authenticate(
        self, db: str, login: str, password: str, user_agent_env: object
    ) -> int | bool:
        self._check_db(db)
        user = self.users.get(login)
        return user.uid if user is not None and user.accepts(password) else False

    def _common_login(self, db: str, login: str, password: str) -> int | bool:
        return self._common_authenticate(db, login, password, {})

    def _execute_kw(
        self,
        db: str,
        uid: object,
        password: str,
        model: str,
        method: str,
        args: list[object],
        kwargs: dict[str, object] | None = None,
    ) -> object:
        self._check_db(db)
        user = self._by_uid.get(_as_uid(uid))
        if user is None or not user.accepts(password):
            raise AccessDenied()
        conn = self._connection()
        try:
            return call_kw(
                conn,
                self._load_registry(conn),
                user.denied_models,
                model,
                method,
                args,
                kwargs or {},
                self.writable,
                user.denied_writes,
                str(self.version["server_serie"]),
            )
        finally:
            self._release(conn)

    def _check_db(self, db: object) -> None:
        if db != self.db_name:
            # What a real Odoo lets through when asked for a database its server lacks.
            raise OperationalError(
                f'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed:'
                f' FATAL:  database "{db}" does not exist'
            )

    def reload_registry(self) -> None:
        """Models and fields read again at the next call (``OdooServer.reload_registry``)."""
        with self._lock:
            self._registry = None

    def _load_registry(self, conn: psycopg.Connection[tuple[object, ...]]) -> Registry:
        # Loaded on first use, not at start: a test may start the server before loading data.
        with self._lock:
            if self._registry is None:
                self._registry = load_registry(conn)
            return self._registry

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self.conninfo, application_name="odoo-stand-in")
            # The stand-in serves reads only unless a test made some models writable.
            conn.read_only = not self.writable
            return conn

    def _release(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        if conn.closed or conn.broken or self._closed:
            conn.close()
            return
        conn.rollback()  # end the read transaction so the next call sees fresh data
        self._idle.put(conn)

    def close(self) -> None:
        """Close idle connections; busy ones are closed when their request finishes."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _as_uid(uid: object) -> int:
    # Odoo does int(params[1]): False from a failed authenticate becomes 0, an unknown uid.
    if isinstance(uid, (int, str)):
        try:
            return int(uid)
        except ValueError:
            return 0
    return 0


# -- transports ----------------------------------------------------------------------------


def _xmlrpc_fault(exc: BaseException) -> xmlrpc.client.Fault:
    """The fault Odoo's ``/xmlrpc/2`` routes answer for ``exc``."""
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault(4, str(exc))
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault(3, str(exc))
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault(2, str(exc))
    return xmlrpc.client.Fault(1, "".join(traceback.format_exception(exc)))


def _json_error(exc: BaseException) -> dict[str, object]:
    """The ``error`` member of Odoo's JSON-RPC answer for ``exc``."""
    kind = type(exc)
    return {
        "code": 200,  # Odoo's value for every server-side exception
        "message": "Odoo Server Error",
        "data": {
            "name": f"{kind.__module__}.{kind.__qualname__}",
            "debug": "".join(traceback.format_exception(exc)),
            "message": str(exc),
            "arguments": [a if isinstance(a, (str, int, float)) else str(a) for a in exc.args],
            "context": {},
        },
    }


class _Handler(BaseHTTPRequestHandler):
    """Routes Odoo's RPC endpoints; everything else is 404, as on an Odoo without a website."""

    server: _HttpServer

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/xmlrpc/2/"):
            self._xmlrpc(path.removeprefix("/xmlrpc/2/"), body)
        elif path in ("/jsonrpc", "/web/webclient/version_info"):
            self._jsonrpc(path, body)
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"Not Found")

    def _xmlrpc(self, service: str, body: bytes) -> None:
        try:
            params, method = xmlrpc.client.loads(body, use_datetime=True)
            result = self.server.service.dispatch(service, str(method), list(params))
            payload = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
        except Exception as exc:
            payload = xmlrpc.client.dumps(_xmlrpc_fault(exc), methodresponse=True)
        self._send(HTTPStatus.OK, "text/xml; charset=utf-8", payload.encode())

    def _jsonrpc(self, path: str, body: bytes) -> None:
        # Odoo routes type="json" requests by their mimetype and rejects anything else.
        if self.headers.get_content_type() not in ("application/json", "application/json-rpc"):
            self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"Bad Request: expected JSON")
            return
        try:
            request = json.loads(body)
            params = request.get("params") or {}
        except (ValueError, AttributeError):
            self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"Bad Request: invalid JSON data")
            return
        answer: dict[str, object] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            if path == "/web/webclient/version_info":
                answer["result"] = self.server.service.version
            else:
                answer["result"] = self._jsonrpc_call(**params)
            payload = json.dumps(answer)
        except Exception as exc:
            answer.pop("result", None)
            answer["error"] = _json_error(exc)
            payload = json.dumps(answer, default=str)
        self._send(HTTPStatus.OK, "application/json", payload.encode())

    def _jsonrpc_call(self, service: str, method: str, args: list[object]) -> object:
        # The signature of Odoo's /jsonrpc route: other params are a TypeError there too.
        return self.server.service.dispatch(service, method, list(args))

    def _send(self, status: HTTPStatus, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is no place for an access log."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: _Service) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.service = service


@contextmanager
def running_odoo(
    conninfo: str,
    *,
    db_name: str = "odoo",
    users: Mapping[str, str] | None = None,
    api_keys: Mapping[str, str | list[str]] | None = None,
    denied_models: Mapping[str, frozenset[str] | set[str]] | None = None,
    writable: frozenset[str] | set[str] = frozenset(),
    denied_writes: Mapping[str, frozenset[str] | set[str]] | None = None,
    version: str = "17.0",
) -> Iterator[OdooServer]:
    """Serve Odoo's external API for the database at ``conninfo`` on a free local port.

    ``users`` maps logins to passwords (default ``admin``/``admin`` and ``portal``/
    ``portal``); uids start at 2 in that order, as Odoo's admin is uid 2. ``api_keys`` maps
    logins to API keys (default: a random 40-hex-digit key for the first user).
    ``denied_models`` maps logins to models they may not read (default: the portal user
    may not read HR models, :data:`DEFAULT_DENIED_MODELS`). The yielded
    :class:`OdooServer` carries the URL, ``db_name`` and the first user's credentials.
    ``writable`` names models whose ``create`` works (on a database of the test's own,
    never the session's shared one), and ``write`` of lock dates on ``res.company`` when it
    is among them; every other write is refused. ``denied_writes`` maps logins to models
    they may read but not change (Odoo's access rights). ``version`` is the Odoo version
    the server says it runs (``common.version()``), "16.0", "17.0" or "18.0".
    """
    passwords = dict(users) if users is not None else {"admin": "admin", "portal": "portal"}
    if not passwords:
        raise ValueError("running_odoo needs at least one user")
    first = next(iter(passwords))
    keys = dict(api_keys) if api_keys is not None else {first: secrets.token_hex(20)}
    denied = DEFAULT_DENIED_MODELS if denied_models is None else denied_models
    accounts = {
        login: OdooUser(
            uid=uid,
            login=login,
            password=password,
            api_keys=_as_tuple(keys.get(login)),
            denied_models=frozenset(denied.get(login, ())),
            denied_writes=frozenset((denied_writes or {}).get(login, ())),
        )
        for uid, (login, password) in enumerate(passwords.items(), start=2)
    }
    major = int(version.split(".")[0])
    served = VERSION | {
        "server_version": version,
        "server_version_info": [major, 0, 0, "final", 0, ""],
        "server_serie": version,
    }
    service = _Service(conninfo, db_name, accounts, frozenset(writable), served)
    httpd = _HttpServer(service)
    port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"odoo-stand-in:{port}"
    )
    thread.start()
    try:
        first_keys = accounts[first].api_keys
        yield OdooServer(
            url=f"http://127.0.0.1:{port}",
            db=db_name,
            login=first,
            password=passwords[first],
            api_key=first_keys[0] if first_keys else "",
            users=accounts,
            reload_registry=service.reload_registry,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
        service.close()


def _as_tuple(keys: str | list[str] | None) -> tuple[str, ...]:
    if keys is None:
        return ()
    return (keys,) if isinstance(keys, str) else tuple(keys)
