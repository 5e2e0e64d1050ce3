"""Previews as one principal sees them: the first rows of a table, pii values masked.

Reading the rows is the sources' business (:mod:`.preview`, :mod:`.lake`,
:mod:`.odoo_api`); this decides which columns a principal may see in clear.
"""

from __future__ import annotations

from sqlalchemy import select

from ..connections.service import ConnectionService
from ..db.models import CatalogColumn
from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from .access import PII_READERS, CatalogAccess
from .default_lake import lake_location
from .models import PreviewColumn, PreviewOut
from .pii import PiiRules
from .scanning import SCANNABLE, unavailable

MASK = "•••"


def preview(
    access: CatalogAccess,
    table_id: int,
    limit: int = 100,
    max_bytes: int = 1_000_000,
    timeout_s: float = 5.0,
    version: int | None = None,
) -> PreviewOut:
    """The first rows, read-only and bounded; pii values masked unless allowed.

    ``version``: a lake table's rows as of that version of its Delta table."""
    import duckdb
    import psycopg

    from ..connections.egress import UnknownHostError, pin
    from ..connections.odoo import OdooError
    from .lake import LakeUnavailable, preview_lake
    from .odoo_api import UNPREVIEWABLE, preview_odoo_api
    from .preview import preview_duckdb, preview_postgres

    with access.workbench.sessions() as session:
        row, connections = access.row(session, table_id)
        connection = connections[row.connection_id]
        schema, name = row.schema_name, row.name
        known = list(
            session.scalars(
                select(CatalogColumn)
                .where(CatalogColumn.table_id == table_id, CatalogColumn.dropped_at.is_(None))
                .order_by(CatalogColumn.position)
            )
        )
        pii = {c.name for c in known if "pii" in {*(c.tags or []), *(c.auto_tags or [])}}
        columns = [(c.name, c.data_type) for c in known]
    if connection.kind not in SCANNABLE:
        raise InvalidInputError(f"previews of {connection.kind} connections are not available")
    if row.dropped_at is not None:
        raise NotFoundError(f"{schema}.{name} was dropped from {connection.name!r}")
    if version is not None and connection.kind != "lake":
        raise InvalidInputError(
            f"{schema}.{name} is a table of {connection.kind} connection "
            f"{connection.name!r}: only lake tables have versions to preview"
        )
    try:
        if connection.kind == "lake":
            location = lake_location(access, connection)  # checked like any connection
            found = preview_lake(location, schema, name, limit, max_bytes, timeout_s, version)
        else:
            settings = ConnectionService(access.workbench, access.principal).resolve(
                connection.name
            )
            settings = pin(connection.name, settings, access.egress)
            if connection.kind == "odoo":
                readable = [c for c, t in columns if t not in UNPREVIEWABLE]
                found = preview_odoo_api(settings, name, readable, limit, timeout_s * 4)
            elif connection.kind == "duckdb":
                found = preview_duckdb(settings, schema, name, limit, max_bytes, timeout_s)
            else:
                found = preview_postgres(settings, schema, name, limit, max_bytes, timeout_s)
    except UnknownHostError as exc:
        raise SourceUnavailableError(
            f"cannot preview a table of {connection.name!r}: {exc}"
        ) from None
    except (psycopg.Error, duckdb.Error, OSError, LakeUnavailable, OdooError) as exc:
        raise unavailable("preview a table of", connection.name, exc) from None
    if not access.may_see_pii(connection):
        # A column the source gained since its last scan is not in the catalog yet:
        # the scan's own rules decide whether it is masked.
        rules = PiiRules.from_settings(access.workbench.settings)
        scanned = {column for column, _ in columns}
        table_name = name.replace(".", "_")
        pii |= {
            column
            for column, _ in found.columns
            if column not in scanned and rules.tags(table_name, column)
        }
    masked = set() if access.may_see_pii(connection) else pii
    positions = [i for i, (column, _) in enumerate(found.columns) if column in masked]
    for values in found.rows:
        for i in positions:
            if values[i] is not None:
                values[i] = MASK
    notes = list(found.notes)
    if positions:
        notes.append(
            f"{len(positions)} column(s) tagged pii are masked; ask the connection's owner "
            f"for the {PII_READERS!r} group to see them"
        )
    return PreviewOut(
        table=f"{schema}.{name}",
        columns=[
            PreviewColumn(name=column, type=type_, masked=column in masked)
            for column, type_ in found.columns
        ],
        rows=found.rows,
        notes=notes,
        elapsed_ms=round(found.elapsed_ms, 1),
        version=version,
    )
