"""``POST .../{name}/test``: connect once, within a bounded time, and say what happened.

Each kind's probe returns the server's version; failures are classified into the reasons
a person can act on (host not found, connection refused, authentication failed, database
does not exist, TLS error, timeout) with the driver's own words as detail.

Before anything is sent, the connection's hosts are checked against the workbench's
network policy (:mod:`.egress`): a denied host is answered with reason ``denied`` and one
message, whether anything listens there or not, so tests cannot map the network.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
import xmlrpc.client
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ..errors import NetworkPolicyError
from .egress import FILE_BACKENDS, EgressPolicy, UnknownHostError, http_connection, pin
from .kinds import (
    DuckDBConfig,
    EmbeddingConfig,
    KindConfig,
    LakeConfig,
    OcrConfig,
    OdooConfig,
    PostgresConfig,
    SqlAlchemyConfig,
    SupersetConfig,
)

Reason = Literal[
    "host_not_found",
    "connection_refused",
    "authentication_failed",
    "database_not_found",
    "tls_error",
    "timeout",
    "not_found",
    "denied",
    "error",
]


class ProbeFailure(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TestResult(BaseModel):
    """Outcome of testing a connection."""

    __test__ = False  # not a pytest test class
    ok: bool
    connection: str
    server_version: str | None = None
    latency_ms: float | None = None
    reason: Reason | None = None
    message: str
    replication: str | None = None  # PostgreSQL: whether change data capture is possible


# (substring of the driver's message, reason) — checked in order, first match wins.
PG_REASONS: list[tuple[str, Reason]] = [
    ("could not translate host name", "host_not_found"),
    ("Name or service not known", "host_not_found"),
    ("Connection refused", "connection_refused"),
    ("password authentication failed", "authentication_failed"),
    ("no password supplied", "authentication_failed"),
    ("authentication failed", "authentication_failed"),
    ("does not exist", "database_not_found"),
    ("SSL", "tls_error"),
    ("timeout expired", "timeout"),
]


def classify(message: str, table: list[tuple[str, Reason]]) -> Reason:
    """The reason a driver's error message gives, by the first matching substring."""
    return next((reason for needle, reason in table if needle in message), "error")


def _postgres(cfg: PostgresConfig, timeout: float) -> tuple[str, str | None]:
    import psycopg

    from .replication import check

    kwargs = cfg.psycopg_kwargs("workbench-connection-test", timeout)
    try:
        with psycopg.connect(**kwargs) as conn:
            version = f"PostgreSQL {conn.info.parameter_status('server_version')}"
    except psycopg.OperationalError as exc:
        raise ProbeFailure(classify(str(exc), PG_REASONS), pg_failure(cfg, str(exc))) from None
    try:  # what change data capture would need (docs/cdc.md); never fails the test
        replication = check(kwargs).summary()
    except Exception as exc:
        replication = f"logical replication not checked: {str(exc).strip()[:200]}"
    return version, replication


def pg_failure(cfg: PostgresConfig, text: str) -> str:
    """libpq's error in one line that names the server: its first line says what failed
    (``connection to server at "h", port p failed: Connection refused``), a tab-indented
    hint may follow (``Is the server running on that host...``); one line of each."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return f"cannot connect to PostgreSQL at {cfg.host}:{cfg.port}"
    detail = lines[0].rsplit(" failed: ", 1)[-1].removeprefix("connection failed: ")
    detail = re.sub(r"^(FATAL|ERROR):\s+", "", detail).rstrip(".")
    hint = next((line for line in lines[1:] if not line.startswith("connection to ")), None)
    message = f"cannot connect to PostgreSQL at {cfg.host}:{cfg.port}: {_lower(detail)}"
    return f"{message} ({_lower(hint).rstrip('.')})" if hint else message


def _lower(text: str) -> str:
    """A sentence's first letter in lower case, unless it starts an acronym (SSL ...)."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _odoo(cfg: OdooConfig, timeout: float) -> str:
    from .odoo import OdooClient, OdooError

    client = OdooClient(cfg, timeout=timeout)
    try:
        version = client.version()
        client.authenticate()
    except OdooError as exc:
        raise ProbeFailure(exc.reason, str(exc)) from None
    return f"Odoo {version.get('server_version', '?')}"


