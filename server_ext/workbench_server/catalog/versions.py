"""A lake table's versions as one principal sees them: who wrote it, when and how.

Only a table the principal may see has versions to list (any other is "not found"), and
only a Delta table of a lake's layers has them: the lake library reads them from its log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFoundError
from ..lake_layout import LAYERS
from .access import CatalogAccess
from .default_lake import lake_location

if TYPE_CHECKING:
    from ..lake import TableVersion


def versions(
    access: CatalogAccess, table_id: int, limit: int = 100, before: int | None = None
) -> list[TableVersion]:
    """Up to ``limit`` versions of the table, newest first (below ``before`` if given)."""
    with access.workbench.sessions() as session:
        row, connections = access.row(session, table_id)
        connection = connections[row.connection_id]
        schema, name, dropped = row.schema_name, row.name, row.dropped_at
    shown = f"{schema}.{name}"
    if connection.kind != "lake":
        raise NotFoundError(
            f"{shown} is a table of {connection.kind} connection {connection.name!r}: "
            "only lake tables have versions"
        )
    if dropped is not None:
        raise NotFoundError(f"{shown} was dropped from {connection.name!r}")
    if schema not in LAYERS:
        raise NotFoundError(
            f"{shown} is outside the lake's layers ({', '.join(LAYERS)}): its versions "
            "are not listed"
        )
    from ..lake import Lake, LakeSettings, TableName
    from ..pipelines.visibility import WriterVisibility

    lake = Lake(lake_location(access, connection), LakeSettings())
    found = lake.versions(TableName.parse(shown), limit=limit, before=before)
    return WriterVisibility(access.workbench, access.principal).versions(found)
