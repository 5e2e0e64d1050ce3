"""How often people query each table (through ``%sql`` and pipelines): search ranks used
tables up. Usage is a hint, never an error."""

from __future__ import annotations

from sqlalchemy import or_, update

from ..db.models import CatalogTable
from . import snapshot
from .access import CatalogAccess


def record_usage(
    access: CatalogAccess, connection: str, tables: list[tuple[str | None, str]], count: int = 1
) -> int:
    """Count a query over ``tables`` of ``connection``; returns how many tables matched.

    A table named without its schema counts for every schema that has it. Unknown
    connections and tables are ignored.
    """
    found = next((c for c in access.connections().values() if c.name == connection), None)
    if found is None or not tables:
        return 0
    conditions = [
        (CatalogTable.name == name)
        if schema is None
        else ((CatalogTable.name == name) & (CatalogTable.schema_name == schema))
        for schema, name in tables[:50]
    ]
    with access.workbench.sessions.begin() as session:
        result = session.execute(
            update(CatalogTable)
            .where(CatalogTable.connection_id == found.id, or_(*conditions))
            .values(usage_count=CatalogTable.usage_count + count)
        )
        counted = result.rowcount or 0
    if counted:
        snapshot.usage_changed(access.workbench)
    return counted