def _duckdb(cfg: DuckDBConfig, _timeout: float) -> str:
    import duckdb

    from .duckdb_files import open_untrusted_duckdb

    missing = cfg.path != ":memory:" and not Path(cfg.path).exists()
    if missing and cfg.read_only:
        raise ProbeFailure("not_found", f"DuckDB file {cfg.path} does not exist")
    try:
        # The service never creates or writes a user's file: a writable connection whose
        # file is not there yet gets it from its first write in a notebook.
        with open_untrusted_duckdb(":memory:" if missing else cfg.path) as db:
            version = f"DuckDB {db.execute('SELECT version()').fetchone()[0]}"
    except duckdb.Error as exc:
        raise ProbeFailure("error", str(exc).splitlines()[0]) from None
    return f"{version} (new file: the first write creates it)" if missing else version


def _lake(cfg: LakeConfig, _timeout: float) -> str:
    if not cfg.is_s3:
        folder = Path(cfg.location)
        if not folder.is_dir():
            raise ProbeFailure("not_found", f"lake folder {folder} does not exist")
        return f"folder {folder}"
    from .lake import s3_filesystem

    bucket_prefix = cfg.location.removeprefix("s3://")
    try:
        info = s3_filesystem(cfg).get_file_info(bucket_prefix.split("/", 1)[0])
    except OSError as exc:
        raise ProbeFailure(classify(str(exc), S3_REASONS), str(exc).splitlines()[0]) from None
    if info.type.name == "NotFound":
        raise ProbeFailure("not_found", f"bucket {bucket_prefix.split('/', 1)[0]} does not exist")
    return f"S3 bucket at {cfg.endpoint_url or 'AWS'}"


S3_REASONS: list[tuple[str, Reason]] = [
    ("Couldn't resolve host", "host_not_found"),
    ("Connection refused", "connection_refused"),
    ("Couldn't connect", "connection_refused"),
    ("InvalidAccessKeyId", "authentication_failed"),
    ("SignatureDoesNotMatch", "authentication_failed"),
    ("AccessDenied", "authentication_failed"),
    ("SSL", "tls_error"),
    ("timed out", "timeout"),
]


LIBPQ_DRIVERS = ("psycopg", "psycopg2")


