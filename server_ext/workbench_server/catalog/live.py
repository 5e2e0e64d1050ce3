"""A table's freshness as the catalog knows it now: its version and last write.

The cheap read behind the panel's live freshness: one permission check and one row,
no lake access. Pipelines keep it current as they commit (a cdc step after every
batch, see ``workbench_pipelines.ingest.changes``); scans keep it for everything else.
"""

from __future__ import annotations

from pydantic import BaseModel

from .access import CatalogAccess


class TableFreshness(BaseModel):
    """When a table was last written, and its version then (a lake table's)."""

    id: int
    version: int | None = None
    versions: int | None = None
    last_write: str | None = None
    last_writer: str | None = None
    last_operation: str | None = None
    row_estimate: int | None = None


def freshness(access: CatalogAccess, table_id: int) -> TableFreshness:
    """The table's freshness; "not found" for a table the principal may not see."""
    with access.workbench.sessions() as session:
        row, _ = access.row(session, table_id)
        extra = row.extra or {}

        def num(key: str) -> int | None:
            value = extra.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def text(key: str) -> str | None:
            value = extra.get(key)
            return value if isinstance(value, str) else None

        return TableFreshness(
            id=row.id,
            version=num("version"),
            versions=num("versions"),
            last_write=text("last_write"),
            last_writer=_shown(access, text("last_writer")),
            last_operation=text("last_operation"),
            row_estimate=row.row_estimate,
        )


def _shown(access: CatalogAccess, writer: str | None) -> str | None:
    """The last writer as the principal may read it (see pipelines/visibility.py)."""
    if writer is None or access.principal.admin:
        return writer
    from ..pipelines.visibility import WriterVisibility

    return WriterVisibility(access.workbench, access.principal).writer_text(writer)
