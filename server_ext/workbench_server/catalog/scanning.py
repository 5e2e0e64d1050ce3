"""Scanning: discover a connection's tables and merge them into the catalog.

Discovery happens before anything is written: a source that cannot be read leaves the
catalog as it was, and the scan is recorded as failed with the reason. The merge itself
is :func:`.store.merge`, in one transaction.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from ..connections.egress import EgressPolicy
from ..connections.service import ConnectionService
from ..db.models import CatalogScan, CatalogTable
from ..errors import InvalidInputError, SourceUnavailableError
from ..lake.location import DEFAULT_LAKE
from . import snapshot
from .access import CatalogAccess
from .default_lake import ensure_default_lake, lake_location
from .discovered import Discovery, gc_paused
from .models import ScanOut, SourceOut
from .pii import PiiRules
from .store import merge

SCANNABLE = ("postgres", "duckdb", "lake", "odoo")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Longer than any scan may run (the worker's activity allows 30 minutes).
STALE_SCAN = timedelta(hours=1)


def scan_out(row: CatalogScan, connection: str) -> ScanOut:
    values = {k: getattr(row, k) for k in ScanOut.model_fields if k != "connection"}
    return ScanOut(**values, connection=connection)


def sources(access: CatalogAccess) -> list[SourceOut]:
    """Every connection the principal may use, with its catalog's size and last scan; the
    default lake among them (as the built-in connection ``lake``)."""
    ensure_default_lake(access.workbench)
    connections = access.connections()
    with access.workbench.sessions() as session:
        counts = dict(
            session.execute(
                select(CatalogTable.connection_id, func.count())
                .where(CatalogTable.dropped_at.is_(None))
                .group_by(CatalogTable.connection_id)
            ).all()
        )
        last = {
            r.connection_id: r
            for r in session.scalars(
                select(CatalogScan).where(
                    CatalogScan.id.in_(
                        select(func.max(CatalogScan.id)).group_by(CatalogScan.connection_id)
                    )
                )
            )
        }
        return [
            SourceOut(
                connection=c.name,
                kind=c.kind,
                scannable=c.kind in SCANNABLE,
                tables=counts.get(c.id, 0),
                last_scan=scan_out(last[c.id], c.name) if c.id in last else None,
            )
            for c in sorted(connections.values(), key=lambda c: c.name)
        ]


def scan(
    access: CatalogAccess,
    name: str,
    timeout: float = 60.0,
    interrupted_before: datetime | None = None,
    tables: list[str] | None = None,
) -> ScanOut:
    """Discover the connection now and merge it into the catalog.

    ``tables`` (``layer.name``, of a lake source only): discover just those, e.g. after a
    write, and leave the rest of the catalog as it is; one named that no longer exists
    is marked dropped."""
    workbench = access.workbench
    only = _named_tables(tables) if tables is not None else None
    if name == DEFAULT_LAKE:
        ensure_default_lake(workbench)
    connection = access.connection(name)
    if connection.kind not in SCANNABLE:
        raise InvalidInputError(
            f"connection {name!r} is a {connection.kind} connection; the catalog can "
            f"scan {', '.join(SCANNABLE)} connections"
        )
    if only is not None and connection.kind != "lake":
        raise InvalidInputError(
            f"tables: only a lake's tables can be scanned one by one; {name!r} is a "
            f"{connection.kind} connection"
        )
    settings = ConnectionService(workbench, access.principal).resolve(name)
    # A scan whose process died stays "running"; once it is older than any scan may
    # take (or its worker is known to be gone), it is marked as interrupted.
    stale = interrupted_before or datetime.now(UTC) - STALE_SCAN
    with workbench.sessions.begin() as session:
        session.execute(
            update(CatalogScan)
            .where(
                CatalogScan.connection_id == connection.id,
                CatalogScan.status == "running",
                CatalogScan.started_at < stale,
            )
            .values(
                status="interrupted",
                finished_at=datetime.now(UTC),
                error="the process running this scan stopped before it finished",
            )
        )
        first = not session.scalar(
            select(func.count())
            .select_from(CatalogScan)
            .where(
                CatalogScan.connection_id == connection.id,
                CatalogScan.status == "succeeded",
            )
        )
        row = CatalogScan(
            connection_id=connection.id,
            status="running",
            requested_by=access.principal.name,
            stats={},
        )
        session.add(row)
        session.flush()
        scan_id = row.id
        # What the catalog holds, so that a source can skip building what did not change.
        known = {
            (schema, table): fingerprint
            for schema, table, fingerprint in session.execute(
                select(CatalogTable.schema_name, CatalogTable.name, CatalogTable.fingerprint).where(
                    CatalogTable.connection_id == connection.id,
                    CatalogTable.dropped_at.is_(None),
                )
            )
        }
    pii = PiiRules.from_settings(workbench.settings)
    try:
        with gc_paused():  # tens of thousands of small objects, built and compared
            if connection.kind == "lake":
                found = discover_lake_source(access, connection, pii, only)
            else:
                found = discover(name, settings, timeout, known, access.egress, pii)
    except SourceUnavailableError as exc:  # the network policy's refusal included
        _finish(access, scan_id, "failed", error=str(exc))
        raise
    with workbench.sessions.begin() as session, gc_paused():
        stats = merge(session, connection.id, scan_id, found, first, only)
        row = session.get(CatalogScan, scan_id)
        row.status, row.finished_at = "succeeded", datetime.now(UTC)
        row.stats = {
            "tables": stats.tables,
            "columns": stats.columns,
            "changes": stats.changes,
            "queries": found.queries,
            "odoo": found.odoo,
        }
        if only is not None:
            row.stats["only"] = sorted(f"{layer}.{table}" for layer, table in only)
    snapshot.changed(workbench)
    return scans(access, name, limit=1)[0]


MAX_NAMED = 1000  # tables one scan may name


def _named_tables(tables: list[str]) -> set[tuple[str, str]]:
    """``layer.name`` -> (layer, name); one clear error for anything else."""
    if not tables or len(tables) > MAX_NAMED:
        raise InvalidInputError(f"tables: name 1 to {MAX_NAMED} tables as layer.name")
    out = set()
    for table in tables:
        layer, dot, name = table.partition(".")
        if not dot or not re.fullmatch(r"[a-z]+", layer) or not NAME.fullmatch(name):
            raise InvalidInputError(
                f"tables: {table[:80]!r} is not a lake table name (layer.name, e.g. "
                "silver.invoices)"
            )
        out.add((layer, name))
    return out


def discover_lake_source(
    access: CatalogAccess,
    connection: Any,
    pii: PiiRules,
    only: set[tuple[str, str]] | None = None,
) -> Discovery:
    """The default lake's or a lake connection's tables (see :mod:`.lake`), or only the
    ``(layer, name)`` ones in ``only``."""
    from ..connections.egress import UnknownHostError
    from .lake import LakeUnavailable, discover_lake

    try:
        location = lake_location(access, connection)  # the network policy's refusal too
        return discover_lake(location, pii, only)
    except (LakeUnavailable, UnknownHostError) as exc:
        raise SourceUnavailableError(f"cannot scan connection {connection.name!r}: {exc}") from None


def discover(
    name: str,
    settings: Any,
    timeout: float,
    known: dict[tuple[str, str], str],
    egress: EgressPolicy,
    pii: PiiRules,
) -> Discovery:
    """Read the source; what makes it unreadable becomes one line naming the cause."""
    import psycopg

    from ..connections.egress import UnknownHostError, pin
    from ..connections.odoo import OdooError
    from .duckdb import DuckDBUnavailable, discover_duckdb
    from .odoo_api import discover_odoo_api
    from .postgres import discover_postgres

    try:
        settings = pin(name, settings, egress)
        if settings.kind == "odoo":
            return discover_odoo_api(settings, timeout, pii)
        if settings.kind == "duckdb":
            return discover_duckdb(settings, pii)
        return discover_postgres(settings, timeout, known, pii)
    except OdooError as exc:
        reason = exc.reason.replace("_", " ")
        raise SourceUnavailableError(f"cannot scan connection {name!r}: {reason}: {exc}") from None
    except (DuckDBUnavailable, UnknownHostError) as exc:
        raise SourceUnavailableError(f"cannot scan connection {name!r}: {exc}") from None
    except psycopg.Error as exc:
        raise unavailable("scan connection", name, exc) from None


def _finish(access: CatalogAccess, scan_id: int, status: str, error: str | None = None) -> None:
    with access.workbench.sessions.begin() as session:
        row = session.get(CatalogScan, scan_id)
        row.status, row.finished_at, row.error = status, datetime.now(UTC), error


def scans(access: CatalogAccess, name: str, limit: int = 20) -> list[ScanOut]:
    """The connection's latest scans, newest first."""
    connection = access.connection(name)
    with access.workbench.sessions() as session:
        rows = session.scalars(
            select(CatalogScan)
            .where(CatalogScan.connection_id == connection.id)
            .order_by(CatalogScan.id.desc())
            .limit(limit)
        )
        return [scan_out(r, name) for r in rows]


def unavailable(action: str, connection: str, exc: Exception) -> SourceUnavailableError:
    """A one-line reason from a driver error: "cannot scan connection 'x': host not found: …"."""
    from ..connections.probes import PG_REASONS, classify

    text = str(exc).strip()
    # libpq's first line names the server ('connection to server at "h", port p failed:
    # Connection refused'); a tab-indented hint may follow ("Is the server running on that
    # host...?"), and a query's error is followed by its LINE and caret: the first line
    # says which and why, the hint is kept beside it.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = lines[0].removeprefix("connection failed: ") if lines else type(exc).__name__
    hint = next((line for line in lines[1:] if line.startswith(("Is the server", "HINT:"))), None)
    if hint is not None:
        message = f"{message} ({hint.rstrip('.?')})"
    reason = classify(text, PG_REASONS)
    prefix = f"cannot {action} {connection!r}"
    if reason == "error":
        return SourceUnavailableError(f"{prefix}: {message}")
    return SourceUnavailableError(f"{prefix}: {reason.replace('_', ' ')}: {message}")
