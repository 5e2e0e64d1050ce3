"""Who may see what in the catalog: the connections one principal may use, and their tables.

Every read of the catalog goes through :class:`CatalogAccess`: a table of a connection
the principal may not use is "not found", so names of private connections do not leak.
Pii-tagged values are for a connection's owner, admins and the ``pii-readers`` group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..connections.egress import EgressPolicy
from ..connections.service import usable_by
from ..db.models import CatalogTable, Connection
from ..errors import NotFoundError
from ..principal import Principal
from .models import TableOut

if TYPE_CHECKING:
    from ..core import Workbench

# Members of this group (besides a connection's owner and admins) see pii-tagged values.
PII_READERS = "pii-readers"


class CatalogAccess:
    """The catalog's permission checks for one principal of one installation."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    def connections(self) -> dict[int, Connection]:
        """Every connection the principal may use, by id."""
        with self.workbench.sessions() as session:
            rows = session.scalars(select(Connection))
            return {c.id: c for c in rows if usable_by(self.principal, c)}

    def connection(self, name: str) -> Connection:
        found = next((c for c in self.connections().values() if c.name == name), None)
        if found is None:
            raise NotFoundError(f"no connection named {name!r}")
        return found

    def row(self, session: Any, table_id: int) -> tuple[CatalogTable, dict[int, Connection]]:
        """The table's row, and the usable connections; "not found" for any other table."""
        connections = self.connections()
        row = session.get(CatalogTable, table_id)
        if row is None or row.connection_id not in connections:
            raise NotFoundError(f"no catalog table {table_id}")
        return row, connections

    def may_see_pii(self, connection: Connection) -> bool:
        p = self.principal
        return p.admin or p.name == connection.owner or PII_READERS in p.groups

    @property
    def egress(self) -> EgressPolicy:
        """Where scans and previews may connect for the principal (see connections.egress)."""
        return EgressPolicy.from_settings(self.workbench.settings)


def table_out(row: CatalogTable, connections: dict[int, Connection]) -> TableOut:
    values = {k: getattr(row, k) for k in TableOut.model_fields if k != "connection"}
    return TableOut(**values, connection=connections[row.connection_id].name)