def _database_file(backend: str, database: str | None) -> str:
    """A SQLite or DuckDB URL names a file of the service's machine: opened read-only
    (drivers would create a missing one, anywhere the service may write), never run."""
    import sqlite3

    path = database or ":memory:"
    if path != ":memory:" and not Path(path).is_file():
        raise ProbeFailure("not_found", f"{backend} file {path} does not exist")
    if backend == "duckdb":
        return _duckdb(DuckDBConfig(path=path, read_only=True), 0)
    target = ":memory:" if path == ":memory:" else f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(target, uri=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise ProbeFailure("error", str(exc)) from None
    return f"sqlite {sqlite3.sqlite_version}"


def _sqlalchemy(cfg: SqlAlchemyConfig, timeout: float) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(cfg.url)
    if url.get_backend_name() in FILE_BACKENDS:
        return _database_file(url.get_backend_name(), url.database)
    if cfg.password:
        url = url.set(password=cfg.password.get_secret_value())
    connect_args = {}
    if cfg._address and cfg._address.strip(",") and url.get_driver_name() in LIBPQ_DRIVERS:
        connect_args["hostaddr"] = cfg._address  # libpq connects to what the policy checked
    try:
        engine = create_engine(url, connect_args=connect_args)
    except ImportError as exc:  # the dialect's driver is not installed on the server
        raise ProbeFailure("error", f"no driver for {url.drivername} here: {exc}") from None
    try:
        with engine.connect() as conn:
            info = conn.dialect.server_version_info
        version = ".".join(str(part) for part in info) if info else "?"
        return f"{engine.dialect.name} {version}"
    except SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise ProbeFailure(classify(message, PG_REASONS), message) from None
    finally:
        engine.dispose()


def _superset(cfg: SupersetConfig, timeout: float) -> str:
    from ..superset.client import SupersetClient, SupersetError

    try:
        client = SupersetClient(cfg, timeout=timeout).login()
        return f"Superset {client.version()}"
    except SupersetError as exc:
        text = str(exc)
        reason: Reason = "authentication_failed" if "refused the login" in text else "error"
        if "cannot reach" in text:
            reason = classify(text, S3_REASONS)
        raise ProbeFailure(reason, text) from None


def _ocr(cfg: OcrConfig, timeout: float) -> str:
    """The offline engine: its package is there; a service: its host answers a connect."""
    if cfg.engine == "rapidocr":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')} (offline)"
        except PackageNotFoundError:
            raise ProbeFailure(
                "error", "rapidocr-onnxruntime is not installed on the workbench server"
            ) from None
    conn = http_connection(str(cfg.url), cfg._address, timeout)
    try:
        conn.connect()
    except OSError as exc:
        raise ProbeFailure("connection_refused", f"OCR service {cfg.url}: {exc}") from None
    finally:
        conn.close()
    return f"OCR service at {cfg.url}"


def _embedding(cfg: EmbeddingConfig, timeout: float) -> str:
    """One text embedded, once (no retry): the URL, the key and the model all work."""
    from ..errors import WorkbenchError
    from ..rag.embeddings import EmbeddingClient

    client = EmbeddingClient("test", cfg.model_copy(update={"timeout_s": timeout}), attempts=1)
    try:
        (vector,) = client.embed(["connection test"])
    except WorkbenchError as exc:
        text = str(exc).replace(f"{client._what} ", f"embeddings API {client.url} ")
        reason: Reason = "error"
        if "HTTP 401" in text or "HTTP 403" in text:
            reason = "authentication_failed"
        elif "HTTP 404" in text:
            reason = "not_found"
        elif "no answer" in text:
            reason = classify(text, S3_REASONS)
        raise ProbeFailure(reason, text) from None
    return f"{cfg.model} ({len(vector)} dimensions) at {cfg.url}"


PROBES: dict[str, Callable[..., str | tuple[str, str | None]]] = {
    "postgres": _postgres,
    "odoo": _odoo,
    "duckdb": _duckdb,
    "lake": _lake,
    "sqlalchemy": _sqlalchemy,
    "superset": _superset,
    "ocr": _ocr,
    "embedding": _embedding,
}


def _checked_probe(
    name: str, settings: KindConfig, timeout: float, policy: EgressPolicy
) -> str | tuple[str, str | None]:
    try:
        pinned = pin(name, settings, policy)
    except UnknownHostError as exc:
        raise ProbeFailure("host_not_found", str(exc)) from None
    return PROBES[settings.kind](pinned, timeout)  # type: ignore[attr-defined]


async def probe(
    name: str, settings: KindConfig, timeout: float = 10.0, policy: EgressPolicy | None = None
) -> TestResult:
    """Test a connection; never raises, always answers within about ``timeout`` seconds.

    ``policy`` decides which hosts may be reached (default: the one of
    ``WORKBENCH_EGRESS_DENY``/``WORKBENCH_EGRESS_ALLOW``).
    """
    started = time.perf_counter()
    policy = policy or EgressPolicy.from_env()
    try:
        found = await asyncio.wait_for(
            asyncio.to_thread(_checked_probe, name, settings, timeout, policy), timeout
        )
        version, replication = found if isinstance(found, tuple) else (found, None)
    except NetworkPolicyError as exc:  # the same answer for open, closed and silent ports
        return TestResult(ok=False, connection=name, reason="denied", message=str(exc))
    except TimeoutError:
        return TestResult(
            ok=False,
            connection=name,
            reason="timeout",
            message=f"connection {name!r}: no answer within {timeout:g} s",
        )
    except ProbeFailure as exc:
        return TestResult(
            ok=False, connection=name, reason=exc.reason, message=f"connection {name!r}: {exc}"
        )
    except (OSError, ssl.SSLError, socket.gaierror, xmlrpc.client.Error) as exc:
        return TestResult(
            ok=False, connection=name, reason="error", message=f"connection {name!r}: {exc}"
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    return TestResult(
        ok=True,
        connection=name,
        server_version=version,
        latency_ms=latency,
        message=f"connection {name!r}: {version}, {latency:g} ms",
        replication=replication,
    )
